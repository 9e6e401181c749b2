"""``SentenceEncoder``: a transformer backbone, pooling, projections and normalisation."""

from keras_siamese import backend  # noqa: F401  (selects the TensorFlow backend first)

# isort: split
from keras_siamese.checkpoints.presets import DEFAULT_MODEL, PRESETS, resolve_model_path
from keras_siamese.encoders.layer_reduction import layer_reduced
from keras_siamese.encoders.sentence_encoder import SentenceEncoder

__all__ = ["DEFAULT_MODEL", "PRESETS", "SentenceEncoder", "layer_reduced", "resolve_model_path"]
