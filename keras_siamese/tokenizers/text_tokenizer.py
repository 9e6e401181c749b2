"""`TextTokenizer`: the checkpoint's own tokenizer (Hugging Face `tokenizers`), in one of three
families: BERT WordPiece, byte-level BPE (RoBERTa) and SentencePiece Unigram (XLM-RoBERTa)."""

import json
from collections.abc import Sequence

import numpy as np
from tokenizers import Tokenizer

from keras_siamese.validation import check_texts

SPECIAL_TOKENS = {
    "cls_token": "[CLS]",
    "sep_token": "[SEP]",
    "pad_token": "[PAD]",
    "unk_token": "[UNK]",
    "mask_token": "[MASK]",
}
ROBERTA_SPECIAL_TOKENS = {
    "cls_token": "<s>",
    "sep_token": "</s>",
    "pad_token": "<pad>",
    "unk_token": "<unk>",
    "mask_token": "<mask>",
}
FAMILIES = ("wordpiece", "bpe", "unigram")
# The special tokens a family's checkpoints use when their configuration names none.
FAMILY_SPECIAL_TOKENS = {
    "wordpiece": SPECIAL_TOKENS,
    "bpe": ROBERTA_SPECIAL_TOKENS,
    "unigram": ROBERTA_SPECIAL_TOKENS,
}


def tokenizer_family(tokenizer: Tokenizer | dict) -> str:
    """The family of a `tokenizers.Tokenizer` (or of its parsed JSON): "wordpiece" (BERT's
    normaliser and pre-tokeniser, WordPiece with "##"), "bpe" (byte-level BPE, as RoBERTa and
    GPT-2) or "unigram" (SentencePiece Unigram behind a Metaspace pre-tokeniser, as XLM-RoBERTa);
    ValueError for anything else.

    >>> tokenizer_family({"model": {"type": "BPE"}, "pre_tokenizer": {"type": "ByteLevel"}})
    'bpe'
    """
    state = json.loads(tokenizer.to_str()) if isinstance(tokenizer, Tokenizer) else tokenizer
    model = state.get("model") or {}
    normalizer = state.get("normalizer") or {}
    pre_tokenizer = state.get("pre_tokenizer") or {}
    pre_types = [
        step.get("type")
        for step in pre_tokenizer.get("pretokenizers", [pre_tokenizer] if pre_tokenizer else [])
    ]
    if (
        model.get("type") == "WordPiece"
        and model.get("continuing_subword_prefix") == "##"
        and normalizer.get("type") == "BertNormalizer"
        and pre_types == ["BertPreTokenizer"]
    ):
        return "wordpiece"
    if model.get("type") == "BPE" and pre_types == ["ByteLevel"] and not normalizer:
        return "bpe"
    if model.get("type") == "Unigram" and pre_types and pre_types[-1] == "Metaspace":
        return "unigram"
    raise ValueError(
        "Only BERT WordPiece (BertNormalizer, BertPreTokenizer, WordPiece with '##'), byte-level "
        "BPE (ByteLevel pre-tokenizer, BPE, no normalizer) and SentencePiece Unigram (Metaspace "
        f"pre-tokenizer, Unigram) tokenizers are supported; got normalizer "
        f"{normalizer.get('type')}, pre-tokenizer {pre_types or None}, model {model.get('type')}."
    )


def _special_token(role: str, as_id: bool = False) -> property:
    """A read-only property for one entry of `special_tokens` (or its id)."""
    if as_id:
        return property(lambda self: self.token_id(self.special_tokens[role]), doc=f"{role} id.")
    return property(lambda self: self.special_tokens[role], doc=f"The {role} string.")


class TextTokenizer:
    """Texts -> `input_ids` / `attention_mask`, int32 `[batch, longest]`, the checkpoint's ids.

    Wraps a `tokenizers.Tokenizer` (Rust) of one of the `FAMILIES`: BERT WordPiece, byte-level
    BPE (RoBERTa) or SentencePiece Unigram (XLM-RoBERTa). Each text becomes `<cls> tokens <sep>`
    (`[CLS] .. [SEP]` or `<s> .. </s>`), truncated to `max_seq_length` tokens (both included); a
    batch is right-padded with the pad id to its own longest text (an empty batch gives shape
    `[0, 0]`). Literal special-token text in the input, such as "[MASK]", keeps its own id.

    `keras_siamese.checkpoints.sentence_transformers_format.load_tokenizer` builds one from a
    checkpoint folder; here, from an in-memory vocabulary:

    Example:
        >>> from tokenizers.implementations import BertWordPieceTokenizer
        >>> vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "hello", "!"])}
        >>> wordpiece = Tokenizer.from_str(BertWordPieceTokenizer(vocab).to_str())
        >>> tokenizer = TextTokenizer(wordpiece, max_seq_length=8)
        >>> tokenizer(["Hello!", ""])["input_ids"].tolist()
        [[2, 4, 5, 3], [2, 3, 0, 0]]
        >>> tokenizer.family
        'wordpiece'
    """

    def __init__(
        self,
        tokenizer: Tokenizer,
        max_seq_length: int,
        pad_token: str | None = None,
        mask_token: str | None = None,
        unk_token: str | None = None,
    ) -> None:
        """``pad_token``, ``mask_token``, ``unk_token``: the roles' strings, by default the
        family's (`FAMILY_SPECIAL_TOKENS`); a WordPiece or Unigram model names its own unknown
        token. The mask role is kept only when its token is an added token."""
        self._tokenizer = Tokenizer.from_str(tokenizer.to_str())  # ours to reconfigure
        state = json.loads(self._tokenizer.to_str())
        self._family = tokenizer_family(state)
        defaults = FAMILY_SPECIAL_TOKENS[self._family]
        model = state["model"]
        if self._family == "wordpiece":
            unk_token = model["unk_token"]
        elif self._family == "unigram" and model.get("unk_id") is not None:
            unk_token = model["vocab"][model["unk_id"]][0]
        else:
            unk_token = unk_token or model.get("unk_token") or defaults["unk_token"]
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()
        template = self._tokenizer.encode("").tokens
        if len(template) != 2:
            raise ValueError(f"Expected a <cls> text <sep> template, got {template} for ''.")
        self.special_tokens = {
            "cls_token": template[0],
            "sep_token": template[1],
            "pad_token": pad_token or defaults["pad_token"],
            "unk_token": unk_token,
        }
        mask_token = mask_token or defaults["mask_token"]
        if mask_token in self.added_tokens:
            self.special_tokens["mask_token"] = mask_token
        for role, token in self.special_tokens.items():
            if self._tokenizer.token_to_id(token) is None:
                raise ValueError(f"The {role} {token!r} is not in the vocabulary.")
        self.max_seq_length = max_seq_length

    cls_token = _special_token("cls_token")
    sep_token = _special_token("sep_token")
    pad_token = _special_token("pad_token")
    unk_token = _special_token("unk_token")
    cls_token_id = _special_token("cls_token", as_id=True)
    sep_token_id = _special_token("sep_token", as_id=True)
    pad_token_id = _special_token("pad_token", as_id=True)
    unk_token_id = _special_token("unk_token", as_id=True)

    @property
    def max_seq_length(self) -> int:
        """Most tokens per text, <cls> and <sep> included; longer texts are truncated.

        The one place it is kept: `SentenceEncoder.max_seq_length`, `InGraphTokenizer`s made
        from this tokenizer, the on-device tokenizer and export metadata all read it here."""
        return self._max_seq_length

    @max_seq_length.setter
    def max_seq_length(self, value: int) -> None:
        if value < 2:
            raise ValueError(f"max_seq_length must be at least 2 (<cls> and <sep>), got {value}.")
        self._max_seq_length = int(value)
        self._tokenizer.enable_truncation(self._max_seq_length)

    @property
    def vocabulary(self) -> list[str]:
        """Tokens in id order."""
        vocab = self._tokenizer.get_vocab(with_added_tokens=True)
        tokens = sorted(vocab, key=vocab.__getitem__)
        if [vocab[token] for token in tokens] != list(range(len(tokens))):
            raise ValueError("The vocabulary's ids are not 0..n-1 without gaps.")
        return tokens

    @property
    def added_tokens(self) -> list[str]:
        """Strings split out of the raw text before normalisation, each kept as one token."""
        added = self._tokenizer.get_added_tokens_decoder()
        return [added[token_id].content for token_id in sorted(added)]

    @property
    def normalized_added_tokens(self) -> list[str]:
        """Added tokens matched on the normalised text rather than the raw one (MPNet's
        ``<unk>``), as they read once normalised: "<UNK>" in a text becomes ``<unk>``'s id."""
        added = self._tokenizer.get_added_tokens_decoder()
        normalizer = self._tokenizer.normalizer
        return [
            normalizer.normalize_str(added[token_id].content)
            if normalizer is not None
            else added[token_id].content
            for token_id in sorted(added)
            if added[token_id].normalized
        ]

    @property
    def single_word_added_tokens(self) -> list[str]:
        """Added tokens matched only as whole words (none in the supported checkpoints)."""
        added = self._tokenizer.get_added_tokens_decoder()
        return [added[i].content for i in sorted(added) if added[i].single_word]

    @property
    def family(self) -> str:
        """ "wordpiece", "bpe" (byte-level BPE) or "unigram" (SentencePiece Unigram)."""
        return self._family

    def _wordpiece_setting(self, name: str):
        """The WordPiece normaliser (or model), for a setting only WordPiece tokenizers have."""
        if self._family != "wordpiece":
            raise ValueError(
                f"{name} is a setting of WordPiece tokenizers; this tokenizer is {self._family}."
            )
        return self._tokenizer.normalizer

    @property
    def normalizer_settings(self) -> dict:
        """`BertNormalizer` options: clean_text, handle_chinese_chars, strip_accents, lowercase
        (WordPiece only: ValueError for the other families)."""
        normalizer = self._wordpiece_setting("normalizer_settings")
        return {
            "clean_text": normalizer.clean_text,
            "handle_chinese_chars": normalizer.handle_chinese_chars,
            "strip_accents": normalizer.strip_accents,
            "lowercase": normalizer.lowercase,
        }

    @property
    def lowercase(self) -> bool:
        """Whether text is lower-cased (WordPiece only)."""
        return self._wordpiece_setting("lowercase").lowercase

    @property
    def strip_accents(self) -> bool | None:
        """Whether accents are stripped; None (as in Hugging Face) follows `lowercase`
        (WordPiece only)."""
        return self._wordpiece_setting("strip_accents").strip_accents

    @property
    def tokenize_chinese_chars(self) -> bool:
        """Whether CJK ideographs become words of their own (WordPiece only)."""
        return self._wordpiece_setting("tokenize_chinese_chars").handle_chinese_chars

    @property
    def max_chars_per_word(self) -> int:
        """Words longer than this (in characters) become the unknown token (WordPiece only)."""
        self._wordpiece_setting("max_chars_per_word")
        return self._tokenizer.model.max_input_chars_per_word

    def to_str(self) -> str:
        """The `tokenizers` JSON of this tokenizer (its truncation at `max_seq_length`, no
        padding): the content of a `tokenizer.json`."""
        return self._tokenizer.to_str()

    def token_id(self, token: str) -> int:
        """The id of `token`; ValueError when it is not in the vocabulary."""
        token_id = self._tokenizer.token_to_id(token)
        if token_id is None:
            raise ValueError(f"Token {token!r} is not in the vocabulary.")
        return token_id

    def __call__(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """`input_ids` and `attention_mask`, int32 `[len(texts), longest]`."""
        return self.pad(self.encode_ids(texts))

    def encode_ids(self, texts: Sequence[str], allow_empty: bool = True) -> list[np.ndarray]:
        """Each text's ids, int32, truncated but not padded; ``allow_empty=False`` refuses
        empty or whitespace-only texts."""
        encodings = self._tokenizer.encode_batch(check_texts(texts, allow_empty=allow_empty))
        return [np.array(encoding.ids, np.int32) for encoding in encodings]

    def pad(self, ids: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
        """Right-pads `encode_ids` output to its longest row: `input_ids`, `attention_mask`."""
        longest = max(map(len, ids), default=0)
        input_ids = np.full((len(ids), longest), self.pad_token_id, np.int32)
        attention_mask = np.zeros((len(ids), longest), np.int32)
        for row, sequence in enumerate(ids):
            input_ids[row, : len(sequence)] = sequence
            attention_mask[row, : len(sequence)] = 1
        return {"input_ids": input_ids, "attention_mask": attention_mask}
