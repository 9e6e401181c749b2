"""CoSENT loss (Su, "CoSENT: a more efficient sentence vector scheme than Sentence-BERT", 2022;
Huang et al., IEEE/ACM TASLP 2024), as sentence-transformers' ``CoSENTLoss``."""

import keras
from keras import ops

from keras_siamese import similarity as metrics
from keras_siamese.losses.base import SiameseLoss, flat, stacked

_MASKED = -1e12


def cosent_loss(y_true, y_pred, scale: float = 20.0, similarity: str = "cosine"):
    """Batch-level (scalar) ``log(1 + sum over y_i > y_j of exp(scale * (s_j - s_i)))``.

    ``y_true``: similarity labels ``[B]`` (only their order matters); ``y_pred``: pair embeddings
    ``[B, 2, D]``, scored with ``similarity`` (a name in ``keras_siamese.similarity.SIMILARITIES``).
    """
    a, b = stacked(y_pred, 2, "cosent_loss")
    scores = scale * metrics.similarity(similarity).rowwise(a, b)
    labels = flat(y_true)
    differences = ops.expand_dims(scores, 0) - ops.expand_dims(scores, 1)  # [i, j] = s_j - s_i
    ranked = ops.expand_dims(labels, 1) > ops.expand_dims(labels, 0)  # y_i > y_j
    differences = ops.reshape(ops.where(ranked, differences, _MASKED), (-1,))
    return ops.logsumexp(ops.concatenate([ops.zeros((1,), differences.dtype), differences]))


@keras.saving.register_keras_serializable(package="keras_siamese")
class CoSENTLoss(SiameseLoss):
    """Penalises every pair of pairs whose similarities are ranked against their labels.

    Data: pairs with float similarity labels. Returns one value per batch.

    >>> import numpy as np
    >>> loss = CoSENTLoss()  # cosine, scale 20
    >>> pairs = np.array([[[1.0, 0.0], [1.0, 0.1]], [[1.0, 0.0], [0.0, 1.0]]])  # [B, 2, D]
    >>> round(float(loss(np.array([1.0, 0.0]), pairs)), 4)  # ranked as labelled
    0.0
    """

    registry_name = "cosent"
    roles = ("text_a", "text_b")
    label_kind = "score"

    def __init__(
        self,
        scale: float = 20.0,
        similarity: str = "cosine",
        reduction: str | None = "sum_over_batch_size",
        name: str = "cosent_loss",
        dtype=None,
    ) -> None:
        super().__init__(
            cosent_loss,
            reduction=reduction,
            name=name,
            dtype=dtype,
            scale=scale,
            similarity=similarity,
        )
