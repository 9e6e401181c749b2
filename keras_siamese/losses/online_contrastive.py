"""Online contrastive loss: the contrastive loss on the batch's hard pairs only, as
sentence-transformers' ``OnlineContrastiveLoss`` (after Hadsell et al. 2006)."""

import keras
from keras import ops

from keras_siamese import similarity as metrics
from keras_siamese.losses.base import SiameseLoss, flat, stacked


def _masked_mean(values, mask):
    count = ops.sum(ops.cast(mask, values.dtype))
    return ops.sum(ops.where(mask, values, 0.0)) / ops.maximum(count, 1.0)


def online_contrastive_loss(y_true, y_pred, margin: float = 0.5, distance: str = "cosine"):
    """Batch-level (scalar) sum of ``d²`` over hard positives plus ``relu(margin - d)²`` over hard
    negatives.

    Hard positives are farther than the closest negative, hard negatives closer than the
    farthest positive (with no pair of the other kind, the mean of the own kind is the
    threshold). Labels other than 0 and 1 are ignored. ``y_pred`` as for ``contrastive_loss``.
    """
    a, b = stacked(y_pred, 2, "online_contrastive_loss")
    d = metrics.distance(distance).rowwise(a, b)
    y = ops.cast(flat(y_true), d.dtype)
    positive, negative = ops.equal(y, 1.0), ops.equal(y, 0.0)
    farthest_positive = ops.where(
        ops.any(positive), ops.max(ops.where(positive, d, -float("inf"))), _masked_mean(d, negative)
    )
    closest_negative = ops.where(
        ops.any(negative), ops.min(ops.where(negative, d, float("inf"))), _masked_mean(d, positive)
    )
    hard_positive = ops.logical_and(positive, d > closest_negative)
    hard_negative = ops.logical_and(negative, d < farthest_positive)
    return ops.sum(ops.where(hard_positive, ops.square(d), 0.0)) + ops.sum(
        ops.where(hard_negative, ops.square(ops.relu(margin - d)), 0.0)
    )


@keras.saving.register_keras_serializable(package="keras_siamese")
class OnlineContrastiveLoss(SiameseLoss):
    """Contrastive loss on hard pairs only; often better than ``ContrastiveLoss``.

    Data: pairs with binary labels. Returns one value per batch (a sum, not a mean), which
    Keras' reduction leaves as it is; ``sample_weight`` does not apply.

    >>> import numpy as np
    >>> loss = OnlineContrastiveLoss()  # cosine distance, margin 0.5
    >>> a = np.array([[1.0, 0.0], [1.0, 0.0]])
    >>> b = np.array([[0.0, 1.0], [1.0, 0.0]])  # cosine distances 1 (labelled 1) and 0 (labelled 0)
    >>> round(float(loss(np.array([1.0, 0.0]), np.stack([a, b], axis=1))), 4)  # 1² + 0.5²
    1.25
    """

    registry_name = "online-contrastive"
    roles = ("text_a", "text_b")
    label_kind = "binary"

    def __init__(
        self,
        margin: float = 0.5,
        distance: str = "cosine",
        reduction: str | None = "sum_over_batch_size",
        name: str = "online_contrastive_loss",
        dtype=None,
    ) -> None:
        super().__init__(
            online_contrastive_loss,
            reduction=reduction,
            name=name,
            dtype=dtype,
            margin=margin,
            distance=distance,
        )
