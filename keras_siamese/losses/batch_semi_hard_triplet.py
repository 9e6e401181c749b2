"""Batch semi-hard triplet loss (Schroff, Kalenichenko & Philbin, "FaceNet", CVPR 2015), as
sentence-transformers' ``BatchSemiHardTripletLoss``."""

import keras
from keras import ops

from keras_siamese.losses.base import SiameseLoss, class_distances


def batch_semi_hard_triplet_loss(y_true, y_pred, margin: float = 5.0, distance: str = "euclidean"):
    """Batch-level (scalar) mean over anchor-positive pairs of ``relu(d(a, p) - d(a, n) + margin)``.

    ``n`` is the semi-hard negative: the closest negative farther than the positive, else the
    farthest negative. ``y_true``: int class labels ``[B]``; ``y_pred``: embeddings ``[B, D]``.
    Builds a ``[B, B, B]`` tensor.
    """
    distances, positive, negative = class_distances(y_true, y_pred, distance)
    negative_distances = ops.expand_dims(distances, 1)  # [anchor, 1, negative]
    farther = ops.logical_and(
        ops.expand_dims(negative, 1), negative_distances > ops.expand_dims(distances, 2)
    )  # [anchor, positive, negative]
    closest_farther = ops.min(ops.where(farther, negative_distances, float("inf")), axis=2)
    row_min = ops.min(distances, axis=1, keepdims=True)
    farthest = row_min + ops.max(
        (distances - row_min) * ops.cast(negative, distances.dtype), axis=1, keepdims=True
    )
    semi_hard = ops.where(ops.any(farther, axis=2), closest_farther, farthest)
    positive = ops.cast(positive, distances.dtype)
    losses = ops.relu((distances - semi_hard + margin) * positive)
    return ops.sum(losses) / ops.maximum(ops.sum(positive), 1e-16)


@keras.saving.register_keras_serializable(package="keras_siamese")
class BatchSemiHardTripletLoss(SiameseLoss):
    """Triplet loss on every anchor-positive pair with its semi-hard negative in the batch.

    Data: single texts with class labels. Returns one value per batch.

    >>> import numpy as np
    >>> loss = BatchSemiHardTripletLoss(margin=1.0)
    >>> embeddings = np.array([[0.0, 0.0], [0.0, 1.0], [1.5, 0.0], [1.5, 1.0]])
    >>> round(float(loss(np.array([0, 0, 1, 1]), embeddings)), 4)
    0.5
    """

    registry_name = "batch-semi-hard-triplet"
    roles = ("text",)
    label_kind = "class"

    def __init__(
        self,
        margin: float = 5.0,
        distance: str = "euclidean",
        reduction: str | None = "sum_over_batch_size",
        name: str = "batch_semi_hard_triplet_loss",
        dtype=None,
    ) -> None:
        super().__init__(
            batch_semi_hard_triplet_loss,
            reduction=reduction,
            name=name,
            dtype=dtype,
            margin=margin,
            distance=distance,
        )
