"""Contrastive loss (Hadsell, Chopra & LeCun, "Dimensionality Reduction by Learning an Invariant
Mapping", CVPR 2006), as sentence-transformers' ``ContrastiveLoss``."""

import keras
from keras import ops

from keras_siamese import similarity as metrics
from keras_siamese.losses.base import SiameseLoss, flat, stacked


def contrastive_loss(y_true, y_pred, margin: float = 0.5, distance: str = "cosine"):
    """Per pair ``0.5 * (y * d² + (1 - y) * relu(margin - d)²)``, shape ``[B]``.

    ``y_true``: 1 for similar, 0 for dissimilar pairs. ``y_pred``: pair embeddings ``[B, 2, D]``,
    measured with ``distance`` (a name in ``keras_siamese.similarity.DISTANCES``; ``"cosine"`` is
    1 - cosine similarity).
    """
    a, b = stacked(y_pred, 2, "contrastive_loss")
    d = metrics.distance(distance).rowwise(a, b)
    y = ops.cast(flat(y_true), d.dtype)
    return 0.5 * (y * ops.square(d) + (1.0 - y) * ops.square(ops.relu(margin - d)))


@keras.saving.register_keras_serializable(package="keras_siamese")
class ContrastiveLoss(SiameseLoss):
    """Pulls similar pairs together and pushes dissimilar ones beyond ``margin``.

    Data: pairs with binary labels. ``size_average`` averages over the batch (True) or sums.

    >>> import numpy as np
    >>> loss = ContrastiveLoss()  # cosine distance, margin 0.5
    >>> pairs = np.array([[[1.0, 0.0], [1.0, 0.0]], [[1.0, 0.0], [0.0, 1.0]]])  # distances 0, 1
    >>> round(float(loss(np.array([1.0, 0.0]), pairs)), 4)
    0.0
    """

    registry_name = "contrastive"
    roles = ("text_a", "text_b")
    label_kind = "binary"

    def __init__(
        self,
        margin: float = 0.5,
        distance: str = "cosine",
        size_average: bool = True,
        name: str = "contrastive_loss",
        dtype=None,
    ) -> None:
        super().__init__(
            contrastive_loss,
            reduction="sum_over_batch_size" if size_average else "sum",
            name=name,
            dtype=dtype,
            margin=margin,
            distance=distance,
        )
        self.size_average = size_average

    def get_config(self) -> dict:
        config = super().get_config()
        del config["reduction"]
        return {**config, "size_average": self.size_average}
