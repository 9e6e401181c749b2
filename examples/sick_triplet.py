"""SICK triplets (anchor, entailed, contradicted sentence) with TripletLoss.

Reports SICK TRIAL relatedness Spearman and entailment-vs-contradiction accuracy before and after.

    python examples/sick_triplet.py
"""

from common import parse_args, train_and_report

import keras_siamese as ks
from keras_siamese.training.recipes import development_evaluators

args = parse_args(__doc__, "sick_triplet")
sick = args.data / "sick" / "SICK_train_trial.txt"
train = ks.data.sick_triplets(ks.data.read_sick(sick, "TRAIN", label="entailment"), seed=args.seed)
evaluators = development_evaluators(sick, "sick", limit=args.limit)
loss = ks.losses.TripletLoss()  # euclidean distance, margin 5
train_and_report(args, ks.SentenceEncoder.from_pretrained(args.model), train, loss, evaluators)
