"""Mega-batch margin loss (Wieting & Gimpel, "ParaNMT-50M: Pushing the Limits of Paraphrastic
Sentence Embeddings with Millions of Machine Translations", ACL 2018), as sentence-transformers'
``MegaBatchMarginLoss``."""

import keras
from keras import ops

from keras_siamese import similarity as metrics
from keras_siamese.losses.base import SiameseLoss, stacked


def mega_batch_margin_loss(
    y_true, y_pred, positive_margin: float = 0.8, negative_margin: float = 0.3
):
    """Per anchor ``relu(positive_margin - cos(a_i, p_i)) + relu(max_{j != i} cos(a_i, p_j) -
    negative_margin)``, ``[B]``: the hardest negative of each anchor is the most similar other
    positive of the batch.

    ``y_pred``: pair embeddings ``[B, 2, D]`` (anchor, positive); ``y_true`` is ignored. This is
    the math of sentence-transformers' loss on the whole batch: its mini-batched version (the
    default) only saves memory and gives the same value and gradient.
    """
    anchors, positives = stacked(y_pred, 2, "mega_batch_margin_loss")
    scores = metrics.similarity("cosine").matrix(anchors, positives)
    diagonal = ops.eye(ops.shape(scores)[0], dtype="bool")
    positive_scores = ops.sum(ops.where(diagonal, scores, 0.0), axis=1)
    hardest_negative = ops.max(ops.where(diagonal, float("-inf"), scores), axis=1)
    return ops.relu(positive_margin - positive_scores) + ops.relu(
        hardest_negative - negative_margin
    )


@keras.saving.register_keras_serializable(package="keras_siamese")
class MegaBatchMarginLoss(SiameseLoss):
    """Triplet-style margins on each pair's positive and its hardest in-batch negative.

    Data: (anchor, positive) pairs, no labels. The negatives come from the other pairs' positives,
    so large batches (hundreds of pairs) give harder negatives.

    Args:
        positive_margin: ``cos(anchor, positive)`` should exceed it (default 0.8).
        negative_margin: ``cos(anchor, hardest negative)`` should stay below it (default 0.3).

    Inputs: ``y_true`` ignored (dummy zeros), ``y_pred`` ``[B, 2, D]`` (``anchor``, ``positive``).

    >>> import numpy as np
    >>> loss = MegaBatchMarginLoss()
    >>> embeddings = np.array([[[1.0, 0.0], [1.0, 0.1]], [[0.0, 1.0], [0.1, 1.0]]])
    >>> round(float(loss(np.zeros(2), embeddings)), 4)  # similar positives, orthogonal negatives
    0.0
    """

    registry_name = "mega-batch-margin"
    roles = ("anchor", "positive")
    label_kind = "none"

    def __init__(
        self,
        positive_margin: float = 0.8,
        negative_margin: float = 0.3,
        reduction: str | None = "sum_over_batch_size",
        name: str = "mega_batch_margin_loss",
        dtype=None,
    ) -> None:
        super().__init__(
            mega_batch_margin_loss,
            reduction=reduction,
            name=name,
            dtype=dtype,
            positive_margin=positive_margin,
            negative_margin=negative_margin,
        )
