"""Transformer backbones: the architecture table, the config and the Keras layers and model."""

from keras_siamese import backend  # noqa: F401  (selects the TensorFlow backend first)

# isort: split
from keras_siamese.backbones.architectures import ARCHITECTURES, ArchitectureSpec
from keras_siamese.backbones.transformer_backbone import TransformerBackbone
from keras_siamese.backbones.transformer_config import TransformerConfig
from keras_siamese.backbones.transformer_layers import (
    LayerNorm,
    RelativePositionBias,
    TransformerBlock,
    TransformerEmbeddings,
)

__all__ = [
    "ARCHITECTURES",
    "ArchitectureSpec",
    "LayerNorm",
    "RelativePositionBias",
    "TransformerBackbone",
    "TransformerBlock",
    "TransformerConfig",
    "TransformerEmbeddings",
]
