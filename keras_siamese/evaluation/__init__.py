"""Evaluation: sentence-embedding metrics as Keras callbacks, also callable on an encoder."""

from keras_siamese import backend  # noqa: F401  (selects the TensorFlow backend first)

# isort: split
from keras_siamese.evaluation.binary_classification import BinaryClassificationEvaluator
from keras_siamese.evaluation.evaluator import Encoder, Evaluator
from keras_siamese.evaluation.information_retrieval import InformationRetrievalEvaluator
from keras_siamese.evaluation.label_accuracy import LabelAccuracyEvaluator
from keras_siamese.evaluation.mse import MSEEvaluator
from keras_siamese.evaluation.paraphrase_mining import ParaphraseMiningEvaluator
from keras_siamese.evaluation.reranking import RerankingEvaluator
from keras_siamese.evaluation.sequential import SequentialEvaluator
from keras_siamese.evaluation.sts import STSEvaluator
from keras_siamese.evaluation.translation import TranslationEvaluator
from keras_siamese.evaluation.triplet import TripletEvaluator

__all__ = [
    "BinaryClassificationEvaluator",
    "Encoder",
    "Evaluator",
    "InformationRetrievalEvaluator",
    "LabelAccuracyEvaluator",
    "MSEEvaluator",
    "ParaphraseMiningEvaluator",
    "RerankingEvaluator",
    "STSEvaluator",
    "SequentialEvaluator",
    "TranslationEvaluator",
    "TripletEvaluator",
]
