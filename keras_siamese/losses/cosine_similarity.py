"""Cosine similarity loss: squared error between the pair's cosine and its label, as
sentence-transformers' ``CosineSimilarityLoss`` (the SBERT regression objective; Reimers &
Gurevych, "Sentence-BERT", EMNLP 2019)."""

import keras
from keras import ops

from keras_siamese import similarity as metrics
from keras_siamese.losses.base import SiameseLoss, flat, stacked


def cosine_similarity_loss(y_true, y_pred, similarity: str = "cosine"):
    """Per pair ``(s - y)²``, shape ``[B]`` (its mean is the MSE).

    ``y_true``: similarity labels, usually in ``[0, 1]``; ``y_pred``: pair embeddings
    ``[B, 2, D]``, scored with ``similarity``.
    """
    a, b = stacked(y_pred, 2, "cosine_similarity_loss")
    scores = metrics.similarity(similarity).rowwise(a, b)
    return ops.square(scores - ops.cast(flat(y_true), scores.dtype))


@keras.saving.register_keras_serializable(package="keras_siamese")
class CosineSimilarityLoss(SiameseLoss):
    """Regresses the pair's cosine similarity onto its label (mean squared error).

    Data: pairs with float similarity labels.

    >>> import numpy as np
    >>> loss = CosineSimilarityLoss()
    >>> pairs = np.array([[[1.0, 0.0], [1.0, 0.0]], [[1.0, 0.0], [0.0, 1.0]]])  # cosines 1, 0
    >>> round(float(loss(np.array([1.0, 0.0]), pairs)), 4)
    0.0
    """

    registry_name = "cosine"
    roles = ("text_a", "text_b")
    label_kind = "score"

    def __init__(
        self,
        similarity: str = "cosine",
        reduction: str | None = "sum_over_batch_size",
        name: str = "cosine_similarity_loss",
        dtype=None,
    ) -> None:
        super().__init__(
            cosine_similarity_loss,
            reduction=reduction,
            name=name,
            dtype=dtype,
            similarity=similarity,
        )
