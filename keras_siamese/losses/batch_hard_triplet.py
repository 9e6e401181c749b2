"""Batch-hard triplet loss (Hermans, Beyer & Leibe, "In Defense of the Triplet Loss for Person
Re-Identification", 2017), as sentence-transformers' ``BatchHardTripletLoss``."""

import keras
from keras import ops

from keras_siamese.losses.base import SiameseLoss, class_distances


def hardest_distances(y_true, y_pred, distance: str = "euclidean"):
    """Each anchor's distance to its farthest same-label and its closest other-label example,
    ``[B]`` each (0 where it has no positive; its row's largest distance where no negative)."""
    distances, positive, negative = class_distances(y_true, y_pred, distance)
    hardest_positive = ops.max(ops.cast(positive, distances.dtype) * distances, axis=1)
    row_max = ops.max(distances, axis=1, keepdims=True)
    hardest_negative = ops.min(
        distances + row_max * (1.0 - ops.cast(negative, distances.dtype)), axis=1
    )
    return hardest_positive, hardest_negative


def batch_hard_triplet_loss(y_true, y_pred, margin: float = 5.0, distance: str = "euclidean"):
    """Per anchor ``relu(hardest positive distance - hardest negative distance + margin)``, ``[B]``.

    ``y_true``: int class labels ``[B]``; ``y_pred``: embeddings ``[B, D]``. Triplets are mined
    online in the batch: the farthest same-label and the closest other-label example.
    """
    hardest_positive, hardest_negative = hardest_distances(y_true, y_pred, distance)
    return ops.relu(hardest_positive - hardest_negative + margin)


@keras.saving.register_keras_serializable(package="keras_siamese")
class BatchHardTripletLoss(SiameseLoss):
    """Triplet loss on each anchor's hardest positive and hardest negative in the batch.

    Data: single texts with class labels; batches need several examples per class.

    >>> import numpy as np
    >>> loss = BatchHardTripletLoss(margin=1.0)
    >>> embeddings = np.array([[0.0, 0.0], [0.0, 1.0], [3.0, 0.0], [3.0, 2.0]])
    >>> round(float(loss(np.array([0, 0, 1, 1]), embeddings)), 4)
    0.0
    """

    registry_name = "batch-hard-triplet"
    roles = ("text",)
    label_kind = "class"

    def __init__(
        self,
        margin: float = 5.0,
        distance: str = "euclidean",
        reduction: str | None = "sum_over_batch_size",
        name: str = "batch_hard_triplet_loss",
        dtype=None,
    ) -> None:
        super().__init__(
            batch_hard_triplet_loss,
            reduction=reduction,
            name=name,
            dtype=dtype,
            margin=margin,
            distance=distance,
        )
