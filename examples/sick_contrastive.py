"""SICK entailment (1) vs contradiction (0) pairs with ContrastiveLoss.

Reports SICK TRIAL relatedness Spearman and entailment-vs-contradiction accuracy before and after.

    python examples/sick_contrastive.py
"""

from common import parse_args, train_and_report

from keras_siamese.data import read_sick, sick_binary_pairs
from keras_siamese.encoders import SentenceEncoder
from keras_siamese.training.recipes import development_evaluators

args = parse_args(__doc__, "sick_contrastive")
sick = args.data / "sick" / "SICK_train_trial.txt"
train = sick_binary_pairs(read_sick(sick, "TRAIN", label="entailment"))  # (text_a, text_b, 0/1)
evaluators = development_evaluators(sick, "sick")
train_and_report(
    args, SentenceEncoder.from_pretrained(args.model), train, "contrastive", evaluators
)
