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

    Flags for where the maths differ from BERT's (the defaults are BERT's):

    - ``hf_class``: the transformers class written into a saved ``config.json``;
    - ``token_types``: whether there is a token-type embedding (``embeddings`` names it);
    - ``padded_positions``: position ids counted past the padding index, as RoBERTa and MPNet
      do (``cumsum(input_ids != pad) * (input_ids != pad) + pad``, ``pad`` the config's
      ``pad_token_id``), instead of ``0..length-1``; the longest text is then
      ``max_position_embeddings - pad - 1`` tokens;
    - ``relative_attention_buckets``: MPNet's relative position bias, one ``[buckets, heads]``
      table (``shared["relative_attention_bias"]``) whose bias, computed once, every layer adds to
      its attention scores (0: none).
    """

    model_type: str
    prefixes: tuple[str, ...]
    embeddings: dict[str, str]
    layer: dict[str, str | tuple[str, ...]]
    linear_weights: frozenset[str] = field(default_factory=frozenset)
    shared: dict[str, str] = field(default_factory=dict)
    hf_class: str = "BertModel"
    token_types: bool = True
    padded_positions: bool = False
    relative_attention_buckets: int = 0


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

# Hugging Face MPNetModel: BERT's block with other names, no token types, RoBERTa's position ids
# (padding index 1) and T5-style relative position buckets (32, max distance 128).
MPNET = ArchitectureSpec(
    model_type="mpnet",
    prefixes=("", "mpnet.", "model."),
    embeddings={
        "word_embeddings": "embeddings.word_embeddings.weight",
        "position_embeddings": "embeddings.position_embeddings.weight",
        "norm_gamma": "embeddings.LayerNorm.weight",
        "norm_beta": "embeddings.LayerNorm.bias",
    },
    layer={
        "qkv_kernel": (
            "encoder.layer.{i}.attention.attn.q.weight",
            "encoder.layer.{i}.attention.attn.k.weight",
            "encoder.layer.{i}.attention.attn.v.weight",
        ),
        "qkv_bias": (
            "encoder.layer.{i}.attention.attn.q.bias",
            "encoder.layer.{i}.attention.attn.k.bias",
            "encoder.layer.{i}.attention.attn.v.bias",
        ),
        "attention_output_kernel": "encoder.layer.{i}.attention.attn.o.weight",
        "attention_output_bias": "encoder.layer.{i}.attention.attn.o.bias",
        "attention_norm_gamma": "encoder.layer.{i}.attention.LayerNorm.weight",
        "attention_norm_beta": "encoder.layer.{i}.attention.LayerNorm.bias",
        "intermediate_kernel": "encoder.layer.{i}.intermediate.dense.weight",
        "intermediate_bias": "encoder.layer.{i}.intermediate.dense.bias",
        "output_kernel": "encoder.layer.{i}.output.dense.weight",
        "output_bias": "encoder.layer.{i}.output.dense.bias",
        "output_norm_gamma": "encoder.layer.{i}.output.LayerNorm.weight",
        "output_norm_beta": "encoder.layer.{i}.output.LayerNorm.bias",
    },
    linear_weights=BERT.linear_weights,
    shared={"relative_attention_bias": "encoder.relative_attention_bias.weight"},
    hf_class="MPNetModel",
    token_types=False,
    padded_positions=True,
    relative_attention_buckets=32,
)

ARCHITECTURES: dict[str, ArchitectureSpec] = {spec.model_type: spec for spec in (BERT, MPNET)}


def get_architecture(model_type: str) -> ArchitectureSpec:
    """The spec for ``model_type``, or a clear error listing the supported ones."""
    try:
        return ARCHITECTURES[model_type]
    except KeyError:
        raise ValueError(
            f"Unsupported architecture model_type={model_type!r} in config.json; "
            f"keras-siamese supports: {sorted(ARCHITECTURES)}."
        ) from None
