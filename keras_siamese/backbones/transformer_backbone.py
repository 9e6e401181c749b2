"""A BERT-family transformer encoder, numerically equal to the Hugging Face model."""

from collections.abc import Iterator

import keras

from keras_siamese.backbones.architectures import get_architecture
from keras_siamese.backbones.transformer_config import TransformerConfig
from keras_siamese.backbones.transformer_layers import (
    RelativePositionBias,
    TransformerBlock,
    TransformerEmbeddings,
)

# (checkpoint key, or keys fused along the output axis; the variable; stored as [out, in]?)
WeightBinding = tuple[str | tuple[str, ...], keras.Variable, bool]


@keras.saving.register_keras_serializable(package="keras_siamese")
class TransformerBackbone(keras.layers.Layer):
    """Token ids and attention mask in, contextual token embeddings ``[batch, length, hidden]`` out.

    >>> config = TransformerConfig(vocab_size=50, hidden_size=8, num_hidden_layers=2,
    ...                            num_attention_heads=2, intermediate_size=16)
    >>> backbone = TransformerBackbone(**config.to_dict())
    >>> ids = keras.ops.array([[2, 7, 3, 0]], dtype="int32")
    >>> mask = keras.ops.array([[1, 1, 1, 0]], dtype="int32")
    >>> tuple(backbone({"input_ids": ids, "attention_mask": mask}).shape)
    (1, 4, 8)
    """

    def __init__(self, **config) -> None:
        base_keys = set(keras.layers.Layer().get_config())
        layer_kwargs = {k: config.pop(k) for k in list(config) if k in base_keys}
        super().__init__(**layer_kwargs)
        self.config = TransformerConfig(**config)
        c = self.config
        self.architecture = get_architecture(c.model_type)
        self.embeddings = TransformerEmbeddings(
            vocab_size=c.vocab_size,
            hidden_size=c.hidden_size,
            max_position_embeddings=c.max_position_embeddings,
            type_vocab_size=c.type_vocab_size,
            layer_norm_eps=c.layer_norm_eps,
            dropout=c.hidden_dropout_prob,
            token_types=self.architecture.token_types,
            padding_idx=c.pad_token_id if self.architecture.padded_positions else None,
            name="embeddings",
        )
        buckets = self.architecture.relative_attention_buckets
        self.relative_position_bias = (
            RelativePositionBias(buckets, c.num_attention_heads, name="relative_position_bias")
            if buckets
            else None
        )
        self.blocks = [
            TransformerBlock(
                hidden_size=c.hidden_size,
                num_heads=c.num_attention_heads,
                intermediate_size=c.intermediate_size,
                activation=c.hidden_act,
                layer_norm_eps=c.layer_norm_eps,
                dropout=c.hidden_dropout_prob,
                attention_dropout=c.attention_probs_dropout_prob,
                name=f"block_{i}",
            )
            for i in range(c.num_hidden_layers)
        ]

    def build(self, input_shape=None) -> None:
        shape = (None, None)
        self.embeddings.build(shape)
        if self.relative_position_bias is not None:
            self.relative_position_bias.build(shape)
        for block in self.blocks:
            block.build((None, None, self.config.hidden_size))

    def call(self, inputs, training=None):
        mask = inputs["attention_mask"]
        x = self.embeddings(inputs["input_ids"], training=training)
        if self.relative_position_bias is None:
            for block in self.blocks:
                x = block(x, mask, training=training)
            return x
        bias = self.relative_position_bias(inputs["input_ids"])  # once, for every layer
        for block in self.blocks:
            x = block(x, mask, bias, training=training)
        return x

    def compute_output_shape(self, input_shape):
        ids_shape = input_shape["input_ids"]
        return (*ids_shape, self.config.hidden_size)

    def weight_bindings(self) -> Iterator[WeightBinding]:
        """Pairs each variable with its name(s) in a Hugging Face checkpoint."""
        spec, emb = self.architecture, self.embeddings
        token_types = emb.token_type_embeddings
        embedding_vars = {
            "word_embeddings": emb.word_embeddings.embeddings,
            "position_embeddings": emb.position_embeddings.embeddings,
            "token_type_embeddings": None if token_types is None else token_types.embeddings,
            "norm_gamma": emb.norm.gamma,
            "norm_beta": emb.norm.beta,
        }
        for role, variable in embedding_vars.items():
            if variable is not None:
                yield spec.embeddings[role], variable, False
        if self.relative_position_bias is not None:
            table = self.relative_position_bias.relative_attention_bias.embeddings
            yield spec.shared["relative_attention_bias"], table, False
        for i, block in enumerate(self.blocks):
            block_vars = {
                "qkv_kernel": block.qkv.kernel,
                "qkv_bias": block.qkv.bias,
                "attention_output_kernel": block.attention_output.kernel,
                "attention_output_bias": block.attention_output.bias,
                "attention_norm_gamma": block.attention_norm.gamma,
                "attention_norm_beta": block.attention_norm.beta,
                "intermediate_kernel": block.intermediate.kernel,
                "intermediate_bias": block.intermediate.bias,
                "output_kernel": block.output_dense.kernel,
                "output_bias": block.output_dense.bias,
                "output_norm_gamma": block.output_norm.gamma,
                "output_norm_beta": block.output_norm.beta,
            }
            for role, variable in block_vars.items():
                template = spec.layer[role]
                keys = (
                    tuple(t.format(i=i) for t in template)
                    if isinstance(template, tuple)
                    else template.format(i=i)
                )
                yield keys, variable, role in spec.linear_weights

    def get_config(self) -> dict:
        return {**super().get_config(), **self.config.to_dict()}
