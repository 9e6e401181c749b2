"""keras-siamese: siamese sentence embeddings in Keras 3, exported for TF Serving and TFLite."""

from keras_siamese import backend as _backend  # noqa: F401  (selects the TensorFlow backend first)

__version__ = "0.1.0"
