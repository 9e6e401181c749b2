"""Distillation: a 3-layer student of all-MiniLM-L6-v2 learns the teacher's embeddings (MSELoss).

The student keeps the teacher's embeddings and blocks 0, 2 and 4 (sentence-transformers'
layer-reduction recipe); the teacher embeds every STSb train sentence once, and the student
regresses on those vectors. Reports STSb dev Spearman and the MSE to the teacher on STSb dev.

    python examples/distill_mse.py
"""

from common import parse_args, train_and_report

import keras_siamese as ks

args = parse_args(__doc__, "distill_mse")
teacher = ks.SentenceEncoder.from_pretrained(args.model)
student = ks.encoders.layer_reduced(teacher, [0, 2, 4])
stsb = ks.data.read_sts(args.data / "stsb" / "sts-train.csv").head(args.limit)
sentences = list(dict.fromkeys(stsb.columns["text_a"] + stsb.columns["text_b"]))
train = ks.data.with_teacher_embeddings(ks.data.Examples({"text": sentences}), teacher)
dev_pairs = ks.data.read_sts(args.data / "stsb" / "sts-dev.csv").head(args.limit)
dev_sentences = list(dict.fromkeys(dev_pairs.columns["text_a"] + dev_pairs.columns["text_b"]))
evaluators = [
    ks.evaluation.STSEvaluator.from_examples(dev_pairs, name="sts_dev"),
    ks.evaluation.MSEEvaluator(dev_sentences, dev_sentences, teacher=teacher, name="dev_teacher"),
]
train_and_report(args, student, train, ks.losses.MSELoss(), evaluators, learning_rate=1e-4)
