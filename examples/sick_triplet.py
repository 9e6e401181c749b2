"""SICK triplets (anchor, entailed, contradicted sentence) with TripletLoss.

Reports SICK TRIAL relatedness Spearman and entailment-vs-contradiction accuracy before and after.

    python examples/sick_triplet.py
"""

from common import parse_args, train_and_report

from keras_siamese.data import read_sick, sick_triplets
from keras_siamese.encoders import SentenceEncoder
from keras_siamese.training.recipes import development_evaluators

args = parse_args(__doc__, "sick_triplet")
sick = args.data / "sick" / "SICK_train_trial.txt"
train = sick_triplets(read_sick(sick, "TRAIN", label="entailment"), seed=args.seed)
evaluators = development_evaluators(sick, "sick")
train_and_report(args, SentenceEncoder.from_pretrained(args.model), train, "triplet", evaluators)
