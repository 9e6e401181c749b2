"""Production export: SavedModels for TF Serving (raw strings in) and TFLite files for phones.

>>> from keras_siamese.export import saved_model, tflite  # doctest: +SKIP
>>> saved_model(encoder, "models/minilm")  # doctest: +SKIP
PosixPath('models/minilm/1')
>>> tflite(encoder, "minilm.tflite", quantize="dynamic")  # doctest: +SKIP
PosixPath('minilm.tflite')
"""

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
