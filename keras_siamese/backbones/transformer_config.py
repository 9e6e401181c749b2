"""Hyper-parameters of a BERT-family backbone, read from and written to ``config.json``."""

from dataclasses import MISSING, asdict, dataclass, fields
from typing import Any

from keras_siamese.backbones.architectures import get_architecture

SUPPORTED_ACTIVATIONS = ("gelu", "gelu_new", "gelu_pytorch_tanh", "relu")


_TYPE_NAMES = {int: "an integer", float: "a number", str: "a string"}


def _check_type(name: str, value: Any, expected: type) -> None:
    """A ``ValueError`` naming ``name`` unless ``value`` is of ``expected`` type (an int is a
    float; a bool is neither)."""
    allowed = (int, float) if expected is float else (expected,)
    if isinstance(value, bool) or not isinstance(value, allowed):
        raise ValueError(f"{name!r} must be {_TYPE_NAMES[expected]}, got {value!r}.")
    if expected is int and value < 0:
        raise ValueError(f"{name!r} must not be negative, got {value}.")


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
        sizes = ("vocab_size", "hidden_size", "num_attention_heads", "intermediate_size")
        for name in (*sizes, "max_position_embeddings"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}.")
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
        """Build from a ``config.json`` mapping (in the architecture's own field names),
        ignoring fields we do not use; a value of the wrong type is an error naming it.

        >>> TransformerConfig.from_dict({"model_type": "distilbert", "vocab_size": 9, "dim": 8,
        ...     "n_layers": 1, "n_heads": 2, "hidden_dim": 16}).hidden_size
        8
        >>> TransformerConfig.from_dict({"model_type": "bert", "vocab_size": 9, "hidden_size":
        ...     "8", "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 16})
        Traceback (most recent call last):
        ...
        ValueError: 'hidden_size' must be an integer, got '8'.
        """
        if not isinstance(config, dict):
            raise ValueError("not a JSON object.")
        model_type = config.get("model_type")
        if not isinstance(model_type, str):
            raise ValueError("no 'model_type' string; cannot tell the architecture.")
        renamed = get_architecture(model_type).config_names
        names = {f.name: f for f in fields(cls)}
        values = {  # null stands for the default, as in transformers
            name: config[renamed.get(name, name)]
            for name in names
            if config.get(renamed.get(name, name)) is not None
        }
        values["model_type"] = model_type
        missing = [
            renamed.get(n, n) for n, f in names.items() if f.default is MISSING and n not in values
        ]
        if missing:
            raise ValueError(f"required fields missing: {missing}.")
        for name, value in values.items():
            _check_type(renamed.get(name, name), value, names[name].type)
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_hf_dict(self) -> dict[str, Any]:
        """The ``config.json`` that transformers' ``AutoConfig`` reads, in the architecture's
        field names."""
        spec = get_architecture(self.model_type)
        config = {"architectures": [spec.hf_class]}
        for name, value in self.to_dict().items():
            if name not in spec.config_absent:
                config[spec.config_names.get(name, name)] = value
        if spec.relative_attention_buckets:
            config["relative_attention_num_buckets"] = spec.relative_attention_buckets
        return config
