"""`in_graph_tokenizer`: the exact in-graph twin of a `TextTokenizer`, chosen by its family."""

from keras_siamese.tokenizers.in_graph_tokenizer import InGraphTokenizer
from keras_siamese.tokenizers.sentencepiece_tokenizer import SentencePieceTokenizer
from keras_siamese.tokenizers.text_tokenizer import TextTokenizer

# isort: split
import keras


class RawStringsUnavailable(ValueError):
    """The tokenizer has no exact in-graph twin: no raw-string signature for it."""


def in_graph_tokenizer(tokenizer: TextTokenizer) -> keras.layers.Layer:
    """`InGraphTokenizer` for WordPiece, `SentencePieceTokenizer` for Unigram; for byte-level
    BPE, which has no exact in-graph twin here, a `RawStringsUnavailable` (a ValueError).

    >>> from tokenizers import Tokenizer, models, pre_tokenizers, processors
    >>> bpe = Tokenizer(models.BPE({"<s>": 0, "</s>": 1, "<pad>": 2, "<unk>": 3}, []))
    >>> bpe.pre_tokenizer = pre_tokenizers.ByteLevel()
    >>> bpe.post_processor = processors.RobertaProcessing(("</s>", 1), ("<s>", 0))
    >>> in_graph_tokenizer(TextTokenizer(bpe, max_seq_length=8))
    Traceback (most recent call last):
    ...
    keras_siamese.tokenizers.in_graph.RawStringsUnavailable: Raw-string signatures are not ...
    """
    if tokenizer.family == "wordpiece":
        return InGraphTokenizer.from_text_tokenizer(tokenizer)
    if tokenizer.family == "unigram":
        return SentencePieceTokenizer.from_text_tokenizer(tokenizer)
    raise RawStringsUnavailable(
        f"Raw-string signatures are not available for {tokenizer.family} tokenizers (no exact "
        "in-graph tokenizer for byte-level BPE yet); the token-id signature still is: tokenize "
        "with the TextTokenizer and feed input_ids / attention_mask."
    )
