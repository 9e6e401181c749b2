"""Margin MSE loss: regress the student's margin ``sim(query, positive) - sim(query, negative)``
on the teacher's, as sentence-transformers' ``MarginMSELoss`` (Hofstätter et al., "Improving
Efficient Neural Ranking Models with Cross-Architecture Knowledge Distillation", 2020), with any
number of negatives."""

import keras
from keras import ops

from keras_siamese import similarity as metrics
from keras_siamese.losses.base import SiameseLoss, stacked


def teacher_margins(y_true, negatives: int, dtype):
    """The teacher's margins ``[B, k]`` from labels ``[B]`` (one negative), ``[B, k]`` (margins)
    or ``[B, 1 + k]`` (the scores of the positive and of each negative)."""
    labels = ops.stop_gradient(ops.cast(y_true, dtype))
    if len(labels.shape) == 1 and negatives == 1:
        return ops.expand_dims(labels, 1)
    if len(labels.shape) == 2 and labels.shape[1] == negatives + 1:
        return labels[:, :1] - labels[:, 1:]
    if len(labels.shape) == 2 and labels.shape[1] == negatives:
        return labels
    raise ValueError(
        f"margin_mse_loss with {negatives} negative(s) takes teacher margins [B, {negatives}]"
        + (" (or [B])" if negatives == 1 else "")
        + f" or teacher scores [B, {negatives + 1}] as labels; got shape {tuple(labels.shape)}."
    )


def margin_mse_loss(y_true, y_pred, similarity: str = "dot"):
    """Per query squared error between the student's and the teacher's margins, averaged over
    the negatives, shape ``[B]``.

    ``y_pred``: stacked embeddings ``[B, 2 + k, D]`` (query, positive, k >= 1 negatives), scored
    with ``similarity``. ``y_true``: the teacher's margins ``[B]`` / ``[B, k]``, or its scores
    ``[B, 1 + k]`` (positive first), see ``teacher_margins``.
    """
    query, positive, *negatives = stacked(y_pred, 3, "margin_mse_loss", more=True)
    score = metrics.similarity(similarity).rowwise
    positive_scores = score(query, positive)
    margins = ops.stack([positive_scores - score(query, other) for other in negatives], axis=1)
    labels = teacher_margins(y_true, len(negatives), margins.dtype)
    return ops.mean(ops.square(margins - labels), axis=1)


@keras.saving.register_keras_serializable(package="keras_siamese")
class MarginMSELoss(SiameseLoss):
    """Regresses the student's score margins (positive minus each negative) on the teacher's.

    Unlike ``MultipleNegativesRankingLoss``, the "positive" and "negative" documents need not be
    relevant and irrelevant: only the teacher's margin between them is learned.

    Args:
        similarity: how the student scores a (query, document) pair; ``"dot"`` as
            sentence-transformers (any name of ``keras_siamese.similarity.SIMILARITIES``).

    References:
        Hofstätter et al., "Improving Efficient Neural Ranking Models with Cross-Architecture
        Knowledge Distillation", 2020 (https://arxiv.org/abs/2010.02666); sentence-transformers'
        ``losses.MarginMSELoss``.

    Inputs:
        ``anchor`` (the query), ``positive``, ``negative_1`` ... ``negative_k`` (k >= 1) -> the
        teacher's margins ``[B]`` (k = 1) or ``[B, k]``, or its scores ``[B, 1 + k]``
        (``keras_siamese.data.with_teacher_scores``).

    Example:
        >>> import numpy as np
        >>> loss = MarginMSELoss()
        >>> query = [1.0, 0.0]
        >>> triplets = np.array([[query, [2.0, 0.0], [0.5, 1.0]]])  # student margin 2 - 0.5
        >>> float(loss(np.array([1.5]), triplets)), float(loss(np.array([[3.0, 1.5]]), triplets))
        (0.0, 0.0)
    """

    registry_name = "margin-mse"
    roles = ("anchor", "positive")
    label_kind = "scores"
    takes_negatives = True
    min_negatives = 1

    def __init__(
        self,
        similarity: str = "dot",
        reduction: str | None = "sum_over_batch_size",
        name: str = "margin_mse_loss",
        dtype=None,
    ) -> None:
        super().__init__(
            margin_mse_loss, reduction=reduction, name=name, dtype=dtype, similarity=similarity
        )
