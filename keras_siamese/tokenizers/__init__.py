"""Tokenizers with the checkpoint's exact ids: in Python (`TextTokenizer`, Hugging Face
`tokenizers`) and in TensorFlow ops (`InGraphTokenizer`, for tf.data, tf.function and export)."""

from keras_siamese import backend  # noqa: F401  (selects the TensorFlow backend first)

# isort: split
from keras_siamese.tokenizers.in_graph_tokenizer import InGraphTokenizer
from keras_siamese.tokenizers.text_tokenizer import TextTokenizer

__all__ = ["InGraphTokenizer", "TextTokenizer"]
