"""Fine-tune all-MiniLM-L6-v2 on STS Benchmark train with CoSENTLoss; report STSb dev Spearman.

python examples/stsb_cosent.py [--epochs 1] [--batch-size 16]
"""

from common import parse_args, train_and_report

from keras_siamese.data import read_sts
from keras_siamese.encoders import SentenceEncoder
from keras_siamese.evaluation import STSEvaluator

args = parse_args(__doc__, "stsb_cosent")
train = read_sts(args.data / "stsb" / "sts-train.csv")  # (text_a, text_b, score / 5)
dev = STSEvaluator.from_examples(read_sts(args.data / "stsb" / "sts-dev.csv"), name="sts_dev")
train_and_report(args, SentenceEncoder.from_pretrained(args.model), train, "cosent", [dev])
