"""MultipleNegativesRankingLoss on SICK entailment pairs (in-batch negatives, no duplicates).

Reports SICK TRIAL relatedness Spearman and entailment-vs-contradiction accuracy before and after.

    python examples/sick_mnrl.py
"""

from common import parse_args, train_and_report

import keras_siamese as ks
from keras_siamese.training.recipes import development_evaluators, load_training_examples

args = parse_args(__doc__, "sick_mnrl")
sick = args.data / "sick" / "SICK_train_trial.txt"
train = load_training_examples(sick, "sick", "mnrl")  # (anchor, positive): entailed pairs
evaluators = development_evaluators(sick, "sick", limit=args.limit)
loss = ks.losses.MultipleNegativesRankingLoss()  # cosine, scale 20
train_and_report(args, ks.SentenceEncoder.from_pretrained(args.model), train, loss, evaluators)
