"""From token embeddings to a sentence embedding: pooling, dense projections, normalisation."""

from keras_siamese import backend  # noqa: F401  (selects the TensorFlow backend first)

# isort: split
from keras_siamese.pooling.dense_projection import DenseProjection
from keras_siamese.pooling.normalize import Normalize
from keras_siamese.pooling.pooling import POOLING_MODES, Pooling

__all__ = ["POOLING_MODES", "DenseProjection", "Normalize", "Pooling"]
