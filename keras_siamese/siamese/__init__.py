"""Siamese functional models sharing one encoder, and pair-score layers for inference."""

from keras_siamese import backend  # noqa: F401  (selects the TensorFlow backend first)

# isort: split
from keras_siamese.siamese.distances import (
    SCORE_LAYERS,
    CosineDistance,
    CosineSimilarity,
    DotProduct,
    EuclideanDistance,
    ManhattanDistance,
    PairScore,
    score_layer,
)
from keras_siamese.siamese.joined_roles import JoinRoles, SplitRoles
from keras_siamese.siamese.models import (
    Stack,
    in_batch_model,
    loss_roles,
    pair_model,
    text_inputs,
    training_model,
    triplet_model,
)

__all__ = [
    "SCORE_LAYERS",
    "CosineDistance",
    "CosineSimilarity",
    "DotProduct",
    "EuclideanDistance",
    "JoinRoles",
    "ManhattanDistance",
    "PairScore",
    "SplitRoles",
    "Stack",
    "in_batch_model",
    "loss_roles",
    "pair_model",
    "score_layer",
    "text_inputs",
    "training_model",
    "triplet_model",
]
