"""Cosine similarity loss: squared error between the pair's cosine and its label, as
sentence-transformers' ``CosineSimilarityLoss`` (the SBERT regression objective; Reimers &
Gurevych, "Sentence-BERT", EMNLP 2019)."""

import keras
from keras import ops

from keras_siamese.losses.base import SiameseLoss, flat, metric, pair_scores


def cosine_similarity_loss(y_true, y_pred, distance: str = "cosine"):
    """Per pair ``(s - y)²``, shape ``[B]`` (its mean is the MSE).

    ``y_true``: similarity labels, usually in ``[0, 1]``; ``y_pred``: similarities ``[B]`` or pair
    embeddings ``[B, 2, D]`` scored with ``distance``.
    """
    scores = pair_scores(y_pred, distance, similarity=True)
    return ops.square(scores - ops.cast(flat(y_true), scores.dtype))


@keras.saving.register_keras_serializable(package="keras_siamese")
class CosineSimilarityLoss(SiameseLoss):
    """Regresses the pair's cosine similarity onto its label (mean squared error).

    Data: pairs with float similarity labels.

    >>> import keras_siamese, numpy as np
    >>> loss = CosineSimilarityLoss()
    >>> round(float(loss(np.array([1.0, 0.0]), np.array([0.8, 0.4]))), 4)  # cosines
    0.1
    """

    def __init__(
        self,
        distance: str = "cosine",
        reduction: str | None = "sum_over_batch_size",
        name: str = "cosine_similarity_loss",
        dtype=None,
    ) -> None:
        metric(distance, similarity=True)
        super().__init__(
            cosine_similarity_loss, reduction=reduction, name=name, dtype=dtype, distance=distance
        )
