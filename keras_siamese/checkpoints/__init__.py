"""Checkpoints: known model names, safetensors, and the sentence-transformers folder format."""

from keras_siamese import backend  # noqa: F401  (selects the TensorFlow backend first)

# isort: split
from keras_siamese.checkpoints.presets import DEFAULT_MODEL, PRESETS, resolve_model_path
from keras_siamese.checkpoints.sentence_transformers_format import (
    SentenceTransformerParts,
    load_sentence_transformer,
    load_tokenizer,
    resolve_max_seq_length,
    save_sentence_transformer,
    save_tokenizer,
)

__all__ = [
    "DEFAULT_MODEL",
    "PRESETS",
    "SentenceTransformerParts",
    "load_sentence_transformer",
    "load_tokenizer",
    "resolve_max_seq_length",
    "resolve_model_path",
    "save_sentence_transformer",
    "save_tokenizer",
]
