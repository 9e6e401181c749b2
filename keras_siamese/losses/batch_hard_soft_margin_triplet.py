"""Batch-hard triplet loss with a soft margin (Hermans, Beyer & Leibe, "In Defense of the Triplet
Loss for Person Re-Identification", 2017), as sentence-transformers'
``BatchHardSoftMarginTripletLoss``."""

import keras
from keras import ops

from keras_siamese.losses.base import SiameseLoss
from keras_siamese.losses.batch_hard_triplet import hardest_distances


def batch_hard_soft_margin_triplet_loss(y_true, y_pred, distance: str = "euclidean"):
    """Per anchor ``log(1 + exp(hardest positive distance - hardest negative distance))``, ``[B]``.

    ``y_true``: int class labels ``[B]``; ``y_pred``: embeddings ``[B, D]``. The softplus replaces
    the hinge and its margin: every triplet keeps pulling, ever more gently.
    """
    hardest_positive, hardest_negative = hardest_distances(y_true, y_pred, distance)
    return ops.softplus(hardest_positive - hardest_negative)


@keras.saving.register_keras_serializable(package="keras_siamese")
class BatchHardSoftMarginTripletLoss(SiameseLoss):
    """Soft-margin triplet loss on each anchor's hardest positive and hardest negative in the batch.

    Data: single texts with class labels; batches need several examples per class (label-grouped
    batches: ``BatchPlan(..., group_by_label=True)``).

    Args:
        distance: a name in ``keras_siamese.similarity.DISTANCES`` (default ``"euclidean"``).

    Inputs: ``y_true`` ``[B]`` int class ids, ``y_pred`` ``[B, D]`` (``text``).

    >>> import numpy as np
    >>> loss = BatchHardSoftMarginTripletLoss()
    >>> embeddings = np.array([[0.0, 0.0], [0.0, 1.0], [3.0, 0.0], [3.0, 1.0]])
    >>> round(float(loss(np.array([0, 0, 1, 1]), embeddings)), 4)  # softplus(1 - 3) for each
    0.1269
    """

    registry_name = "batch-hard-soft-margin-triplet"
    roles = ("text",)
    label_kind = "class"

    def __init__(
        self,
        distance: str = "euclidean",
        reduction: str | None = "sum_over_batch_size",
        name: str = "batch_hard_soft_margin_triplet_loss",
        dtype=None,
    ) -> None:
        super().__init__(
            batch_hard_soft_margin_triplet_loss,
            reduction=reduction,
            name=name,
            dtype=dtype,
            distance=distance,
        )
