"""Multiple negatives ranking loss, i.e. InfoNCE with in-batch negatives (Henderson et al.,
"Efficient Natural Language Response Suggestion for Smart Reply", 2017), as sentence-transformers'
``MultipleNegativesRankingLoss`` (and, with ``symmetric=True``, its symmetric variant)."""

import keras
from keras import ops

from keras_siamese import similarity as metrics
from keras_siamese.losses.base import SiameseLoss, stacked


def _ranking_cross_entropy(scores):
    """Cross-entropy of each row of ``scores`` ``[B, M]`` against the correct column ``i``."""
    return keras.losses.sparse_categorical_crossentropy(
        ops.arange(ops.shape(scores)[0]), scores, from_logits=True
    )


def multiple_negatives_ranking_loss(
    y_true, y_pred, scale: float = 20.0, similarity: str = "cosine", symmetric: bool = False
):
    """Per anchor cross-entropy of finding its positive among all the batch's candidates, ``[B]``.

    ``y_pred``: stacked embeddings ``[B, 2 + k, D]`` (anchor, positive, k hard negatives); every
    other example's positive and negatives are negatives too. Scores are ``scale`` times
    ``similarity``. ``symmetric`` averages with the positive -> anchor direction (each positive
    against all anchors). ``y_true`` is ignored.
    """
    anchors, *others = stacked(y_pred, 2, "multiple_negatives_ranking_loss", more=True)
    candidates = ops.concatenate(others, axis=0)
    score = metrics.similarity(similarity).matrix
    losses = _ranking_cross_entropy(scale * score(anchors, candidates))
    if symmetric:
        losses = 0.5 * (losses + _ranking_cross_entropy(scale * score(others[0], anchors)))
    return losses


@keras.saving.register_keras_serializable(package="keras_siamese")
class MultipleNegativesRankingLoss(SiameseLoss):
    """Ranks each anchor's positive above every other candidate in the batch.

    Data: (anchor, positive) pairs, optionally with hard negatives, no labels. Larger batches
    give more negatives.

    >>> import numpy as np
    >>> loss = MultipleNegativesRankingLoss()  # cosine, scale 20
    >>> embeddings = np.array([[[1.0, 0.0], [1.0, 0.1]], [[0.0, 1.0], [0.1, 1.0]]])
    >>> round(float(loss(np.zeros(2), embeddings)), 4)  # [B=2, anchor+positive, D=2]
    0.0
    """

    registry_name = "mnrl"
    roles = ("anchor", "positive")
    label_kind = "none"
    takes_negatives = True

    def __init__(
        self,
        scale: float = 20.0,
        similarity: str = "cosine",
        symmetric: bool = False,
        reduction: str | None = "sum_over_batch_size",
        name: str = "multiple_negatives_ranking_loss",
        dtype=None,
    ) -> None:
        super().__init__(
            multiple_negatives_ranking_loss,
            reduction=reduction,
            name=name,
            dtype=dtype,
            scale=scale,
            similarity=similarity,
            symmetric=symmetric,
        )
