"""Sentence encoders: a BERT-family backbone, pooling, projection and normalisation."""

from keras_siamese.encoders.architectures import ARCHITECTURES, ArchitectureSpec
from keras_siamese.encoders.dense_projection import DenseProjection
from keras_siamese.encoders.normalize import Normalize
from keras_siamese.encoders.presets import DEFAULT_MODEL, PRESETS, resolve_model_path
from keras_siamese.encoders.sentence_encoder import SentenceEncoder
from keras_siamese.encoders.transformer_backbone import TransformerBackbone
from keras_siamese.encoders.transformer_config import TransformerConfig

__all__ = [
    "ARCHITECTURES",
    "DEFAULT_MODEL",
    "PRESETS",
    "ArchitectureSpec",
    "DenseProjection",
    "Normalize",
    "SentenceEncoder",
    "TransformerBackbone",
    "TransformerConfig",
    "resolve_model_path",
]
