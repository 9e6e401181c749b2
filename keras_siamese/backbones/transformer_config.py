"""Hyper-parameters of a BERT-family backbone, read from and written to ``config.json``."""

import json
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path
from typing import Any

from keras_siamese.backbones.architectures import get_architecture

SUPPORTED_ACTIVATIONS = ("gelu", "gelu_new", "gelu_pytorch_tanh", "relu")


@dataclass(frozen=True)
class TransformerConfig:
    """Sizes of a transformer encoder, with Hugging Face ``config.json`` field names.

    >>> TransformerConfig(vocab_size=100, hidden_size=8, num_hidden_layers=1,
    ...                   num_attention_heads=2, intermediate_size=16).head_size
    4
    """

    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    model_type: str = "bert"
    hidden_act: str = "gelu"
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    pad_token_id: int = 0

    def __post_init__(self) -> None:
        get_architecture(self.model_type)
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"hidden_size={self.hidden_size} is not divisible by "
                f"num_attention_heads={self.num_attention_heads}."
            )
        if self.hidden_act not in SUPPORTED_ACTIVATIONS:
            raise ValueError(
                f"Unsupported hidden_act={self.hidden_act!r}; supported: {SUPPORTED_ACTIVATIONS}."
            )

    @property
    def head_size(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @property
    def max_sequence_length(self) -> int:
        """Most tokens per text that the position table holds: ``max_position_embeddings``, less
        the positions skipped past the padding index where the architecture does that (MPNet's
        514 positions hold 512 tokens).

        >>> TransformerConfig(vocab_size=100, hidden_size=8, num_hidden_layers=1,
        ...                   num_attention_heads=2, intermediate_size=16, model_type="mpnet",
        ...                   max_position_embeddings=514, pad_token_id=1).max_sequence_length
        512
        """
        if get_architecture(self.model_type).padded_positions:
            return self.max_position_embeddings - self.pad_token_id - 1
        return self.max_position_embeddings

    @classmethod
    def from_dict(cls, config: dict[str, Any]) -> "TransformerConfig":
        """Build from a ``config.json`` mapping, ignoring fields we do not use."""
        if "model_type" not in config:
            raise ValueError("config.json has no 'model_type'; cannot tell the architecture.")
        names = {f.name: f for f in fields(cls)}
        missing = [n for n, f in names.items() if f.default is MISSING and n not in config]
        if missing:
            raise ValueError(f"config.json lacks required fields: {missing}.")
        return cls(**{k: v for k, v in config.items() if k in names})

    @classmethod
    def from_file(cls, path: Path) -> "TransformerConfig":
        try:
            config = json.loads(Path(path).read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"{path} is not valid JSON: {err}") from None
        return cls.from_dict(config)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_hf_dict(self) -> dict[str, Any]:
        """The ``config.json`` that transformers' ``AutoConfig`` reads."""
        spec = get_architecture(self.model_type)
        config = {"architectures": [spec.hf_class], **self.to_dict()}
        if spec.relative_attention_buckets:
            config["relative_attention_num_buckets"] = spec.relative_attention_buckets
        return config
