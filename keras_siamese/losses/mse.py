"""MSE loss: regress the student's embedding of a text on a teacher's embedding, as
sentence-transformers' ``MSELoss`` (Reimers & Gurevych, "Making Monolingual Sentence Embeddings
Multilingual using Knowledge Distillation", EMNLP 2020): for multilingual and smaller-model
distillation."""

from collections.abc import Sequence

import keras
from keras import ops

from keras_siamese.losses.base import SiameseLoss


def _student_columns(y_pred) -> list:
    if len(y_pred.shape) == 2:
        return [y_pred]
    if len(y_pred.shape) == 3:
        return [y_pred[:, i] for i in range(y_pred.shape[1])]
    raise ValueError(
        "mse_loss takes embeddings [B, D] (one text column) or stacked [B, n, D]; "
        f"got shape {tuple(y_pred.shape)}."
    )


def mse_loss(y_true, y_pred):
    """Per example mean squared error between the student's and the teacher's embeddings,
    averaged over the text columns, shape ``[B]`` (its mean is sentence-transformers' value).

    ``y_pred``: the student's embeddings ``[B, D]`` (one text column) or ``[B, n, D]`` (n
    columns, e.g. a sentence and its translation). ``y_true``: the teacher's embeddings
    ``[B, D]``, the target of every column, or ``[B, n, D]``, one per column.
    """
    students = _student_columns(y_pred)
    target = ops.stop_gradient(ops.cast(y_true, y_pred.dtype))
    if len(target.shape) == 2:
        targets = [target] * len(students)
    elif len(target.shape) == 3 and target.shape[1] == len(students):
        targets = [target[:, i] for i in range(len(students))]
    else:
        raise ValueError(
            f"mse_loss takes teacher embeddings [B, D] or [B, {len(students)}, D] as labels; "
            f"got shape {tuple(target.shape)}."
        )
    width, teacher_width = students[0].shape[-1], target.shape[-1]
    if width is not None and teacher_width is not None and width != teacher_width:
        raise ValueError(
            f"mse_loss: the student's embeddings have {width} dimensions, the teacher's "
            f"{teacher_width}; they must match."
        )
    errors = [
        ops.mean(ops.square(student - teacher), axis=-1)
        for student, teacher in zip(students, targets, strict=True)
    ]
    return ops.mean(ops.stack(errors, axis=1), axis=1)


@keras.saving.register_keras_serializable(package="keras_siamese")
class MSELoss(SiameseLoss):
    """Regresses the student's embedding of each text on the teacher's embedding (mean squared
    error over the dimensions, the examples and the text columns).

    Data: one text column (``columns``, default ``("text",)``), or several, e.g.
    ``("english", "french")`` to make a model multilingual: a sentence and its translations, each
    regressed on the teacher's embedding of the sentence. Labels: the teacher's embeddings,
    ``[B, D]`` (the target of every column) or ``[B, n, D]`` (one per column), precomputed or
    from ``keras_siamese.data.with_teacher_embeddings``. The student's embedding width must be
    the teacher's.

    Args:
        columns: the text columns (roles) the loss reads, in order.

    References:
        Reimers & Gurevych, "Making Monolingual Sentence Embeddings Multilingual using Knowledge
        Distillation", EMNLP 2020 (https://arxiv.org/abs/2004.09813); sentence-transformers'
        ``losses.MSELoss``.

    Inputs:
        ``text`` (or the ``columns`` given) -> teacher embeddings ``[B, D]`` or ``[B, n, D]``.

    Example:
        >>> import numpy as np
        >>> loss = MSELoss()
        >>> student = np.array([[1.0, 0.0], [0.0, 1.0]])
        >>> teacher = np.array([[1.0, 0.0], [0.0, 0.0]])
        >>> float(loss(teacher, student))  # ((0 + 0) / 2 + (0 + 1) / 2) / 2
        0.25
        >>> MSELoss(columns=("english", "french")).roles
        ('english', 'french')
    """

    registry_name = "mse"
    roles = ("text",)
    label_kind = "embedding"
    configurable_roles = True

    def __init__(
        self,
        columns: Sequence[str] = ("text",),
        reduction: str | None = "sum_over_batch_size",
        name: str = "mse_loss",
        dtype=None,
    ) -> None:
        if isinstance(columns, str) or not columns:
            raise ValueError(f"columns must be a non-empty sequence of role names, got {columns!r}")
        bad = [column for column in columns if not str(column).isidentifier()]
        if bad:
            raise ValueError(f"columns must be Python identifiers (they name model inputs): {bad}")
        super().__init__(mse_loss, reduction=reduction, name=name, dtype=dtype)
        self.roles = tuple(columns)

    def get_config(self) -> dict:
        return {**super().get_config(), "columns": list(self.roles)}
