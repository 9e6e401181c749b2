"""`in_graph_tokenizer`: the exact in-graph twin of a `TextTokenizer`, chosen by its family."""

from keras_siamese.tokenizers.byte_level_bpe_tokenizer import ByteLevelBPETokenizer
from keras_siamese.tokenizers.in_graph_tokenizer import InGraphTokenizer
from keras_siamese.tokenizers.sentencepiece_tokenizer import SentencePieceTokenizer
from keras_siamese.tokenizers.text_tokenizer import TextTokenizer

# isort: split
import keras


class RawStringsUnavailable(ValueError):
    """The tokenizer has no exact in-graph twin: no raw-string signature for it."""


def in_graph_tokenizer(tokenizer: TextTokenizer) -> keras.layers.Layer:
    """`InGraphTokenizer` for WordPiece, `SentencePieceTokenizer` for Unigram,
    `ByteLevelBPETokenizer` for byte-level BPE; a byte-level BPE pipeline it cannot reproduce
    exactly (a normaliser, BPE dropout, ...) gives a `RawStringsUnavailable` (a ValueError), with
    which exports keep the token-id signature only.

    >>> from tokenizers import Tokenizer, models, pre_tokenizers, processors
    >>> from keras_siamese.tokenizers.byte_level_bpe_tokenizer import bytes_to_unicode
    >>> tokens = ["<s>", "</s>", "<pad>", "<unk>", *bytes_to_unicode().values()]
    >>> bpe = Tokenizer(models.BPE({token: i for i, token in enumerate(tokens)}, []))
    >>> bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    >>> bpe.post_processor = processors.RobertaProcessing(("</s>", 1), ("<s>", 0))
    >>> type(in_graph_tokenizer(TextTokenizer(bpe, max_seq_length=8))).__name__
    'ByteLevelBPETokenizer'
    >>> bpe.model.dropout = 0.5
    >>> in_graph_tokenizer(TextTokenizer(bpe, max_seq_length=8))
    Traceback (most recent call last):
    ...
    keras_siamese.tokenizers.in_graph.RawStringsUnavailable: Raw-string signatures are not ...
    """
    if tokenizer.family == "wordpiece":
        return InGraphTokenizer.from_text_tokenizer(tokenizer)
    if tokenizer.family == "unigram":
        return SentencePieceTokenizer.from_text_tokenizer(tokenizer)
    try:
        return ByteLevelBPETokenizer.from_text_tokenizer(tokenizer)
    except ValueError as err:
        raise RawStringsUnavailable(
            f"Raw-string signatures are not available for this {tokenizer.family} tokenizer: {err} "
            "The token-id signature still is: tokenize with the TextTokenizer and feed input_ids "
            "/ attention_mask."
        ) from err
