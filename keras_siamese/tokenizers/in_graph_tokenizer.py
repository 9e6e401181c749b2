"""`InGraphTokenizer`: BERT WordPiece in TensorFlow ops, with the checkpoint's exact ids.

It re-implements Hugging Face's `BertNormalizer` + `BertPreTokenizer` + `WordPiece` + `[CLS] ..
[SEP]` template step by step, so that it runs in `tf.data`, in `tf.function` and inside a
SavedModel that TF Serving feeds with raw strings:

1. Invalid UTF-8 bytes and NUL become U+FFFD, which step 3 deletes (Hugging Face deletes NUL and
   the U+FFFD that decoding with `errors="replace"` gives).
2. The special tokens ([CLS], [SEP], [PAD], [UNK], [MASK], or MPNet's <s>, </s>, <pad>, [UNK],
   <mask>) and any other added tokens are split out of the raw text and keep their ids, as Hugging
   Face does with its added tokens (leftmost-longest match); added tokens that Hugging Face marks
   `normalized` (MPNet's <unk>) are split out of the normalised text instead, after step 3.
3. Normalisation with RE2 classes measured from Hugging Face (`unicode_tables`): delete control
   characters, map whitespace to " ", pad CJK ideographs with spaces; with `strip_accents` NFD and
   deletion of non-spacing marks; with `lowercase` per-character lower-casing from a table of
   Python's `str.lower` (Rust's `char::to_lowercase`: no final-sigma rule, unlike ICU's
   `tf.strings.lower`, and letters newer than TensorFlow's ICU tables are covered).
4. Words: split at spaces, punctuation isolated; a word longer than `max_chars_per_word`
   characters becomes [UNK] (tensorflow-text counts bytes, Hugging Face characters).
5. `tf_text.FastWordpieceTokenizer` on each word (greedy longest match with "##", [UNK] for a
   word with an unmatched rest); truncation to `max_seq_length - 2` wordpieces, then [CLS] and
   [SEP], right padding to the longest text of the batch.

Why not `tf_text.FastBertTokenizer` or `BertTokenizer(lower_case=True)`: their lower-casing is
NFD + Unicode case folding (ß -> ss, ligatures and full-width forms folded: other ids on 20 of
200 test sentences), their word limit counts bytes, their character classes are newer than Hugging
Face's Unicode 8.0 tables, and they do not split out special tokens.

Known differences from Hugging Face `tokenizers` 0.23, measured on every code point (a test repeats
the measurement): (a) code points unassigned in the running Python's `unicodedata` (Unicode 14 in
Python 3.11): Rust lower-cases the newer capitals among them (U+1C89, U+A7CB..U+A7DC,
U+10D50..U+10D65, U+16EA0..U+16EB8), which Python's table lacks, and TensorFlow's ICU decomposes
the newer Todhri, Tulu-Tigalari, Gurung Khema and Kirat Rai letters (U+105C9, U+105E4,
U+11383..U+113C8, U+16121..U+16128, U+16D68..U+16D6A), which Hugging Face's NFD tables leave whole;
(b) U+11938 DIVES AKURU VOWEL SIGN O, which ICU decomposes and Hugging Face does not. Both change
ids only with a vocabulary that holds such characters (English BERT vocabularies do not: there a
word with one is [UNK] either way). Measured with all-MiniLM-L6-v2: the same ids on all 24,366 STSb
and SICK sentences and on 13,834 generated texts (accents, CJK, ß, ligatures, full-width, emoji,
control characters, mixed whitespace, literal special tokens, long words, any code point).
"""

import functools
import re
from pathlib import Path

import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text

from keras_siamese import backend  # noqa: F401  (selects the TensorFlow backend first)
from keras_siamese.tokenizers import unicode_tables
from keras_siamese.tokenizers.template import FramedTokenizer
from keras_siamese.tokenizers.text_tokenizer import SPECIAL_TOKENS, TextTokenizer

# isort: split
import keras

VOCABULARY_ASSET = "vocabulary.txt"
SUFFIX_INDICATOR = "##"
WORD_DELIMITERS = f" +|{unicode_tables.PUNCTUATION}"


@functools.cache
def _lowercase_table() -> tuple[np.ndarray, np.ndarray, dict[str, str]]:
    """Python's per-character `str.lower`: sorted code points with a one-character lower case,
    those lower cases, and the characters with a longer one (U+0130 -> "i" + U+0307)."""
    upper, lower, longer = [], [], {}
    for code in range(0x110000):
        lowered = chr(code).lower()
        if len(lowered) > 1:
            longer[chr(code)] = lowered
        elif lowered != chr(code):
            upper.append(code)
            lower.append(ord(lowered))
    return np.array(upper, np.int32), np.array(lower, np.int32), longer


def _lowercase(text: tf.Tensor) -> tf.Tensor:
    """Per-character lower-casing of a string tensor (no final-sigma context rule)."""
    upper, lower, longer = _lowercase_table()
    for character, lowered in longer.items():
        text = tf.strings.regex_replace(text, re.escape(character), lowered)
    codes = tf.strings.unicode_decode(text, "UTF-8")
    flat = codes.flat_values
    index = tf.minimum(tf.searchsorted(upper, flat), len(upper) - 1)
    flat = tf.where(tf.gather(upper, index) == flat, tf.gather(lower, index), flat)
    return tf.strings.unicode_encode(codes.with_flat_values(flat), "UTF-8")


def _alternatives(tokens: list[str]) -> str:
    """A regular expression matching any of ``tokens``, the longest first."""
    return "|".join(re.escape(token) for token in sorted(tokens, key=len, reverse=True))


def _split_out(text: tf.Tensor, tokens: list[str], words) -> tf.RaggedTensor:
    """Strings `[n]` -> words `[n, (words)]`: each of ``tokens`` kept whole where it occurs
    (leftmost-longest), the text between them through ``words`` (`[m]` -> `[m, (words)]`)."""
    pattern = _alternatives(tokens)
    pieces = tf_text.regex_split(text, pattern, pattern)
    flat = pieces.flat_values
    is_token = tf.reduce_any(tf.equal(flat[:, None], tf.constant(tokens)[None, :]), axis=1)
    between = words(tf.where(is_token, "", flat))
    kept = tf.RaggedTensor.from_row_lengths(
        tf.boolean_mask(flat, is_token), tf.cast(is_token, tf.int64)
    )
    return pieces.with_flat_values(tf.concat([kept, between], axis=1)).merge_dims(1, 2)


@keras.saving.register_keras_serializable(package="keras_siamese")
class InGraphTokenizer(FramedTokenizer):
    """Strings `[batch]` -> `{"input_ids", "attention_mask"}`, int32 `[batch, longest]`.

    Same ids as the checkpoint's Hugging Face tokenizer (see the module docstring for how and for
    the few known differences). `longest` is the batch's longest text in tokens (at most
    `max_seq_length`, [CLS] and [SEP] included); an empty batch gives shape `[0, 0]`. The
    vocabulary is not in `get_config`: `.keras` files carry it as an asset, SavedModels as a
    constant of the traced functions.

    Example:
        >>> tokenizer = InGraphTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hi"])
        >>> tokenizer(tf.constant(["Hi [MASK]", ""]))["input_ids"].numpy().tolist()
        [[2, 5, 4, 3], [2, 3, 0, 0]]
    """

    def __init__(
        self,
        vocabulary: list[str] | None = None,
        lowercase: bool = True,
        strip_accents: bool | None = None,
        tokenize_chinese_chars: bool = True,
        max_seq_length: int = 256,
        cls_token: str = SPECIAL_TOKENS["cls_token"],
        sep_token: str = SPECIAL_TOKENS["sep_token"],
        pad_token: str = SPECIAL_TOKENS["pad_token"],
        unk_token: str = SPECIAL_TOKENS["unk_token"],
        mask_token: str | None = SPECIAL_TOKENS["mask_token"],
        max_chars_per_word: int = 100,
        added_tokens: list[str] | None = None,
        normalized_tokens: list[str] | None = None,
        **kwargs,
    ) -> None:
        super().__init__(max_seq_length, cls_token, sep_token, pad_token, **kwargs)
        self.lowercase = lowercase
        self.strip_accents = strip_accents
        self.tokenize_chinese_chars = tokenize_chinese_chars
        self.unk_token = unk_token
        self.mask_token = mask_token
        self.max_chars_per_word = max_chars_per_word
        tokens = (cls_token, sep_token, pad_token, unk_token, mask_token)
        self.special_tokens = {
            role: token for role, token in zip(SPECIAL_TOKENS, tokens, strict=True) if token
        }
        self.added_tokens = list(added_tokens or ())
        self.normalized_tokens = list(normalized_tokens or ())
        self._raw_tokens = list(dict.fromkeys([*self.special_tokens.values(), *self.added_tokens]))
        self._vocabulary: tuple[str, ...] = ()
        if vocabulary is not None:
            self.set_vocabulary(vocabulary)

    @classmethod
    def from_text_tokenizer(cls, tokenizer: TextTokenizer, **kwargs) -> "InGraphTokenizer":
        """The in-graph twin of a `TextTokenizer` (same vocabulary, settings and special tokens);
        its `max_seq_length` is the text tokenizer's, read at each call (or trace)."""
        settings = tokenizer.normalizer_settings
        special = tokenizer.special_tokens
        if not settings["clean_text"]:
            raise ValueError("InGraphTokenizer always cleans text; this tokenizer does not.")
        if not set(special.values()) <= set(tokenizer.added_tokens):
            raise ValueError(
                f"InGraphTokenizer splits out the special tokens {sorted(special.values())}; "
                f"this tokenizer has only the added tokens {tokenizer.added_tokens}."
            )
        if tokenizer.single_word_added_tokens:
            raise ValueError(
                "InGraphTokenizer does not match single-word added tokens: "
                f"{tokenizer.single_word_added_tokens}."
            )
        normalized = tokenizer.normalized_added_tokens
        extra = [t for t in tokenizer.added_tokens if t not in special.values()]
        normalized_extra = [t for t in normalized if t not in special.values()]
        raw_extra = [t for t in extra if t not in normalized_extra and t not in normalized]
        layer = cls(
            vocabulary=tokenizer.vocabulary,
            lowercase=settings["lowercase"],
            strip_accents=settings["strip_accents"],
            tokenize_chinese_chars=settings["handle_chinese_chars"],
            max_seq_length=tokenizer.max_seq_length,
            mask_token=special.get("mask_token"),
            max_chars_per_word=tokenizer.max_chars_per_word,
            added_tokens=raw_extra,
            normalized_tokens=normalized_extra,
            **{role: token for role, token in special.items() if role != "mask_token"},
            **kwargs,
        )
        layer._length_source = tokenizer
        return layer

    @property
    def vocabulary(self) -> list[str]:
        """Tokens in id order."""
        return list(self._vocabulary)

    def set_vocabulary(self, vocabulary: list[str]) -> None:
        """Sets the tokens (in id order); they must include the special tokens."""
        vocabulary = tuple(vocabulary)
        ids = {token: index for index, token in reversed(list(enumerate(vocabulary)))}
        tokens = [*self.special_tokens.values(), *self.added_tokens, *self.normalized_tokens]
        missing = [token for token in tokens if token not in ids]
        if missing:
            raise ValueError(f"The vocabulary lacks the special tokens {missing}.")
        self._vocabulary = vocabulary
        self._cls_id, self._sep_id, self._pad_id = (
            ids[token] for token in (self.cls_token, self.sep_token, self.pad_token)
        )
        self._wordpiece = tf_text.FastWordpieceTokenizer(
            list(vocabulary),
            suffix_indicator=SUFFIX_INDICATOR,
            max_bytes_per_word=4 * self.max_chars_per_word,  # longer words are [UNK] already
            token_out_type=tf.int32,
            unknown_token=self.unk_token,
            no_pretokenization=True,
        )

    def normalize(self, text: tf.Tensor) -> tf.Tensor:
        """Hugging Face `BertNormalizer` on a string tensor of any shape (special tokens are not
        treated apart here)."""
        text = tf.strings.regex_replace(text, unicode_tables.CONTROL, "")
        text = tf.strings.regex_replace(text, unicode_tables.WHITESPACE, " ")
        if self.tokenize_chinese_chars:
            text = tf.strings.regex_replace(text, f"({unicode_tables.CJK})", r" \1 ")
        if self.lowercase if self.strip_accents is None else self.strip_accents:
            text = tf_text.normalize_utf8(text, "NFD")
            text = tf.strings.regex_replace(text, unicode_tables.NONSPACING_MARKS, "")
        return _lowercase(text) if self.lowercase else text

    def pre_tokenize(self, strings: tf.Tensor) -> tf.RaggedTensor:
        """The words that WordPiece sees, `[batch, (words)]`: normalised and split text, special
        tokens verbatim, words over `max_chars_per_word` characters replaced by `unk_token`."""
        strings = tf.ensure_shape(tf.convert_to_tensor(strings, tf.string), [None])
        strings = tf.strings.unicode_transcode(strings, "UTF-8", "UTF-8", errors="replace")
        strings = tf.strings.regex_replace(strings, r"\x00", "\ufffd")  # regex_split stops at NUL
        words = _split_out(strings, self._raw_tokens, self._words)
        too_long = tf.strings.length(words.flat_values, unit="UTF8_CHAR") > self.max_chars_per_word
        return words.with_flat_values(tf.where(too_long, self.unk_token, words.flat_values))

    def _words(self, text: tf.Tensor) -> tf.RaggedTensor:
        """Raw text without added tokens `[n]` -> its words `[n, (words)]`, normalised, with the
        normalised added tokens split out first."""
        text = self.normalize(text)
        if self.normalized_tokens:
            return _split_out(text, self.normalized_tokens, self._plain_words)
        return self._plain_words(text)

    @staticmethod
    def _plain_words(text: tf.Tensor) -> tf.RaggedTensor:
        return tf_text.regex_split(text, WORD_DELIMITERS, unicode_tables.PUNCTUATION)

    def call(self, strings: tf.Tensor) -> dict[str, tf.Tensor]:
        if not self._vocabulary:
            raise ValueError("InGraphTokenizer has no vocabulary: pass one or call set_vocabulary.")
        wordpieces = self._wordpiece.tokenize(self.pre_tokenize(strings)).merge_dims(1, 2)
        return self.frame(wordpieces)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "lowercase": self.lowercase,
            "strip_accents": self.strip_accents,
            "tokenize_chinese_chars": self.tokenize_chinese_chars,
            "unk_token": self.unk_token,
            "mask_token": self.mask_token,
            "max_chars_per_word": self.max_chars_per_word,
            "added_tokens": self.added_tokens,
            "normalized_tokens": self.normalized_tokens,
        }

    def save_assets(self, dir_path: str) -> None:
        content = "\n".join(self._vocabulary) + "\n"
        (Path(dir_path) / VOCABULARY_ASSET).write_text(content, encoding="utf-8", newline="")

    def load_assets(self, dir_path: str) -> None:
        with open(Path(dir_path) / VOCABULARY_ASSET, encoding="utf-8", newline="") as file:
            self.set_vocabulary(file.read().split("\n")[:-1])
