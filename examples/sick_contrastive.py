"""SICK entailment (1) vs contradiction (0) pairs with ContrastiveLoss.

Reports SICK TRIAL relatedness Spearman and entailment-vs-contradiction accuracy before and after.

    python examples/sick_contrastive.py
"""

from common import parse_args, train_and_report

import keras_siamese as ks
from keras_siamese.training.recipes import development_evaluators

args = parse_args(__doc__, "sick_contrastive")
sick = args.data / "sick" / "SICK_train_trial.txt"
pairs = ks.data.read_sick(sick, "TRAIN", label="entailment")
train = ks.data.sick_binary_pairs(pairs)  # (text_a, text_b, 0/1)
evaluators = development_evaluators(sick, "sick", limit=args.limit)
loss = ks.losses.ContrastiveLoss()  # cosine distance, margin 0.5, as sentence-transformers
train_and_report(args, ks.SentenceEncoder.from_pretrained(args.model), train, loss, evaluators)
