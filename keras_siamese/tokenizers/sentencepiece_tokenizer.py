"""`SentencePieceTokenizer`: XLM-RoBERTa's SentencePiece Unigram in TensorFlow ops, with the
checkpoint's exact ids.

It runs Hugging Face's pipeline for a Unigram `tokenizer.json` (what transformers writes for
XLM-RoBERTa: `Precompiled` normaliser, `WhitespaceSplit` + `Metaspace` pre-tokeniser, Unigram,
`<s> .. </s>` template) step by step with tensorflow-text's `SentencepieceTokenizer` op, fed with
sentencepiece model protos built here from `tokenizer.json` (no `sentencepiece` package needed):

1. Invalid UTF-8 bytes become U+FFFD; NUL reads as U+10FFFD (`tf_text.regex_split` stops at
   NUL; both are unknown characters, one `<unk>` either way, unless the vocabulary holds them).
2. The added tokens (`<s>`, `<pad>`, `</s>`, `<unk>`, `<mask>` and any others) are split out of the
   raw text and keep their ids (leftmost-longest; `lstrip` / `rstrip` tokens take the whitespace
   beside them), as Hugging Face does.
3. Each text between them is normalised by a CHAR-model proto whose `normalizer_spec` holds the
   checkpoint's `precompiled_charsmap` (no whitespace handling, no dummy prefix): the op's pieces,
   joined, are the normalised text. `Replace` / `Strip` steps after `Precompiled` are regex ops.
4. `WhitespaceSplit` splits at Unicode whitespace; `Metaspace` turns spaces into "▁", prepends
   "▁" to each word (`prepend_scheme` "always"; "never" is supported too) and splits before each
   "▁".
5. Each piece goes through a Unigram proto whose pieces are the `tokenizer.json` vocabulary with
   its scores in Hugging Face's id order (so the op's ids are the checkpoint's), the unknown
   token typed UNKNOWN, the added tokens CONTROL, an identity normaliser: the same Viterbi search
   (unknown score: lowest score - 10, consecutive unknown characters fused into one `<unk>`).
6. Truncation to `max_seq_length - 2` ids, then `<s>` and `</s>`, right padding with `<pad>`.

Measured against `tokenizers` 0.23 with a Unigram trained on the shared data and converted by
transformers 5 (tests/test_tokenizer_families.py repeats it): the same ids on all 18,260 distinct
STSb (train, dev) and SICK sentences and on generated unicode text, apart from two known
differences. (a) Hugging Face's Unigram also matches the special tokens' vocabulary entries inside
normalised text (full-width "＜ｓ＞" normalises to "<s>", which Hugging Face reads as id 0), while
the op never matches a CONTROL piece there. (b) Hugging Face's `Precompiled` looks whole grapheme
clusters up in the charsmap, sentencepiece the longest prefix, so a few rare sequences normalise
differently ("\\xa0\\u0300": Hugging Face " ", sentencepiece " \\u0300"). Both need text that
English or multilingual corpora hardly hold; in both Hugging Face's own slow (sentencepiece)
tokenizer agrees with the op. Other pipelines (a `first` prepend scheme, byte fallback,
normalised added tokens, other normalisers) are refused with a ValueError.

Example:
    >>> vocab = [["<s>", 0.0], ["<pad>", 0.0], ["</s>", 0.0], ["<unk>", 0.0], ["▁hi", -1.0],
    ...          ["▁", -2.0], ["h", -3.0], ["i", -3.0]]
    >>> specials = ["<s>", "<pad>", "</s>", "<unk>"]
    >>> added = [{"content": token, "id": i} for i, token in enumerate(specials)]
    >>> tokenizer = SentencePieceTokenizer(vocab, unk_id=3, added_tokens=added)
    >>> tokenizer(tf.constant(["Hi hi </s>", ""]))["input_ids"].numpy().tolist()  # "H": <unk>
    [[0, 5, 3, 7, 4, 2, 2], [0, 2, 1, 1, 1, 1, 1]]
"""

import base64
import hashlib
import re
import struct

import tensorflow as tf
import tensorflow_text as tf_text

from keras_siamese import backend  # noqa: F401  (selects the TensorFlow backend first)
from keras_siamese.tokenizers.template import FramedTokenizer
from keras_siamese.tokenizers.text_tokenizer import ROBERTA_SPECIAL_TOKENS, TextTokenizer

# isort: split
import keras

MODEL_ASSET = "sentencepiece_unigram.json"
REPLACEMENT = "\u2581"
# Rust's char::is_whitespace (Unicode White_Space): what WhitespaceSplit and lstrip/rstrip remove.
WHITESPACE = (
    r"[\t\n\x{0B}\x{0C}\r \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}"
    r"\x{205F}\x{3000}]"
)
# regex_split stops at NUL: NUL is read as this private-use character, unknown as NUL is.
NUL_STANDIN = "\U0010fffd"
# Scores are rounded to multiples of this in the protos, so that float32 path sums are exact and
# equal-score segmentations ("0" + "00" or "00" + "0") tie as they do in float64.
SCORE_STEP = 2.0**-16
NORMAL, UNKNOWN, CONTROL = 1, 2, 3  # sentencepiece_model.proto's SentencePiece.Type
UNIGRAM, CHAR = 1, 4  # TrainerSpec.ModelType


# -- sentencepiece ModelProto, written by hand (proto2 wire format) ------------------------------


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int32 fields are 10-byte two's complement
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, value: bytes | int | float) -> bytes:
    """One field: bytes (length-delimited), int (varint; bool too) or float (fixed32)."""
    if isinstance(value, bytes):
        return _varint(number << 3 | 2) + _varint(len(value)) + value
    if isinstance(value, float):
        return _varint(number << 3 | 5) + struct.pack("<f", value)
    return _varint(number << 3) + _varint(int(value))


def model_proto(
    pieces: list[tuple[str, float, int]],
    model_type: int = UNIGRAM,
    precompiled_charsmap: bytes = b"",
    unk_id: int = 0,
) -> bytes:
    """A serialised sentencepiece `ModelProto`: ``pieces`` (piece, score, type) in id order, the
    model type, a normaliser that applies ``precompiled_charsmap`` (identity when empty) and
    nothing else (no dummy prefix, no whitespace removal or escaping).

    >>> len(model_proto([("<unk>", 0.0, UNKNOWN), ("a", -1.0, NORMAL)]))
    89
    """
    body = b"".join(
        _field(1, _field(1, piece.encode("utf-8")) + _field(2, float(score)) + _field(3, kind))
        for piece, score, kind in pieces
    )
    trainer = _field(3, model_type) + _field(40, unk_id)
    trainer += _field(41, -1) + _field(42, -1) + _field(43, -1)  # no bos/eos/pad pieces of its own
    name = b"precompiled" if precompiled_charsmap else b"identity"
    normalizer = _field(1, name)
    if precompiled_charsmap:
        normalizer += _field(2, precompiled_charsmap)
    normalizer += _field(3, False) + _field(4, False) + _field(5, False)
    return body + _field(2, trainer) + _field(3, normalizer)


def _sentencepiece_op(proto: bytes, out_type: tf.DType) -> tf_text.SentencepieceTokenizer:
    """The op for ``proto``, named by its content: a restored SavedModel shares kernel-owned
    sentencepiece resources by node name, so two protos under one name would read one model."""
    digest = hashlib.sha256(proto).hexdigest()[:16]
    return tf_text.SentencepieceTokenizer(proto, out_type=out_type, name=f"sentencepiece_{digest}")


# -- the pipeline of a tokenizer.json ----------------------------------------------------------


def unigram_pipeline(state: dict) -> dict:
    """The settings of `SentencePieceTokenizer` for a Unigram `tokenizer.json` (parsed); a
    ValueError names the first step it cannot reproduce exactly."""
    model = state.get("model") or {}
    if model.get("type") != "Unigram" or model.get("byte_fallback"):
        raise ValueError("Only Unigram models without byte fallback run in the graph.")
    normalizer = state.get("normalizer") or {}
    steps = normalizer.get("normalizers", [normalizer] if normalizer else [])
    charsmap, post = "", []
    for number, step in enumerate(steps):
        kind = step.get("type")
        if kind == "Precompiled" and number == 0:
            charsmap = step.get("precompiled_charsmap") or ""
        elif kind == "Replace" and set(step.get("pattern", {})) <= {"String", "Regex"}:
            pattern = step["pattern"]
            regex = pattern.get("Regex") or re.escape(pattern["String"])
            post.append({"type": "Replace", "pattern": regex, "content": step["content"]})
        elif kind == "Strip":
            post.append({"type": "Strip", "left": step["strip_left"], "right": step["strip_right"]})
        else:
            raise ValueError(f"The normalizer step {kind} has no exact in-graph twin.")
    pre_tokenizer = state.get("pre_tokenizer") or {}
    pre_steps = pre_tokenizer.get("pretokenizers", [pre_tokenizer] if pre_tokenizer else [])
    kinds = [step.get("type") for step in pre_steps]
    if kinds not in (["Metaspace"], ["WhitespaceSplit", "Metaspace"]):
        raise ValueError(f"The pre-tokenizer {kinds} has no exact in-graph twin.")
    metaspace = pre_steps[-1]
    scheme = metaspace.get("prepend_scheme")
    if scheme is None:  # the format before tokenizers 0.14
        scheme = "always" if metaspace.get("add_prefix_space", True) else "never"
    if scheme not in ("always", "never") or not metaspace.get("split", True):
        raise ValueError(f"Metaspace with prepend_scheme={scheme!r} has no exact in-graph twin.")
    if metaspace.get("replacement", REPLACEMENT) != REPLACEMENT:
        raise ValueError(f"Metaspace replacement {metaspace['replacement']!r} is not '▁'.")
    added = state.get("added_tokens") or []
    odd = [token["content"] for token in added if token["normalized"] or token["single_word"]]
    if odd:
        raise ValueError(
            f"Normalised or single-word added tokens {odd} are not split out in graph."
        )
    return {
        "vocabulary": [[piece, float(score)] for piece, score in model["vocab"]],
        "unk_id": model.get("unk_id"),
        "precompiled_charsmap": charsmap,
        "post_normalizers": post,
        "whitespace_split": kinds[0] == "WhitespaceSplit",
        "prepend": scheme == "always",
        "added_tokens": [
            {key: token[key] for key in ("content", "id", "lstrip", "rstrip")} for token in added
        ],
    }


@keras.saving.register_keras_serializable(package="keras_siamese")
class SentencePieceTokenizer(FramedTokenizer):
    """Strings `[batch]` -> `{"input_ids", "attention_mask"}`, int32 `[batch, longest]`: the
    in-graph twin of a SentencePiece Unigram `TextTokenizer` (XLM-RoBERTa), same contract as
    `InGraphTokenizer`. The vocabulary and charsmap are not in `get_config`: `.keras` files carry
    them as an asset (``sentencepiece_unigram.json``), SavedModels as constants of the traced
    functions. See the module docstring for the steps and the one known difference."""

    model_asset = MODEL_ASSET

    def __init__(
        self,
        vocabulary: list[list] | None = None,
        unk_id: int | None = None,
        precompiled_charsmap: str = "",
        post_normalizers: list[dict] | None = None,
        whitespace_split: bool = True,
        prepend: bool = True,
        added_tokens: list[dict] | None = None,
        max_seq_length: int = 256,
        cls_token: str = ROBERTA_SPECIAL_TOKENS["cls_token"],
        sep_token: str = ROBERTA_SPECIAL_TOKENS["sep_token"],
        pad_token: str = ROBERTA_SPECIAL_TOKENS["pad_token"],
        **kwargs,
    ) -> None:
        super().__init__(max_seq_length, cls_token, sep_token, pad_token, **kwargs)
        self.post_normalizers = list(post_normalizers or ())
        self.whitespace_split = whitespace_split
        self.prepend = prepend
        self.added_tokens = [
            {"lstrip": False, "rstrip": False, **token} for token in added_tokens or ()
        ]
        ids = {token["content"]: token["id"] for token in self.added_tokens}
        missing = [token for token in (cls_token, sep_token, pad_token) if token not in ids]
        if missing:
            raise ValueError(f"The added tokens lack the special tokens {missing}.")
        self._cls_id, self._sep_id, self._pad_id = (
            ids[t] for t in (cls_token, sep_token, pad_token)
        )
        if vocabulary is not None:
            self.set_vocabulary(vocabulary, unk_id, precompiled_charsmap)

    @classmethod
    def from_text_tokenizer(cls, tokenizer: TextTokenizer, **kwargs) -> "SentencePieceTokenizer":
        """The in-graph twin of a Unigram `TextTokenizer`; its `max_seq_length` is the text
        tokenizer's, read at each call (or trace). ValueError for another family or a pipeline
        without an exact twin."""
        return cls.twin_of(tokenizer, "unigram", "Unigram", unigram_pipeline, **kwargs)

    def set_vocabulary(
        self, vocabulary: list[list], unk_id: int | None, precompiled_charsmap: str = ""
    ) -> None:
        """Sets the Unigram pieces ([piece, score] in id order), the unknown id and the base64
        `precompiled_charsmap`, and builds the two protos the ops run."""
        if unk_id is None or not 0 <= unk_id < len(vocabulary):
            raise ValueError(
                f"A Unigram vocabulary of {len(vocabulary)} needs an unk_id: {unk_id}."
            )
        added = {token["id"] for token in self.added_tokens}
        pieces = [
            (
                piece,
                round(score / SCORE_STEP) * SCORE_STEP,
                UNKNOWN if i == unk_id else CONTROL if i in added else NORMAL,
            )
            for i, (piece, score) in enumerate(vocabulary)
        ]
        self._model = {
            "vocabulary": [list(entry) for entry in vocabulary],
            "unk_id": unk_id,
            "precompiled_charsmap": precompiled_charsmap,
        }
        charsmap = base64.b64decode(precompiled_charsmap)
        self._normalizer = _sentencepiece_op(
            model_proto([("<unk>", 0.0, UNKNOWN)], CHAR, charsmap), tf.string
        )
        self._unigram = _sentencepiece_op(model_proto(pieces, UNIGRAM, unk_id=unk_id), tf.int32)

    def normalize(self, text: tf.Tensor) -> tf.Tensor:
        """The checkpoint's normaliser on a string tensor `[n]` (added tokens not treated apart)."""
        text = tf.strings.reduce_join(self._normalizer.tokenize(text), axis=-1)
        for step in self.post_normalizers:
            if step["type"] == "Replace":
                text = tf.strings.regex_replace(text, step["pattern"], step["content"])
            else:
                sides = [f"^{WHITESPACE}+"] * step["left"] + [f"{WHITESPACE}+$"] * step["right"]
                if sides:
                    text = tf.strings.regex_replace(text, "|".join(sides), "")
        return text

    def pre_tokenize(self, text: tf.Tensor) -> tf.RaggedTensor:
        """Normalised text `[n]` -> the pieces Unigram sees, `[n, (pieces)]`."""
        if self.whitespace_split:
            words = tf_text.regex_split(text, f"{WHITESPACE}+")
        else:
            words = tf.RaggedTensor.from_tensor(text[:, None])
        flat = tf.strings.regex_replace(words.flat_values, " ", REPLACEMENT)
        if self.prepend:
            bare = (tf.strings.length(flat) > 0) & ~tf.strings.regex_full_match(
                flat, f"{REPLACEMENT}.*"
            )
            flat = tf.where(bare, REPLACEMENT + flat, flat)
        chunk = f"{REPLACEMENT}[^{REPLACEMENT}]*"
        pieces = tf_text.regex_split(flat, chunk, chunk)
        return words.with_flat_values(pieces).merge_dims(1, 2)

    def _segment_ids(self, text: tf.Tensor) -> tf.RaggedTensor:
        """Raw text without added tokens `[n]` -> its ids `[n, (ids)]`."""
        pieces = self.pre_tokenize(self.normalize(text))
        ids = self._unigram.tokenize(pieces.flat_values)
        return pieces.with_flat_values(ids).merge_dims(1, 2)

    def _added_pattern(self) -> str:
        def one(token: dict) -> str:
            left = f"{WHITESPACE}*" if token["lstrip"] else ""
            right = f"{WHITESPACE}*" if token["rstrip"] else ""
            return left + re.escape(token["content"]) + right

        tokens = sorted(self.added_tokens, key=lambda token: len(token["content"]), reverse=True)
        return "|".join(one(token) for token in tokens)

    def call(self, strings: tf.Tensor) -> dict[str, tf.Tensor]:
        if not self._model:
            raise ValueError("SentencePieceTokenizer has no vocabulary: call set_vocabulary.")
        strings = tf.ensure_shape(tf.convert_to_tensor(strings, tf.string), [None])
        strings = tf.strings.unicode_transcode(strings, "UTF-8", "UTF-8", errors="replace")
        strings = tf.strings.regex_replace(strings, r"\x00", NUL_STANDIN)
        pattern = self._added_pattern()
        parts = tf_text.regex_split(strings, pattern, pattern)
        flat = parts.flat_values
        is_token = tf.strings.regex_full_match(flat, pattern)
        content = tf.strings.regex_replace(flat, f"^{WHITESPACE}+|{WHITESPACE}+$", "")
        contents = tf.constant([token["content"] for token in self.added_tokens])
        which = tf.argmax(tf.cast(tf.equal(content[:, None], contents[None, :]), tf.int32), 1)
        token_ids = tf.gather(tf.constant([t["id"] for t in self.added_tokens], tf.int32), which)
        kept = tf.RaggedTensor.from_row_lengths(
            tf.boolean_mask(token_ids, is_token), tf.cast(is_token, tf.int64)
        )
        between = self._segment_ids(tf.where(is_token, "", flat))
        ids = parts.with_flat_values(tf.concat([kept, between], axis=1)).merge_dims(1, 2)
        return self.frame(ids)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "post_normalizers": self.post_normalizers,
            "whitespace_split": self.whitespace_split,
            "prepend": self.prepend,
            "added_tokens": self.added_tokens,
        }
