"""Dense projection after pooling (sentence-transformers' ``Dense`` module)."""

import keras

from keras_siamese import backend as _backend  # noqa: F401


@keras.saving.register_keras_serializable(package="keras_siamese")
class DenseProjection(keras.layers.Dense):
    """A ``keras.layers.Dense`` that stands for sentence-transformers' ``Dense`` module (its
    folders are read and written by ``keras_siamese.checkpoints.sentence_transformers_format``).

    >>> layer = DenseProjection(4, activation="tanh")
    >>> tuple(layer(keras.ops.ones((2, 8))).shape)
    (2, 4)
    """
