"""Tokenizers: the checkpoint's own (Python) and an in-graph tensorflow-text one, same ids."""

from keras_siamese.tokenizers.text_tokenizer import TextTokenizer

__all__ = ["TextTokenizer"]
