"""Batch-all triplet loss (Hermans, Beyer & Leibe, "In Defense of the Triplet Loss for Person
Re-Identification", 2017), as sentence-transformers' ``BatchAllTripletLoss``."""

import keras
from keras import ops

from keras_siamese.losses.base import SiameseLoss, class_distances


def batch_all_triplet_loss(y_true, y_pred, margin: float = 5.0, distance: str = "euclidean"):
    """Batch-level (scalar) mean of ``relu(d(a, p) - d(a, n) + margin)`` over the valid triplets
    of the batch that have a positive loss.

    ``y_true``: int class labels ``[B]``; ``y_pred``: embeddings ``[B, D]``. Builds a
    ``[B, B, B]`` tensor.
    """
    distances, positive, negative = class_distances(y_true, y_pred, distance)
    valid = ops.logical_and(ops.expand_dims(positive, 2), ops.expand_dims(negative, 1))
    losses = ops.expand_dims(distances, 2) - ops.expand_dims(distances, 1) + margin
    losses = ops.relu(ops.where(valid, losses, 0.0))
    active = ops.sum(ops.cast(losses > 1e-16, losses.dtype))
    return ops.sum(losses) / (active + 1e-16)


@keras.saving.register_keras_serializable(package="keras_siamese")
class BatchAllTripletLoss(SiameseLoss):
    """Triplet loss averaged over all the batch's triplets that still violate the margin.

    Data: single texts with class labels. Returns one value per batch.

    >>> import numpy as np
    >>> loss = BatchAllTripletLoss(margin=1.0)
    >>> embeddings = np.array([[0.0, 0.0], [0.0, 1.0], [1.5, 0.0], [1.5, 1.0]])
    >>> round(float(loss(np.array([0, 0, 1, 1]), embeddings)), 4)  # mean of 0.5 and 2 - sqrt(3.25)
    0.3486
    """

    registry_name = "batch-all-triplet"
    roles = ("text",)
    label_kind = "class"

    def __init__(
        self,
        margin: float = 5.0,
        distance: str = "euclidean",
        reduction: str | None = "sum_over_batch_size",
        name: str = "batch_all_triplet_loss",
        dtype=None,
    ) -> None:
        super().__init__(
            batch_all_triplet_loss,
            reduction=reduction,
            name=name,
            dtype=dtype,
            margin=margin,
            distance=distance,
        )
