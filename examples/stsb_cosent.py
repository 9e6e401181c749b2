"""Fine-tune all-MiniLM-L6-v2 on STS Benchmark train with CoSENTLoss; report STSb dev Spearman.

python examples/stsb_cosent.py [--epochs 1] [--batch-size 16]
"""

from common import parse_args, train_and_report

import keras_siamese as ks

args = parse_args(__doc__, "stsb_cosent")
train = ks.data.read_sts(args.data / "stsb" / "sts-train.csv")  # (text_a, text_b, score / 5)
dev_pairs = ks.data.read_sts(args.data / "stsb" / "sts-dev.csv")
dev = ks.evaluation.STSEvaluator.from_examples(dev_pairs, name="sts_dev")
loss = ks.losses.CoSENTLoss()  # cosine, scale 20
train_and_report(args, ks.SentenceEncoder.from_pretrained(args.model), train, loss, [dev])
