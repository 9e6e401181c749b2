"""``TextTokenizer``: the checkpoint's own tokenizer (Hugging Face ``tokenizers``), exact ids."""

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
from tokenizers.models import WordPiece

DEFAULT_MAX_LENGTH = 512
SPECIAL_TOKENS = {
    "cls_token": "[CLS]",
    "sep_token": "[SEP]",
    "pad_token": "[PAD]",
    "unk_token": "[UNK]",
    "mask_token": "[MASK]",
}


class TextTokenizer:
    """Text to ``input_ids`` / ``attention_mask`` (int32 ``[batch, longest]``), as the checkpoint.

    Truncates at ``max_seq_length`` tokens ([CLS] and [SEP] included) and pads each batch only
    to its own longest text. The fixed 128-token truncation and padding that some checkpoints'
    ``tokenizer.json`` carry are overridden.

    >>> tokenizer = TextTokenizer.from_folder("path/to/all-MiniLM-L6-v2")  # doctest: +SKIP
    >>> tokenizer(["Hello world!"])["input_ids"]  # doctest: +SKIP
    array([[ 101, 7592, 2088,  999,  102]], dtype=int32)
    """

    def __init__(
        self, tokenizer: Tokenizer, max_seq_length: int, special_tokens: dict[str, str]
    ) -> None:
        self._tokenizer = tokenizer
        self.special_tokens = {**SPECIAL_TOKENS, **special_tokens}
        self.max_seq_length = max_seq_length

    # -- loading -------------------------------------------------------------------------------

    @classmethod
    def from_folder(cls, path: str | Path, max_seq_length: int | None = None) -> "TextTokenizer":
        """From ``tokenizer.json``, else ``vocab.txt`` + ``tokenizer_config.json`` (BERT)."""
        folder = Path(path)
        config = _read_json(folder / "tokenizer_config.json")
        special = {k: v for k, v in config.items() if k in SPECIAL_TOKENS and isinstance(v, str)}
        special.update(
            {
                k: v if isinstance(v, str) else v.get("content")
                for k, v in _read_json(folder / "special_tokens_map.json").items()
                if k in SPECIAL_TOKENS
            }
        )
        if (folder / "tokenizer.json").is_file():
            tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        elif (folder / "vocab.txt").is_file():
            tokenizer = _bert_wordpiece(folder / "vocab.txt", config, {**SPECIAL_TOKENS, **special})
        else:
            raise FileNotFoundError(
                f"No tokenizer.json or vocab.txt in {folder}: cannot build the tokenizer."
            )
        if max_seq_length is None:
            sbert = _read_json(folder / "sentence_bert_config.json")
            model_max = config.get("model_max_length", DEFAULT_MAX_LENGTH)
            max_seq_length = sbert.get("max_seq_length") or min(model_max, DEFAULT_MAX_LENGTH)
        return cls(tokenizer, int(max_seq_length), special)

    # -- properties ----------------------------------------------------------------------------

    @property
    def max_seq_length(self) -> int:
        return self._max_seq_length

    @max_seq_length.setter
    def max_seq_length(self, value: int) -> None:
        if value < 2:
            raise ValueError(f"max_seq_length must be at least 2, got {value}.")
        self._max_seq_length = int(value)
        self._tokenizer.enable_truncation(self._max_seq_length)
        pad = self.special_tokens["pad_token"]
        self._tokenizer.enable_padding(pad_id=self.token_id(pad), pad_token=pad)

    @property
    def vocabulary(self) -> list[str]:
        """Tokens in id order."""
        vocab = self._tokenizer.get_vocab(with_added_tokens=True)
        return [token for token, _ in sorted(vocab.items(), key=lambda item: item[1])]

    def token_id(self, token: str) -> int:
        token_id = self._tokenizer.token_to_id(token)
        if token_id is None:
            raise ValueError(f"Token {token!r} is not in the vocabulary.")
        return token_id

    @property
    def normalizer_settings(self) -> dict:
        """The BERT normaliser's options: lowercase, strip_accents, handle_chinese_chars,
        clean_text (Hugging Face's ``BertNormalizer`` fields)."""
        state = json.loads(self._tokenizer.to_str()).get("normalizer") or {}
        if state.get("type") != "BertNormalizer":
            raise ValueError(
                f"Only BERT normalisation is supported in-graph; this tokenizer has {state!r}."
            )
        return {k: state[k] for k in ("clean_text", "handle_chinese_chars", "strip_accents",
                                      "lowercase")}

    @property
    def lowercase(self) -> bool:
        return bool(self.normalizer_settings["lowercase"])

    @property
    def strip_accents(self) -> bool | None:
        return self.normalizer_settings["strip_accents"]

    @property
    def tokenize_chinese_chars(self) -> bool:
        return bool(self.normalizer_settings["handle_chinese_chars"])

    @property
    def max_chars_per_word(self) -> int:
        model = json.loads(self._tokenizer.to_str())["model"]
        return int(model.get("max_input_chars_per_word", 100))

    # -- tokenising ----------------------------------------------------------------------------

    def __call__(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        if isinstance(texts, str | bytes) or not isinstance(texts, Sequence | np.ndarray):
            raise TypeError(f"texts must be a list of strings, got {type(texts).__name__}.")
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"texts[{i}] is {type(text).__name__}, expected str.")
        encodings = self._tokenizer.encode_batch(list(texts))
        return {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int32).reshape(
                len(encodings), -1
            ),
            "attention_mask": np.array(
                [e.attention_mask for e in encodings], dtype=np.int32
            ).reshape(len(encodings), -1),
        }

    # -- saving --------------------------------------------------------------------------------

    def save(self, path: str | Path) -> None:
        """Writes tokenizer.json, vocab.txt, tokenizer_config.json and special_tokens_map.json,
        which transformers' ``AutoTokenizer`` and sentence-transformers read."""
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        state = json.loads(self._tokenizer.to_str())
        state["padding"] = None  # sentence-transformers pads per batch itself
        (folder / "tokenizer.json").write_text(json.dumps(state, ensure_ascii=False))
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
        (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2))
        (folder / "special_tokens_map.json").write_text(json.dumps(self.special_tokens, indent=2))


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def _bert_wordpiece(vocab: Path, config: dict, special: dict[str, str]) -> Tokenizer:
    """A BERT WordPiece tokenizer from ``vocab.txt``, as transformers' ``BertTokenizerFast``."""
    tokenizer = Tokenizer(WordPiece.from_file(str(vocab), unk_token=special["unk_token"]))
    tokenizer.normalizer = normalizers.BertNormalizer(
        clean_text=True,
        handle_chinese_chars=config.get("tokenize_chinese_chars", True),
        strip_accents=config.get("strip_accents"),
        lowercase=config.get("do_lower_case", True),
    )
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    cls_token, sep_token = special["cls_token"], special["sep_token"]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{cls_token} $A {sep_token}",
        pair=f"{cls_token} $A {sep_token} $B:1 {sep_token}:1",
        special_tokens=[
            (cls_token, tokenizer.token_to_id(cls_token)),
            (sep_token, tokenizer.token_to_id(sep_token)),
        ],
    )
    tokenizer.add_special_tokens(list(special.values()))
    return tokenizer
