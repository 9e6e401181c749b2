"""Pair-score layers for inference models: ``layer([a, b])`` with ``[B, D]`` each returns ``[B]``.

Thin serialisable wrappers of ``keras_siamese.similarity`` for the functional API (e.g.
``pair_model(encoder, output="score")``). Training losses score embeddings themselves.

>>> import numpy as np
>>> a, b = np.array([[3.0, 4.0]]), np.array([[4.0, 3.0]])
>>> round(float(CosineSimilarity()([a, b])[0]), 4)
0.96
>>> round(float(score_layer("euclidean", "distance")([a, b])[0]), 4)
1.4142
"""

from typing import ClassVar, Literal

from keras_siamese import similarity as metrics

# isort: split
import keras


class PairScore(keras.layers.Layer):
    """Base of the pair-score layers; ``metric`` says which and whether higher means closer."""

    metric: ClassVar[metrics.Metric]

    def call(self, inputs):
        a, b = inputs
        return self.metric.rowwise(a, b)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0][:-1])


@keras.saving.register_keras_serializable(package="keras_siamese")
class CosineSimilarity(PairScore):
    """Cosine similarity (higher = closer), in ``[-1, 1]``."""

    metric = metrics.similarity("cosine")


@keras.saving.register_keras_serializable(package="keras_siamese")
class DotProduct(PairScore):
    """Dot product (higher = closer); equals cosine similarity on normalised embeddings."""

    metric = metrics.similarity("dot")


@keras.saving.register_keras_serializable(package="keras_siamese")
class CosineDistance(PairScore):
    """``1 - cosine similarity`` (lower = closer), in ``[0, 2]``."""

    metric = metrics.distance("cosine")


@keras.saving.register_keras_serializable(package="keras_siamese")
class EuclideanDistance(PairScore):
    """L2 distance (lower = closer)."""

    metric = metrics.distance("euclidean")


@keras.saving.register_keras_serializable(package="keras_siamese")
class ManhattanDistance(PairScore):
    """L1 distance (lower = closer)."""

    metric = metrics.distance("manhattan")


SCORE_LAYERS: tuple[type[PairScore], ...] = (
    CosineSimilarity,
    DotProduct,
    CosineDistance,
    EuclideanDistance,
    ManhattanDistance,
)


def score_layer(name: str, kind: Literal["similarity", "distance"]) -> PairScore:
    """A new layer scoring pairs with the similarity or distance called ``name``."""
    metric = metrics.similarity(name) if kind == "similarity" else metrics.distance(name)
    for layer in SCORE_LAYERS:
        if layer.metric == metric:
            return layer()
    raise ValueError(f"No layer for the {kind} {name!r}; layers exist for {SCORE_LAYERS}.")
