"""Shared machinery of the losses: the function-wrapping base class and ``y_pred`` helpers.

``y_pred`` is either scores from a distance layer (``[B]``/``[B, 1]`` for pairs, ``[B, 2]`` for
triplets) or stacked embeddings ``[B, n, D]`` (rank 3), which the loss scores itself with its
``distance`` (a name in ``keras_siamese.siamese.DISTANCES``).
"""

from collections.abc import Callable

import keras
from keras import ops

from keras_siamese.siamese.distances import get_distance


def metric(distance: str, similarity: bool, matrix: bool = False) -> Callable:
    """The row-wise (or all-pairs) function of ``distance``, oriented as the loss needs.

    A similarity loss given a distance gets its negation (sentence-transformers'
    ``euclidean_sim``); a distance loss given a similarity raises.
    """
    layer = get_distance(distance)
    function = layer.matrix_function if matrix else layer.function
    if layer.is_similarity == similarity:
        return function
    if similarity:
        return lambda a, b: -function(a, b)
    raise ValueError(
        f"{distance!r} is a similarity; this loss needs a distance (lower = closer): "
        "'cosine_distance', 'euclidean' or 'manhattan'."
    )


def is_embeddings(y_pred) -> bool:
    """Whether ``y_pred`` holds stacked embeddings ``[B, n, D]`` rather than scores."""
    return len(y_pred.shape) == 3


def flat(y):
    """``[B]`` or ``[B, 1]`` -> ``[B]``."""
    return ops.reshape(y, (-1,))


def pair_scores(y_pred, distance: str, similarity: bool):
    """``[B]`` scores of pairs: given scores as they are, or ``[B, 2, D]`` embeddings scored."""
    if is_embeddings(y_pred):
        return metric(distance, similarity)(y_pred[:, 0], y_pred[:, 1])
    return flat(y_pred)


def triplet_distances(y_pred, distance: str):
    """``(d(a, p), d(a, n))``, each ``[B]``: from ``[B, 2]`` distances or ``[B, 3, D]``
    embeddings."""
    if is_embeddings(y_pred):
        function = metric(distance, similarity=False)
        return function(y_pred[:, 0], y_pred[:, 1]), function(y_pred[:, 0], y_pred[:, 2])
    return y_pred[:, 0], y_pred[:, 1]


def class_distances(y_true, y_pred, distance: str):
    """For ``[B]`` class labels and ``[B, D]`` embeddings: the ``[B, B]`` distance matrix, the
    anchor-positive mask (same label, not itself) and the anchor-negative mask (other label)."""
    labels = flat(y_true)
    distances = metric(distance, similarity=False, matrix=True)(y_pred, y_pred)
    same = ops.equal(ops.expand_dims(labels, 1), ops.expand_dims(labels, 0))
    index = ops.arange(ops.shape(labels)[0])
    not_self = ops.not_equal(ops.expand_dims(index, 1), ops.expand_dims(index, 0))
    return distances, ops.logical_and(same, not_self), ops.logical_not(same)


class SiameseLoss(keras.losses.Loss):
    """A ``keras.losses.Loss`` around a plain loss function and its keyword arguments.

    Like ``keras.losses.LossFunctionWrapper`` but without reshaping ``y_true`` to ``y_pred``'s
    rank (``y_pred`` may be stacked embeddings); the keyword arguments are the config.
    """

    def __init__(
        self,
        fn: Callable,
        reduction: str | None = "sum_over_batch_size",
        name: str | None = None,
        dtype=None,
        **kwargs,
    ) -> None:
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self) -> dict:
        return {**super().get_config(), **self._fn_kwargs}
