"""Triplet loss (Schroff, Kalenichenko & Philbin, "FaceNet", CVPR 2015; Hermans, Beyer & Leibe,
"In Defense of the Triplet Loss for Person Re-Identification", 2017), as sentence-transformers'
``TripletLoss``."""

import keras
from keras import ops

from keras_siamese import similarity as metrics
from keras_siamese.losses.base import SiameseLoss, stacked


def triplet_loss(y_true, y_pred, margin: float = 5.0, distance: str = "euclidean"):
    """Per triplet ``relu(d(a, p) - d(a, n) + margin)``, shape ``[B]``.

    ``y_pred``: ``[B, 3, D]`` (anchor, positive, negative) embeddings measured with ``distance``
    (a name in ``keras_siamese.similarity.DISTANCES``). ``y_true`` is ignored (dummy zeros).
    """
    anchor, positive, negative = stacked(y_pred, 3, "triplet_loss")
    measure = metrics.distance(distance).rowwise
    return ops.relu(measure(anchor, positive) - measure(anchor, negative) + margin)


@keras.saving.register_keras_serializable(package="keras_siamese")
class TripletLoss(SiameseLoss):
    """Makes each anchor closer to its positive than to its negative by at least ``margin``.

    Data: (anchor, positive, negative) triplets, no labels.

    >>> import numpy as np
    >>> loss = TripletLoss()  # euclidean, margin 5
    >>> triplet = np.array([[[0.0, 0.0], [1.0, 0.0], [3.0, 0.0]]])  # d(a, p) = 1, d(a, n) = 3
    >>> round(float(loss(np.zeros(1), triplet)), 4)  # 1 - 3 + 5
    3.0
    """

    registry_name = "triplet"
    roles = ("anchor", "positive", "negative")
    label_kind = "none"

    def __init__(
        self,
        margin: float = 5.0,
        distance: str = "euclidean",
        reduction: str | None = "sum_over_batch_size",
        name: str = "triplet_loss",
        dtype=None,
    ) -> None:
        super().__init__(
            triplet_loss,
            reduction=reduction,
            name=name,
            dtype=dtype,
            margin=margin,
            distance=distance,
        )
