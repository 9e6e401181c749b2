"""SoftmaxLoss on SICK entailment labels, the SBERT NLI recipe: a classifier on (u, v, |u - v|).

Reports SICK TRIAL relatedness Spearman, entailment-vs-contradiction accuracy and the classifier's
3-class accuracy before and after.

    python examples/sick_nli_softmax.py
"""

from common import parse_args, train_and_report

import keras_siamese as ks
from keras_siamese.data.sick import NLI_CLASS_IDS
from keras_siamese.training.recipes import development_evaluators, load_training_examples

args = parse_args(__doc__, "sick_nli_softmax")
sick = args.data / "sick" / "SICK_train_trial.txt"
loss = ks.losses.SoftmaxLoss(num_labels=3)  # contradiction 0, entailment 1, neutral 2
train = load_training_examples(sick, "sick", loss).head(args.limit)
trial = ks.data.read_sick(sick, "TRIAL", label="entailment").relabel(NLI_CLASS_IDS).head(args.limit)
encoder = ks.SentenceEncoder.from_pretrained(args.model)
loss.head(encoder.encode(["a", "b"])[None])  # builds the classifier for the first evaluation
evaluators = [
    *development_evaluators(sick, "sick", limit=args.limit),
    ks.evaluation.LabelAccuracyEvaluator.from_examples(trial, loss.classifier, name="dev_nli"),
]
train_and_report(args, encoder, train, loss, evaluators)
