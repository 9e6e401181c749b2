"""MultipleNegativesRankingLoss with mined hard negatives on SICK entailment pairs.

Mines one hard negative per (anchor, positive) pair with the model itself (ranks 3 to 30 of the
corpus of all positives, at least 0.05 below the positive's score, as sentence-transformers'
``mine_hard_negatives``), then trains on (anchor, positive, negative_1) triplets with in-batch
negatives. Reports SICK TRIAL relatedness Spearman and entailment-vs-contradiction accuracy.

    python examples/sick_mnrl_mined.py
"""

from common import parse_args, train_and_report

import keras_siamese as ks
from keras_siamese.training.recipes import development_evaluators, load_training_examples

args = parse_args(__doc__, "sick_mnrl_mined")
sick = args.data / "sick" / "SICK_train_trial.txt"
pairs = load_training_examples(sick, "sick", "mnrl").head(args.limit)  # (anchor, positive)
encoder = ks.SentenceEncoder.from_pretrained(args.model)
train = ks.mine_hard_negatives(  # n-tuple: anchor, positive, negative_1
    encoder,
    pairs,
    num_negatives=1,
    range_min=2,
    range_max=30,
    relative_margin=0.05,
    output_format="n-tuple",
)
print(f"mined {len(train)} (anchor, positive, negative) triplets from {len(pairs)} pairs")
evaluators = development_evaluators(sick, "sick", limit=args.limit)
train_and_report(args, encoder, train, ks.losses.MultipleNegativesRankingLoss(), evaluators)
