"""Production export: SavedModels for TF Serving (raw strings in) and TFLite files for phones.

>>> from keras_siamese.export import saved_model, tflite
>>> saved_model(tiny_encoder, "models/tiny")  # any SentenceEncoder; a small random one here
PosixPath('models/tiny/1')
>>> tflite(tiny_encoder, "tiny.tflite", quantize="dynamic")
PosixPath('tiny.tflite')
"""

from keras_siamese import backend  # noqa: F401  (selects the TensorFlow backend first)

# isort: split
from keras_siamese.export.litert import (
    QUANTIZATIONS,
    TfliteEncoder,
    read_tflite_metadata,
    tflite,
    tflite_interpreter,
)
from keras_siamese.export.tf_serving import load_saved_model, model_versions, saved_model

__all__ = [
    "QUANTIZATIONS",
    "TfliteEncoder",
    "load_saved_model",
    "model_versions",
    "read_tflite_metadata",
    "saved_model",
    "tflite",
    "tflite_interpreter",
]
