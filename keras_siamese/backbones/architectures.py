"""Table of supported transformer architectures.

Each entry maps a Hugging Face ``config.json`` ``model_type`` to how its checkpoint names its
weights. The backbone itself is shared; a new BERT-family variant (RoBERTa, DistilBERT, MPNet) is a
new row here plus, where its maths differ (RoBERTa's position offset, MPNet's relative attention
bias), a small flag on :class:`ArchitectureSpec`.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ArchitectureSpec:
    """How one architecture names its weights in a Hugging Face checkpoint.

    Keys are templates; ``{i}`` is the layer index. Kernels stored as ``[out, in]`` (PyTorch
    ``nn.Linear``) are transposed on load and save.
    """

    model_type: str
    prefixes: tuple[str, ...]
    embeddings: dict[str, str]
    layer: dict[str, str | tuple[str, ...]]
    linear_weights: frozenset[str] = field(default_factory=frozenset)


BERT = ArchitectureSpec(
    model_type="bert",
    prefixes=("", "bert.", "model."),
    embeddings={
        "word_embeddings": "embeddings.word_embeddings.weight",
        "position_embeddings": "embeddings.position_embeddings.weight",
        "token_type_embeddings": "embeddings.token_type_embeddings.weight",
        "norm_gamma": "embeddings.LayerNorm.weight",
        "norm_beta": "embeddings.LayerNorm.bias",
    },
    layer={
        "qkv_kernel": (
            "encoder.layer.{i}.attention.self.query.weight",
            "encoder.layer.{i}.attention.self.key.weight",
            "encoder.layer.{i}.attention.self.value.weight",
        ),
        "qkv_bias": (
            "encoder.layer.{i}.attention.self.query.bias",
            "encoder.layer.{i}.attention.self.key.bias",
            "encoder.layer.{i}.attention.self.value.bias",
        ),
        "attention_output_kernel": "encoder.layer.{i}.attention.output.dense.weight",
        "attention_output_bias": "encoder.layer.{i}.attention.output.dense.bias",
        "attention_norm_gamma": "encoder.layer.{i}.attention.output.LayerNorm.weight",
        "attention_norm_beta": "encoder.layer.{i}.attention.output.LayerNorm.bias",
        "intermediate_kernel": "encoder.layer.{i}.intermediate.dense.weight",
        "intermediate_bias": "encoder.layer.{i}.intermediate.dense.bias",
        "output_kernel": "encoder.layer.{i}.output.dense.weight",
        "output_bias": "encoder.layer.{i}.output.dense.bias",
        "output_norm_gamma": "encoder.layer.{i}.output.LayerNorm.weight",
        "output_norm_beta": "encoder.layer.{i}.output.LayerNorm.bias",
    },
    linear_weights=frozenset(
        {"qkv_kernel", "attention_output_kernel", "intermediate_kernel", "output_kernel"}
    ),
)

ARCHITECTURES: dict[str, ArchitectureSpec] = {spec.model_type: spec for spec in (BERT,)}


def get_architecture(model_type: str) -> ArchitectureSpec:
    """The spec for ``model_type``, or a clear error listing the supported ones."""
    try:
        return ARCHITECTURES[model_type]
    except KeyError:
        raise ValueError(
            f"Unsupported architecture model_type={model_type!r} in config.json; "
            f"keras-siamese supports: {sorted(ARCHITECTURES)}."
        ) from None
