"""CoSENT loss (Su, "CoSENT: a more efficient sentence vector scheme than Sentence-BERT", 2022;
Huang et al., IEEE/ACM TASLP 2024), as sentence-transformers' ``CoSENTLoss``."""

import keras
from keras import ops

from keras_siamese.losses.base import SiameseLoss, flat, metric, pair_scores

_MASKED = -1e12


def cosent_loss(y_true, y_pred, scale: float = 20.0, distance: str = "cosine"):
    """Batch-level (scalar) ``log(1 + sum over y_i > y_j of exp(scale * (s_j - s_i)))``.

    ``y_true``: similarity labels ``[B]`` (only their order matters); ``y_pred``: similarities
    ``[B]`` or pair embeddings ``[B, 2, D]`` scored with ``distance`` (a distance is negated).
    """
    scores = scale * pair_scores(y_pred, distance, similarity=True)
    labels = flat(y_true)
    differences = ops.expand_dims(scores, 0) - ops.expand_dims(scores, 1)  # [i, j] = s_j - s_i
    ranked = ops.expand_dims(labels, 1) > ops.expand_dims(labels, 0)  # y_i > y_j
    differences = ops.reshape(ops.where(ranked, differences, _MASKED), (-1,))
    return ops.logsumexp(ops.concatenate([ops.zeros((1,), differences.dtype), differences]))


@keras.saving.register_keras_serializable(package="keras_siamese")
class CoSENTLoss(SiameseLoss):
    """Penalises every pair of pairs whose similarities are ranked against their labels.

    Data: pairs with float similarity labels. Returns one value per batch.

    >>> import keras_siamese, numpy as np
    >>> loss = CoSENTLoss()  # cosine, scale 20
    >>> round(float(loss(np.array([1.0, 0.0]), np.array([0.9, 0.2]))), 4)  # cosines
    0.0
    """

    def __init__(
        self,
        scale: float = 20.0,
        distance: str = "cosine",
        reduction: str | None = "sum_over_batch_size",
        name: str = "cosent_loss",
        dtype=None,
    ) -> None:
        metric(distance, similarity=True)
        super().__init__(
            cosent_loss, reduction=reduction, name=name, dtype=dtype, scale=scale, distance=distance
        )
