"""``SiameseLoss``: the base of the losses, and the contract each one declares.

A loss declares, as class attributes, what it consumes:

- ``registry_name``: its name for ``fit``, ``TrainingConfig(loss=...)`` and the CLI's ``--loss``;
- ``roles``: the text columns it reads, in order (``("text_a", "text_b")``, ``("anchor",
  "positive", "negative")``, ``("text",)``); ``takes_negatives`` adds any number of
  ``negative_1 ... negative_k`` columns after them;
- ``label_kind``: ``"score"`` (float similarity in [0, 1]), ``"binary"`` (0/1), ``"class"`` (int
  class ids), ``"embedding"`` (a teacher's embedding, a float vector per example),
  ``"scores"`` (a teacher's scores or margins, a float or a float vector per example) or
  ``"none"`` (the dataset still yields a dummy ``y``: Keras needs one);
- ``min_negatives``: for a loss that ``takes_negatives``, how many it needs at least (0 or 1).

``y_pred`` is always embeddings, as the training model stacks them: ``[B, n, D]`` for n roles
(in ``roles`` order), ``[B, D]`` for a single role. Losses score the embeddings themselves with
their ``similarity`` or ``distance`` (names from ``keras_siamese.similarity``); the distance
layers of ``keras_siamese.siamese`` are for inference.
"""

from collections.abc import Callable
from typing import ClassVar, Literal

import keras

from keras_siamese import similarity as metrics

LabelKind = Literal["score", "binary", "class", "embedding", "scores", "none"]
LABEL_KINDS: dict[str, str] = {
    "score": "float similarity in [0, 1]",
    "binary": "1 similar / 0 dissimilar",
    "class": "int class id",
    "embedding": "teacher embedding (float vector)",
    "scores": "teacher scores or margins (float vector)",
    "none": "none (dummy zeros)",
}


def negative_roles(count: int) -> tuple[str, ...]:
    """``negative_1 ... negative_count``: the extra columns of a loss that ``takes_negatives``."""
    return tuple(f"negative_{i}" for i in range(1, count + 1))


def stacked(y_pred, count: int, loss: str, more: bool = False) -> list:
    """The embeddings ``[B, D]`` of stacked ``[B, count, D]`` (``more``: at least ``count``)."""
    width = y_pred.shape[1] if len(y_pred.shape) == 3 else None
    if width is None or width < count or (width > count and not more):
        wanted = f"{count}+" if more else str(count)
        raise ValueError(
            f"{loss} takes stacked embeddings [B, {wanted}, D] (the training model's output); "
            f"got shape {tuple(y_pred.shape)}."
        )
    return [y_pred[:, i] for i in range(width)]


def flat(y):
    """``[B]`` or ``[B, 1]`` -> ``[B]``."""
    return keras.ops.reshape(y, (-1,))


class SiameseLoss(keras.losses.Loss):
    """A ``keras.losses.Loss`` around a loss function, with the contract above.

    Like ``keras.losses.LossFunctionWrapper`` but without reshaping ``y_true`` to ``y_pred``'s
    rank (``y_pred`` is stacked embeddings); the keyword arguments are the config. Subclasses
    declare ``registry_name``, ``roles``, ``label_kind`` (and ``takes_negatives``).
    """

    registry_name: ClassVar[str]
    roles: ClassVar[tuple[str, ...]]
    label_kind: ClassVar[LabelKind]
    takes_negatives: ClassVar[bool] = False
    min_negatives: ClassVar[int] = 0

    def __init__(
        self,
        fn: Callable,
        reduction: str | None = "sum_over_batch_size",
        name: str | None = None,
        dtype=None,
        **kwargs,
    ) -> None:
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if "similarity" in kwargs:
            metrics.similarity(kwargs["similarity"])
        if "distance" in kwargs:
            metrics.distance(kwargs["distance"])
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self) -> dict:
        return {**super().get_config(), **self._fn_kwargs}


def class_distances(y_true, y_pred, distance: str):
    """For ``[B]`` class labels and ``[B, D]`` embeddings: the ``[B, B]`` distance matrix, the
    anchor-positive mask (same label, not itself) and the anchor-negative mask (other label)."""
    ops = keras.ops
    if len(y_pred.shape) != 2:
        raise ValueError(
            f"The batch triplet losses take embeddings [B, D]; got shape {tuple(y_pred.shape)}."
        )
    labels = flat(y_true)
    distances = metrics.distance(distance).matrix(y_pred, y_pred)
    same = ops.equal(ops.expand_dims(labels, 1), ops.expand_dims(labels, 0))
    index = ops.arange(ops.shape(labels)[0])
    not_self = ops.not_equal(ops.expand_dims(index, 1), ops.expand_dims(index, 0))
    return distances, ops.logical_and(same, not_self), ops.logical_not(same)
