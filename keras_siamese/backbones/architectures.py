"""Table of supported transformer architectures.

Each entry maps a Hugging Face ``config.json`` ``model_type`` to how its checkpoint names its
weights and its hyper-parameters. The backbone itself is shared; a BERT-family variant (MPNet,
RoBERTa, XLM-RoBERTa, DistilBERT) is a row here plus, where its maths differ (RoBERTa's position
offset, MPNet's relative attention bias), a small flag on :class:`ArchitectureSpec`.

>>> sorted(ARCHITECTURES)
['bert', 'distilbert', 'mpnet', 'roberta', 'xlm-roberta']
"""

from dataclasses import dataclass, field, replace


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
      its attention scores (0: none);
    - ``config_names``: ``config.json`` field names that differ from BERT's (DistilBERT's
      ``dim``, ``n_layers``...), keyed by BERT's name;
    - ``config_absent``: BERT fields that this architecture's ``config.json`` does not have
      (their fixed values are ``TransformerConfig``'s defaults), not written on save.
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
    config_names: dict[str, str] = field(default_factory=dict)
    config_absent: frozenset[str] = field(default_factory=frozenset)


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

# Hugging Face RobertaModel: BERT's names and block, position ids counted past the padding index
# (1), a single token type. XLM-RoBERTa is the same network with a SentencePiece vocabulary.
ROBERTA = ArchitectureSpec(
    model_type="roberta",
    prefixes=("", "roberta.", "model."),
    embeddings=BERT.embeddings,
    layer=BERT.layer,
    linear_weights=BERT.linear_weights,
    hf_class="RobertaModel",
    padded_positions=True,
)
XLM_ROBERTA = replace(ROBERTA, model_type="xlm-roberta", hf_class="XLMRobertaModel")

# Hugging Face DistilBertModel: BERT's post-LayerNorm block under other names, no token types,
# positions 0..n-1, LayerNorm epsilon fixed at 1e-12, its own config.json field names.
DISTILBERT = ArchitectureSpec(
    model_type="distilbert",
    prefixes=("", "distilbert.", "model."),
    embeddings={
        "word_embeddings": "embeddings.word_embeddings.weight",
        "position_embeddings": "embeddings.position_embeddings.weight",
        "norm_gamma": "embeddings.LayerNorm.weight",
        "norm_beta": "embeddings.LayerNorm.bias",
    },
    layer={
        "qkv_kernel": (
            "transformer.layer.{i}.attention.q_lin.weight",
            "transformer.layer.{i}.attention.k_lin.weight",
            "transformer.layer.{i}.attention.v_lin.weight",
        ),
        "qkv_bias": (
            "transformer.layer.{i}.attention.q_lin.bias",
            "transformer.layer.{i}.attention.k_lin.bias",
            "transformer.layer.{i}.attention.v_lin.bias",
        ),
        "attention_output_kernel": "transformer.layer.{i}.attention.out_lin.weight",
        "attention_output_bias": "transformer.layer.{i}.attention.out_lin.bias",
        "attention_norm_gamma": "transformer.layer.{i}.sa_layer_norm.weight",
        "attention_norm_beta": "transformer.layer.{i}.sa_layer_norm.bias",
        "intermediate_kernel": "transformer.layer.{i}.ffn.lin1.weight",
        "intermediate_bias": "transformer.layer.{i}.ffn.lin1.bias",
        "output_kernel": "transformer.layer.{i}.ffn.lin2.weight",
        "output_bias": "transformer.layer.{i}.ffn.lin2.bias",
        "output_norm_gamma": "transformer.layer.{i}.output_layer_norm.weight",
        "output_norm_beta": "transformer.layer.{i}.output_layer_norm.bias",
    },
    linear_weights=BERT.linear_weights,
    hf_class="DistilBertModel",
    token_types=False,
    config_names={
        "hidden_size": "dim",
        "num_hidden_layers": "n_layers",
        "num_attention_heads": "n_heads",
        "intermediate_size": "hidden_dim",
        "hidden_act": "activation",
        "hidden_dropout_prob": "dropout",
        "attention_probs_dropout_prob": "attention_dropout",
    },
    config_absent=frozenset({"layer_norm_eps", "type_vocab_size"}),
)

ARCHITECTURES: dict[str, ArchitectureSpec] = {
    spec.model_type: spec for spec in (BERT, MPNET, ROBERTA, XLM_ROBERTA, DISTILBERT)
}


def get_architecture(model_type: str) -> ArchitectureSpec:
    """The spec for ``model_type``, or a clear error listing the supported ones."""
    try:
        return ARCHITECTURES[model_type]
    except KeyError:
        raise ValueError(
            f"Unsupported architecture model_type={model_type!r} in config.json; "
            f"keras-siamese supports: {sorted(ARCHITECTURES)}."
        ) from None
