"""Backend guard: keras-siamese runs on Keras 3 with the TensorFlow backend."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras

if keras.backend.backend() != "tensorflow":
    raise ImportError(
        "keras-siamese needs the TensorFlow backend of Keras 3 (tokenisation and export run in "
        f"TensorFlow graphs); KERAS_BACKEND is {keras.backend.backend()!r}. "
        "Set KERAS_BACKEND=tensorflow."
    )
