"""Similarities and distances between embeddings: one implementation for Keras tensors and numpy.

Every function takes ``xp``, the array namespace to compute with: ``keras.ops`` (the default:
tensors, graphs and gradients, for losses and layers) or ``numpy`` (plain arrays without
TensorFlow, for evaluation, search and export checks). The two tables name the metrics apart:

- ``SIMILARITIES`` (higher = closer): ``cosine``, ``dot``, and, as sentence-transformers'
  ``SimilarityFunction`` defines them, the *negated* ``euclidean`` and ``manhattan`` distances;
- ``DISTANCES`` (lower = closer): ``cosine`` (1 - cosine similarity), ``euclidean``,
  ``manhattan``;
- ``LOSS_SIMILARITIES``: ``angle``, the AnglE similarity (sentence-transformers'
  ``pairwise_angle_sim``). Like sentence-transformers, which has it in ``util`` but not in its
  ``SimilarityFunction``, it is for losses (``similarity("angle")``, ``AnglELoss``) and stays out
  of ``SIMILARITIES``, the table the evaluators report one figure each for.

Each metric has a row-wise form (``a[i]`` with ``b[i]``: ``[..., D] -> [...]``) and an all-pairs
form (``[N, D]`` with ``[M, D]`` -> ``[N, M]``).

>>> import numpy as np
>>> a, b = np.array([[3.0, 4.0]]), np.array([[4.0, 3.0]])
>>> float(similarity("cosine").rowwise(a, b, xp=np)[0])
0.96
>>> float(distance("euclidean").rowwise(a, b, xp=np)[0]).__round__(4)
1.4142
>>> similarity("euclidean").matrix(a, b, xp=np).round(4).tolist()
[[-1.4142]]
"""

from collections.abc import Callable
from dataclasses import dataclass

from keras_siamese import backend  # noqa: F401  (selects the TensorFlow backend first)

# isort: split
from keras import ops

NORM_EPSILON = 1e-12  # as torch.nn.functional.normalize, which sentence-transformers uses


def l2_normalize(x, xp=ops):
    """``x / max(||x||, 1e-12)`` along the last axis (rows of zeros stay zero).

    >>> l2_normalize(np.array([[3.0, 4.0], [0.0, 0.0]]), xp=np).tolist()
    [[0.6, 0.8], [0.0, 0.0]]
    """
    squared = xp.sum(xp.square(x), axis=-1, keepdims=True)
    return x / xp.sqrt(xp.maximum(squared, NORM_EPSILON**2))


def _safe_sqrt(x, xp):
    """``sqrt(max(x, 0))`` with a zero (not NaN) gradient where ``x <= 0``, e.g. identical rows."""
    positive = x > 0
    return xp.where(positive, xp.sqrt(xp.where(positive, x, 1.0)), 0.0)


def dot_product(a, b, xp=ops):
    """Row-wise dot product."""
    return xp.sum(a * b, axis=-1)


def cosine_similarity(a, b, xp=ops):
    """Row-wise cosine similarity, in [-1, 1]."""
    return dot_product(l2_normalize(a, xp), l2_normalize(b, xp), xp)


def cosine_distance(a, b, xp=ops):
    """Row-wise ``1 - cosine_similarity``, in [0, 2]."""
    return 1.0 - cosine_similarity(a, b, xp)


def euclidean_distance(a, b, xp=ops):
    """Row-wise L2 distance."""
    return _safe_sqrt(xp.sum(xp.square(a - b), axis=-1), xp)


def manhattan_distance(a, b, xp=ops):
    """Row-wise L1 distance."""
    return xp.sum(xp.abs(a - b), axis=-1)


def dot_product_matrix(a, b, xp=ops):
    """All pairs of rows: ``[N, D] x [M, D] -> [N, M]`` dot products."""
    return xp.matmul(a, xp.transpose(b))


def cosine_similarity_matrix(a, b, xp=ops):
    """All pairs of rows: cosine similarities ``[N, M]``."""
    return dot_product_matrix(l2_normalize(a, xp), l2_normalize(b, xp), xp)


def cosine_distance_matrix(a, b, xp=ops):
    """All pairs of rows: cosine distances ``[N, M]``."""
    return 1.0 - cosine_similarity_matrix(a, b, xp)


def euclidean_distance_matrix(a, b, xp=ops):
    """All pairs of rows: L2 distances ``[N, M]``, from ``|a|² - 2ab + |b|²``."""
    squared = (
        xp.sum(xp.square(a), axis=-1, keepdims=True)
        - 2.0 * dot_product_matrix(a, b, xp)
        + xp.expand_dims(xp.sum(xp.square(b), axis=-1), 0)
    )
    return _safe_sqrt(squared, xp)


def manhattan_distance_matrix(a, b, xp=ops):
    """All pairs of rows: L1 distances ``[N, M]`` (through an ``[N, M, D]`` tensor)."""
    return manhattan_distance(xp.expand_dims(a, 1), xp.expand_dims(b, 0), xp)


def _angle_halves(x, xp):
    """``x`` L2-normalised, zero-padded to an even width, and ``J x = [-last half, first half]``.

    ``normalized_a · (normalized_b + J normalized_b)`` is AnglE's ``cos + sin`` (its complex-chunk
    form), a bilinear form: hence a row-wise and an all-pairs version.
    """
    if x.shape[-1] % 2:  # as sentence-transformers: pad odd widths with one zero
        x = xp.concatenate([x, xp.zeros_like(x[..., :1])], axis=-1)
    x = l2_normalize(x, xp)
    half = x.shape[-1] // 2
    return x, xp.concatenate([-x[..., half:], x[..., :half]], axis=-1)


def angle_similarity(a, b, xp=ops):
    """Row-wise AnglE similarity ``|cos(a, b) + sin(a, b)|``, in [0, sqrt(2)]: dimensions ``i``
    and ``i + D/2`` are the real and imaginary parts of complex numbers (Li & Li, "AnglE-optimized
    Text Embeddings", 2023), as sentence-transformers' ``pairwise_angle_sim``.

    >>> angle_similarity(np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]]), xp=np).tolist()
    [1.0]
    """
    a, _ = _angle_halves(a, xp)
    b, rotated_b = _angle_halves(b, xp)
    return xp.abs(dot_product(a, b + rotated_b, xp))


def angle_similarity_matrix(a, b, xp=ops):
    """All pairs of rows: AnglE similarities ``[N, M]``."""
    a, _ = _angle_halves(a, xp)
    b, rotated_b = _angle_halves(b, xp)
    return xp.abs(dot_product_matrix(a, b + rotated_b, xp))


def _negated(function: Callable) -> Callable:
    def negated(a, b, xp=ops):
        return -function(a, b, xp)

    negated.__doc__ = f"Negated {function.__name__}, as a similarity (higher = closer)."
    return negated


@dataclass(frozen=True)
class Metric:
    """A named similarity or distance in its row-wise and all-pairs forms."""

    name: str
    is_similarity: bool
    rowwise: Callable
    matrix: Callable


SIMILARITIES: dict[str, Metric] = {
    "cosine": Metric("cosine", True, cosine_similarity, cosine_similarity_matrix),
    "dot": Metric("dot", True, dot_product, dot_product_matrix),
    "euclidean": Metric(
        "euclidean", True, _negated(euclidean_distance), _negated(euclidean_distance_matrix)
    ),
    "manhattan": Metric(
        "manhattan", True, _negated(manhattan_distance), _negated(manhattan_distance_matrix)
    ),
}
DISTANCES: dict[str, Metric] = {
    "cosine": Metric("cosine", False, cosine_distance, cosine_distance_matrix),
    "euclidean": Metric("euclidean", False, euclidean_distance, euclidean_distance_matrix),
    "manhattan": Metric("manhattan", False, manhattan_distance, manhattan_distance_matrix),
}

LOSS_SIMILARITIES: dict[str, Metric] = {
    "angle": Metric("angle", True, angle_similarity, angle_similarity_matrix),
}


def _lookup(table: dict[str, Metric], name: str, kind: str) -> Metric:
    if not isinstance(name, str) or name.lower() not in table:
        raise ValueError(f"Unknown {kind} {name!r}; expected one of {sorted(table)}.")
    return table[name.lower()]


def similarity(name: str) -> Metric:
    """The similarity called ``name`` (higher = closer), from ``SIMILARITIES`` or
    ``LOSS_SIMILARITIES``."""
    return _lookup({**SIMILARITIES, **LOSS_SIMILARITIES}, name, "similarity")


def distance(name: str) -> Metric:
    """The distance called ``name`` (lower = closer), from ``DISTANCES``."""
    return _lookup(DISTANCES, name, "distance")
