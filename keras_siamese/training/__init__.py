"""Training defaults and the ``fit`` entry point for siamese training with ``model.fit``."""

from keras_siamese import backend  # noqa: F401  (selects the TensorFlow backend first)

# isort: split
from keras_siamese.training.config import TrainingConfig
from keras_siamese.training.history import save_history
from keras_siamese.training.keep_best import KeepBest
from keras_siamese.training.schedule import WarmupLinearDecay
from keras_siamese.training.trainer import check_examples, fit, make_optimizer

__all__ = [
    "KeepBest",
    "TrainingConfig",
    "WarmupLinearDecay",
    "check_examples",
    "fit",
    "make_optimizer",
    "save_history",
]
