"""`TextTokenizer`: the checkpoint's own BERT WordPiece tokenizer (Hugging Face `tokenizers`)."""

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers, processors
from tokenizers.models import WordPiece

from keras_siamese.validation import check_texts

SPECIAL_TOKENS = {
    "cls_token": "[CLS]",
    "sep_token": "[SEP]",
    "pad_token": "[PAD]",
    "unk_token": "[UNK]",
    "mask_token": "[MASK]",
}
MAX_POSITIONS = 512  # cap on tokenizer_config.json's model_max_length (often a huge sentinel)


def _special_token(role: str, as_id: bool = False) -> property:
    """A read-only property for one entry of `special_tokens` (or its id)."""
    if as_id:
        return property(lambda self: self.token_id(self.special_tokens[role]), doc=f"{role} id.")
    return property(lambda self: self.special_tokens[role], doc=f"The {role} string.")


class TextTokenizer:
    """Texts -> `input_ids` / `attention_mask`, int32 `[batch, longest]`, the checkpoint's ids.

    Wraps a BERT WordPiece `tokenizers.Tokenizer` (Rust). Each text becomes
    `[CLS] wordpieces [SEP]`, truncated to `max_seq_length` tokens ([CLS] and [SEP] included);
    a batch is right-padded with the pad id to its own longest text (an empty batch gives shape
    `[0, 0]`). Literal special-token text in the input, such as "[MASK]", keeps its own id.

    Example:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (folder / "vocab.txt").write_text("[PAD]\\n[UNK]\\n[CLS]\\n[SEP]\\nhello\\n!\\n")
        >>> tokenizer = TextTokenizer.from_folder(folder, max_seq_length=8)
        >>> tokenizer(["Hello!", ""])["input_ids"].tolist()
        [[2, 4, 5, 3], [2, 3, 0, 0]]
    """

    def __init__(
        self,
        tokenizer: Tokenizer,
        max_seq_length: int,
        pad_token: str = SPECIAL_TOKENS["pad_token"],
        mask_token: str | None = SPECIAL_TOKENS["mask_token"],
    ) -> None:
        self._tokenizer = Tokenizer.from_str(tokenizer.to_str())  # ours to reconfigure
        normalizer, model = self._tokenizer.normalizer, self._tokenizer.model
        if not (
            isinstance(normalizer, normalizers.BertNormalizer)
            and isinstance(self._tokenizer.pre_tokenizer, pre_tokenizers.BertPreTokenizer)
            and isinstance(model, WordPiece)
            and model.continuing_subword_prefix == "##"
        ):
            raise ValueError(
                "Only BERT WordPiece tokenizers are supported (BertNormalizer, BertPreTokenizer, "
                f"WordPiece with '##'); got {type(normalizer).__name__}, "
                f"{type(self._tokenizer.pre_tokenizer).__name__}, {type(model).__name__}."
            )
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()
        template = self._tokenizer.encode("").tokens
        if len(template) != 2:
            raise ValueError(f"Expected a [CLS] text [SEP] template, got {template} for ''.")
        self.special_tokens = {
            "cls_token": template[0],
            "sep_token": template[1],
            "pad_token": pad_token,
            "unk_token": model.unk_token,
        }
        if mask_token in self.added_tokens:
            self.special_tokens["mask_token"] = mask_token
        self.max_seq_length = max_seq_length

    cls_token = _special_token("cls_token")
    sep_token = _special_token("sep_token")
    pad_token = _special_token("pad_token")
    unk_token = _special_token("unk_token")
    cls_token_id = _special_token("cls_token", as_id=True)
    sep_token_id = _special_token("sep_token", as_id=True)
    pad_token_id = _special_token("pad_token", as_id=True)
    unk_token_id = _special_token("unk_token", as_id=True)

    @classmethod
    def from_folder(cls, path: str | Path, max_seq_length: int | None = None) -> "TextTokenizer":
        """Loads `tokenizer.json`, else builds BERT WordPiece from `vocab.txt` and
        `tokenizer_config.json` (do_lower_case, strip_accents, tokenize_chinese_chars).

        `max_seq_length` defaults to `sentence_bert_config.json`'s, else to
        `tokenizer_config.json`'s `model_max_length` capped at 512. Any truncation or padding
        stored in `tokenizer.json` (all-MiniLM-L6-v2 carries both at 128) is replaced.
        """
        folder = Path(path)
        config = _read_json(folder / "tokenizer_config.json")
        special_map = _read_json(folder / "special_tokens_map.json")
        roles = {**SPECIAL_TOKENS, **_roles(config), **_roles(special_map)}
        if (folder / "tokenizer.json").is_file():
            tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        elif (folder / "vocab.txt").is_file():
            tokenizer = _bert_wordpiece(folder / "vocab.txt", config, roles)
        else:
            raise FileNotFoundError(f"{folder} has neither tokenizer.json nor vocab.txt.")
        if max_seq_length is None:
            sbert = _read_json(folder / "sentence_bert_config.json")
            max_seq_length = sbert.get("max_seq_length") or min(
                config.get("model_max_length", MAX_POSITIONS), MAX_POSITIONS
            )
        return cls(tokenizer, int(max_seq_length), roles["pad_token"], roles["mask_token"])

    @property
    def max_seq_length(self) -> int:
        """Most tokens per text, [CLS] and [SEP] included; longer texts are truncated."""
        return self._max_seq_length

    @max_seq_length.setter
    def max_seq_length(self, value: int) -> None:
        if value < 2:
            raise ValueError(f"max_seq_length must be at least 2 ([CLS] and [SEP]), got {value}.")
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
    def normalizer_settings(self) -> dict:
        """`BertNormalizer` options: clean_text, handle_chinese_chars, strip_accents, lowercase."""
        normalizer = self._tokenizer.normalizer
        return {
            "clean_text": normalizer.clean_text,
            "handle_chinese_chars": normalizer.handle_chinese_chars,
            "strip_accents": normalizer.strip_accents,
            "lowercase": normalizer.lowercase,
        }

    @property
    def lowercase(self) -> bool:
        """Whether text is lower-cased."""
        return self._tokenizer.normalizer.lowercase

    @property
    def strip_accents(self) -> bool | None:
        """Whether accents are stripped; None (as in Hugging Face) follows `lowercase`."""
        return self._tokenizer.normalizer.strip_accents

    @property
    def tokenize_chinese_chars(self) -> bool:
        """Whether CJK ideographs become words of their own."""
        return self._tokenizer.normalizer.handle_chinese_chars

    @property
    def max_chars_per_word(self) -> int:
        """Words longer than this (in characters) become the unknown token."""
        return self._tokenizer.model.max_input_chars_per_word

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

    def save(self, path: str | Path) -> None:
        """Writes `tokenizer.json` (this truncation, no padding), `vocab.txt`,
        `tokenizer_config.json` and `special_tokens_map.json`: the files that transformers'
        `AutoTokenizer` and sentence-transformers read."""
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        _write_json(folder / "tokenizer.json", json.loads(self._tokenizer.to_str()))
        (folder / "vocab.txt").write_text("\n".join(self.vocabulary) + "\n", encoding="utf-8")
        settings = self.normalizer_settings
        config = {
            "tokenizer_class": "BertTokenizer",
            "do_lower_case": settings["lowercase"],
            "strip_accents": settings["strip_accents"],
            "tokenize_chinese_chars": settings["handle_chinese_chars"],
            "model_max_length": self.max_seq_length,
            **self.special_tokens,
        }
        _write_json(folder / "tokenizer_config.json", config)
        _write_json(folder / "special_tokens_map.json", self.special_tokens)


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _write_json(path: Path, content: dict) -> None:
    path.write_text(json.dumps(content, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _roles(config: dict) -> dict[str, str]:
    """Special-token roles named in a tokenizer config; values may be {"content": ...} dicts."""
    return {
        role: value["content"] if isinstance(value, dict) else value
        for role, value in config.items()
        if role in SPECIAL_TOKENS and value is not None
    }


def _bert_wordpiece(vocab: Path, config: dict, roles: dict[str, str]) -> Tokenizer:
    """BERT WordPiece from `vocab.txt`, as transformers builds `BertTokenizer` from it."""
    tokenizer = Tokenizer(WordPiece.from_file(str(vocab), unk_token=roles["unk_token"]))
    required = [roles[role] for role in ("cls_token", "sep_token", "pad_token", "unk_token")]
    missing = [token for token in required if tokenizer.token_to_id(token) is None]
    if missing:
        raise ValueError(f"{vocab} lacks the special tokens {missing}.")
    tokenizer.normalizer = normalizers.BertNormalizer(
        clean_text=True,
        handle_chinese_chars=config.get("tokenize_chinese_chars", True),
        strip_accents=config.get("strip_accents"),
        lowercase=config.get("do_lower_case", True),
    )
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    cls_token, sep_token = roles["cls_token"], roles["sep_token"]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{cls_token} $A {sep_token}",
        pair=f"{cls_token} $A {sep_token} $B:1 {sep_token}:1",
        special_tokens=[(token, tokenizer.token_to_id(token)) for token in (cls_token, sep_token)],
    )
    tokenizer.decoder = decoders.WordPiece()
    order = ("pad_token", "unk_token", "cls_token", "sep_token", "mask_token")
    tokenizer.add_special_tokens(
        [roles[role] for role in order if tokenizer.token_to_id(roles[role]) is not None]
    )
    return tokenizer
