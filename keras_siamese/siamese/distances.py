"""Similarities and distances between embeddings: plain functions plus serialisable layers.

Each metric comes in two forms: row-wise (``a[i]`` against ``b[i]``, ``[..., D] -> [...]``) and
all-pairs (``[N, D]`` against ``[M, D]`` -> ``[N, M]``, for in-batch losses). The layers wrap the
row-wise form for the functional API, ``layer([a, b]) -> [B]``, and say through ``is_similarity``
whether a higher value means closer (similarities) or farther (distances).

>>> import keras_siamese
>>> from keras import ops
>>> a, b = ops.array([[3.0, 4.0]]), ops.array([[4.0, 3.0]])
>>> ops.convert_to_numpy(CosineSimilarity()([a, b])).round(4)
array([0.96], dtype=float32)
>>> ops.convert_to_numpy(get_distance("euclidean")()([a, b])).round(4)
array([1.4142], dtype=float32)
"""

from collections.abc import Callable
from typing import ClassVar

import keras
from keras import ops

NORM_EPSILON = 1e-12  # as torch.nn.functional.normalize, which sentence-transformers uses


def l2_normalize(x):
    """``x / max(||x||, 1e-12)`` along the last axis, as ``torch.nn.functional.normalize``."""
    return ops.normalize(x, axis=-1, epsilon=NORM_EPSILON)


def _safe_sqrt(x):
    """``sqrt(max(x, 0))`` with a zero (not NaN) gradient where ``x <= 0``, e.g. identical rows."""
    positive = x > 0
    return ops.where(positive, ops.sqrt(ops.where(positive, x, 1.0)), 0.0)


def dot_product(a, b):
    """Row-wise dot product ``sum(a * b, -1)``."""
    return ops.sum(a * b, axis=-1)


def cosine_similarity(a, b):
    """Row-wise cosine similarity of L2-normalised ``a`` and ``b``."""
    return dot_product(l2_normalize(a), l2_normalize(b))


def cosine_distance(a, b):
    """Row-wise ``1 - cosine_similarity(a, b)``."""
    return 1.0 - cosine_similarity(a, b)


def euclidean_distance(a, b):
    """Row-wise L2 distance ``||a - b||``."""
    return _safe_sqrt(ops.sum(ops.square(a - b), axis=-1))


def manhattan_distance(a, b):
    """Row-wise L1 distance ``sum(|a - b|, -1)``."""
    return ops.sum(ops.abs(a - b), axis=-1)


def dot_product_matrix(a, b):
    """All pairs: ``[N, D] x [M, D] -> [N, M]`` dot products."""
    return ops.matmul(a, ops.transpose(b))


def cosine_similarity_matrix(a, b):
    """All pairs: ``[N, D] x [M, D] -> [N, M]`` cosine similarities."""
    return dot_product_matrix(l2_normalize(a), l2_normalize(b))


def cosine_distance_matrix(a, b):
    """All pairs: ``[N, D] x [M, D] -> [N, M]`` cosine distances."""
    return 1.0 - cosine_similarity_matrix(a, b)


def euclidean_distance_matrix(a, b):
    """All pairs: ``[N, D] x [M, D] -> [N, M]`` L2 distances, from ``|a|² - 2ab + |b|²``."""
    squared = (
        ops.sum(ops.square(a), axis=-1, keepdims=True)
        - 2.0 * dot_product_matrix(a, b)
        + ops.expand_dims(ops.sum(ops.square(b), axis=-1), 0)
    )
    return _safe_sqrt(squared)


def manhattan_distance_matrix(a, b):
    """All pairs: ``[N, D] x [M, D] -> [N, M]`` L1 distances (through an ``[N, M, D]`` tensor)."""
    return manhattan_distance(ops.expand_dims(a, 1), ops.expand_dims(b, 0))


class Distance(keras.layers.Layer):
    """Base of the metric layers: ``layer([a, b])`` with ``[B, D]`` each returns ``[B]``.

    Subclasses set ``is_similarity`` (True: higher = closer), ``function`` (row-wise) and
    ``matrix_function`` (all pairs); losses use the two functions directly.
    """

    is_similarity: ClassVar[bool]
    function: ClassVar[Callable]
    matrix_function: ClassVar[Callable]

    def call(self, inputs):
        a, b = inputs
        return self.function(a, b)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0][:-1])


@keras.saving.register_keras_serializable(package="keras_siamese")
class CosineSimilarity(Distance):
    """Cosine similarity (higher = closer), in ``[-1, 1]``."""

    is_similarity = True
    function = staticmethod(cosine_similarity)
    matrix_function = staticmethod(cosine_similarity_matrix)


@keras.saving.register_keras_serializable(package="keras_siamese")
class DotProduct(Distance):
    """Dot product (higher = closer); equals cosine similarity on normalised embeddings."""

    is_similarity = True
    function = staticmethod(dot_product)
    matrix_function = staticmethod(dot_product_matrix)


@keras.saving.register_keras_serializable(package="keras_siamese")
class CosineDistance(Distance):
    """``1 - cosine similarity`` (lower = closer), in ``[0, 2]``."""

    is_similarity = False
    function = staticmethod(cosine_distance)
    matrix_function = staticmethod(cosine_distance_matrix)


@keras.saving.register_keras_serializable(package="keras_siamese")
class EuclideanDistance(Distance):
    """L2 distance (lower = closer)."""

    is_similarity = False
    function = staticmethod(euclidean_distance)
    matrix_function = staticmethod(euclidean_distance_matrix)


@keras.saving.register_keras_serializable(package="keras_siamese")
class ManhattanDistance(Distance):
    """L1 distance (lower = closer)."""

    is_similarity = False
    function = staticmethod(manhattan_distance)
    matrix_function = staticmethod(manhattan_distance_matrix)


DISTANCES: dict[str, type[Distance]] = {
    "cosine": CosineSimilarity,
    "dot": DotProduct,
    "cosine_distance": CosineDistance,
    "euclidean": EuclideanDistance,
    "manhattan": ManhattanDistance,
}
_ALIASES = {
    "cosine_similarity": "cosine",
    "dot_product": "dot",
    "euclidean_distance": "euclidean",
    "manhattan_distance": "manhattan",
}


def get_distance(name: str) -> type[Distance]:
    """The metric layer class for a name in ``DISTANCES`` (or its long form; ``-`` reads as ``_``).

    >>> get_distance("cosine-distance").is_similarity
    False
    """
    key = name.lower().replace("-", "_")
    key = _ALIASES.get(key, key)
    if key not in DISTANCES:
        raise ValueError(f"Unknown distance {name!r}; expected one of {sorted(DISTANCES)}.")
    return DISTANCES[key]
