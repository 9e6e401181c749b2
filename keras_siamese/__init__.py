"""keras-siamese: siamese sentence embeddings in Keras 3, exported for TF Serving and TFLite.

The public API, loaded on first use (``import keras_siamese`` alone loads nothing heavy):

>>> import keras_siamese as ks
>>> ks.SentenceEncoder.__name__, ks.losses.CoSENTLoss.registry_name
('SentenceEncoder', 'cosent')
"""

import importlib
from typing import Any

__version__ = "0.1.0"

_SUBPACKAGES = (
    "backbones",
    "checkpoints",
    "data",
    "encoders",
    "evaluation",
    "export",
    "losses",
    "pooling",
    "siamese",
    "similarity",
    "tokenizers",
    "training",
)
_NAMES = {  # top-level name -> the module that defines it
    "SentenceEncoder": "keras_siamese.encoders",
    "DEFAULT_MODEL": "keras_siamese.encoders",
    "fit": "keras_siamese.training",
    "TrainingConfig": "keras_siamese.training",
    "semantic_search": "keras_siamese.search",
    "mine_hard_negatives": "keras_siamese.mining",
    "Examples": "keras_siamese.data",
}
__all__ = ["__version__", *_SUBPACKAGES, *_NAMES]


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        return importlib.import_module(f"keras_siamese.{name}")
    if name in _NAMES:
        return getattr(importlib.import_module(_NAMES[name]), name)
    raise AttributeError(f"module 'keras_siamese' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
