"""L2 normalisation of embeddings (sentence-transformers' ``Normalize`` module)."""

import keras

from keras_siamese.similarity import l2_normalize


@keras.saving.register_keras_serializable(package="keras_siamese")
class Normalize(keras.layers.Layer):
    """Scales each embedding to unit L2 norm.

    >>> keras.ops.convert_to_numpy(Normalize()(keras.ops.array([[3.0, 4.0]])))
    array([[0.6, 0.8]], dtype=float32)
    """

    def call(self, x):
        return l2_normalize(x)

    def compute_output_shape(self, input_shape):
        return input_shape
