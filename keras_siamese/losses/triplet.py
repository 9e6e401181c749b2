"""Triplet loss (Schroff, Kalenichenko & Philbin, "FaceNet", CVPR 2015; Hermans, Beyer & Leibe,
"In Defense of the Triplet Loss for Person Re-Identification", 2017), as sentence-transformers'
``TripletLoss``."""

import keras
from keras import ops

from keras_siamese.losses.base import SiameseLoss, metric, triplet_distances


def triplet_loss(y_true, y_pred, margin: float = 5.0, distance: str = "euclidean"):
    """Per triplet ``relu(d(a, p) - d(a, n) + margin)``, shape ``[B]``.

    ``y_pred``: ``[B, 2]`` distances (d(a, p), d(a, n)) or ``[B, 3, D]`` embeddings measured with
    ``distance`` (a distance). ``y_true`` is ignored (feed dummy labels, e.g. zeros).
    """
    positive, negative = triplet_distances(y_pred, distance)
    return ops.relu(positive - negative + margin)


@keras.saving.register_keras_serializable(package="keras_siamese")
class TripletLoss(SiameseLoss):
    """Makes each anchor closer to its positive than to its negative by at least ``margin``.

    Data: (anchor, positive, negative) triplets, no labels.

    >>> import keras_siamese, numpy as np
    >>> loss = TripletLoss()  # euclidean, margin 5
    >>> round(float(loss(np.zeros(2), np.array([[1.0, 2.0], [1.0, 9.0]]))), 4)  # [d_ap, d_an]
    2.0
    """

    def __init__(
        self,
        margin: float = 5.0,
        distance: str = "euclidean",
        reduction: str | None = "sum_over_batch_size",
        name: str = "triplet_loss",
        dtype=None,
    ) -> None:
        metric(distance, similarity=False)
        super().__init__(
            triplet_loss,
            reduction=reduction,
            name=name,
            dtype=dtype,
            margin=margin,
            distance=distance,
        )
