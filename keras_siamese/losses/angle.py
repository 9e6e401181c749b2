"""AnglE loss (Li & Li, "AnglE-optimized Text Embeddings", 2023), as sentence-transformers'
``AnglELoss``: CoSENT on the angle similarity (``keras_siamese.similarity.angle_similarity``)."""

import keras

from keras_siamese.losses.base import SiameseLoss
from keras_siamese.losses.cosent import cosent_loss


def angle_loss(y_true, y_pred, scale: float = 20.0):
    """Batch-level (scalar) CoSENT loss with scores ``scale * |cos(a, b) + sin(a, b)|``.

    ``y_true``: similarity labels ``[B]`` (only their order matters); ``y_pred``: pair embeddings
    ``[B, 2, D]``. Optimising the angle difference in complex space avoids the flat gradients of
    the cosine near -1 and 1.
    """
    return cosent_loss(y_true, y_pred, scale=scale, similarity="angle")


@keras.saving.register_keras_serializable(package="keras_siamese")
class AnglELoss(SiameseLoss):
    """CoSENT's ranking of pairs of pairs, scored by the angle similarity instead of the cosine.

    Data: pairs with float similarity labels. Returns one value per batch.

    Args:
        scale: multiplies the angle similarities (sentence-transformers' default, 20).

    Inputs: ``y_true`` ``[B]`` scores, ``y_pred`` ``[B, 2, D]`` (``text_a``, ``text_b``).

    >>> import numpy as np
    >>> loss = AnglELoss()
    >>> pairs = np.array([[[1.0, 0.0], [1.0, -1.0]], [[1.0, 0.0], [1.0, 1.0]]])  # [B, 2, D]
    >>> round(float(loss(np.array([1.0, 0.0]), pairs)), 4)  # ranked as labelled: sqrt(2) > 0
    0.0
    """

    registry_name = "angle"
    roles = ("text_a", "text_b")
    label_kind = "score"

    def __init__(
        self,
        scale: float = 20.0,
        reduction: str | None = "sum_over_batch_size",
        name: str = "angle_loss",
        dtype=None,
    ) -> None:
        super().__init__(angle_loss, reduction=reduction, name=name, dtype=dtype, scale=scale)
