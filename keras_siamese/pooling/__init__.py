"""Pooling of token embeddings into sentence embeddings."""

from keras_siamese.pooling.pooling import POOLING_MODES, Pooling

__all__ = ["POOLING_MODES", "Pooling"]
