"""Distillation KL divergence loss: the student's softmax over a query's candidates learns the
teacher's, as sentence-transformers' ``DistillKLDivLoss`` (Lin et al., "Distilling Dense
Representations for Ranking using Tightly-Coupled Teachers", 2020)."""

import math

import keras
from keras import ops

from keras_siamese import similarity as metrics
from keras_siamese.losses.base import SiameseLoss, stacked


def distill_kl_div_loss(
    y_true,
    y_pred,
    similarity: str = "dot",
    temperature: float = 1.0,
    student_temperature: float | None = None,
    teacher_temperature: float | None = None,
):
    """Per query ``KL(teacher || student)`` over its candidates, times the student temperature
    squared, shape ``[B]`` (its mean is sentence-transformers' ``batchmean`` value).

    ``y_pred``: stacked embeddings ``[B, 1 + n, D]`` (query, then n >= 2 candidates: positive and
    negatives), scored with ``similarity``. ``y_true``: the teacher's scores ``[B, n]`` for the
    same candidates. Both score rows are divided by their temperature (``student_temperature``,
    ``teacher_temperature``, each ``temperature`` when not given) before the softmax.
    """
    query, *candidates = stacked(y_pred, 3, "distill_kl_div_loss", more=True)
    student_t = temperature if student_temperature is None else student_temperature
    teacher_t = temperature if teacher_temperature is None else teacher_temperature
    score = metrics.similarity(similarity).rowwise
    student = ops.stack([score(query, candidate) for candidate in candidates], axis=1)
    teacher = ops.stop_gradient(ops.cast(y_true, student.dtype))
    if len(teacher.shape) != 2 or teacher.shape[1] not in (None, len(candidates)):
        raise ValueError(
            f"distill_kl_div_loss with {len(candidates)} candidates takes teacher scores "
            f"[B, {len(candidates)}] as labels; got shape {tuple(teacher.shape)}."
        )
    log_student = ops.log_softmax(student / student_t, axis=1)
    log_teacher = ops.log_softmax(teacher / teacher_t, axis=1)
    teacher_probs = ops.exp(log_teacher)
    terms = ops.where(teacher_probs > 0, teacher_probs * (log_teacher - log_student), 0.0)
    return ops.sum(terms, axis=1) * student_t**2


def _checked_temperature(name: str, value: float | None) -> None:
    if value is not None and not 0 < value < math.inf:
        raise ValueError(f"{name} must be a positive finite number, got {value}.")


@keras.saving.register_keras_serializable(package="keras_siamese")
class DistillKLDivLoss(SiameseLoss):
    """The student's distribution over each query's candidates (a softmax of its scores) learns
    the teacher's, by KL divergence: it keeps the teacher's ranking of the candidates.

    Args:
        similarity: how the student scores a (query, candidate) pair; ``"dot"`` as
            sentence-transformers.
        temperature: divides both score rows before the softmax (higher: softer); the loss is
            multiplied by the student's temperature squared.
        student_temperature, teacher_temperature: per-side overrides of ``temperature``.

    References:
        Lin et al., "Distilling Dense Representations for Ranking using Tightly-Coupled
        Teachers", 2020 (https://arxiv.org/abs/2010.11386); sentence-transformers'
        ``losses.DistillKLDivLoss``.

    Inputs:
        ``anchor`` (the query), ``positive``, ``negative_1`` ... ``negative_k`` (k >= 1) -> the
        teacher's scores ``[B, 1 + k]``, positive first (``keras_siamese.data.
        with_teacher_scores``).

    Example:
        >>> import numpy as np
        >>> loss = DistillKLDivLoss()
        >>> rows = np.array([[[1.0, 0.0], [2.0, 0.0], [1.0, 5.0]]])  # student scores 2 and 1
        >>> round(float(loss(np.array([[2.0, 1.0]]), rows)), 6)  # the teacher's: no divergence
        0.0
    """

    registry_name = "distill-kl-div"
    roles = ("anchor", "positive")
    label_kind = "scores"
    takes_negatives = True
    min_negatives = 1

    def __init__(
        self,
        similarity: str = "dot",
        temperature: float = 1.0,
        student_temperature: float | None = None,
        teacher_temperature: float | None = None,
        reduction: str | None = "sum_over_batch_size",
        name: str = "distill_kl_div_loss",
        dtype=None,
    ) -> None:
        _checked_temperature("temperature", temperature)
        _checked_temperature("student_temperature", student_temperature)
        _checked_temperature("teacher_temperature", teacher_temperature)
        super().__init__(
            distill_kl_div_loss,
            reduction=reduction,
            name=name,
            dtype=dtype,
            similarity=similarity,
            temperature=temperature,
            student_temperature=student_temperature,
            teacher_temperature=teacher_temperature,
        )
