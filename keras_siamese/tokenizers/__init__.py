"""Tokenizers with the checkpoint's exact ids: in Python (`TextTokenizer`, Hugging Face
`tokenizers`: WordPiece, byte-level BPE, SentencePiece Unigram) and in TensorFlow ops
(`InGraphTokenizer` for WordPiece, `SentencePieceTokenizer` for Unigram, `ByteLevelBPETokenizer`
for byte-level BPE; `in_graph_tokenizer` picks one), for tf.data, tf.function and export."""

from keras_siamese import backend  # noqa: F401  (selects the TensorFlow backend first)

# isort: split
from keras_siamese.tokenizers.byte_level_bpe_tokenizer import ByteLevelBPETokenizer
from keras_siamese.tokenizers.in_graph import RawStringsUnavailable, in_graph_tokenizer
from keras_siamese.tokenizers.in_graph_tokenizer import InGraphTokenizer
from keras_siamese.tokenizers.sentencepiece_tokenizer import SentencePieceTokenizer
from keras_siamese.tokenizers.text_tokenizer import TextTokenizer

__all__ = [
    "ByteLevelBPETokenizer",
    "InGraphTokenizer",
    "RawStringsUnavailable",
    "SentencePieceTokenizer",
    "TextTokenizer",
    "in_graph_tokenizer",
]
