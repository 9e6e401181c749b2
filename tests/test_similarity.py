"""The similarity module against numpy formulas, in keras.ops and numpy; the pair-score layers."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from keras_siamese import similarity as S
from keras_siamese.siamese import distances as D


def _cos(a, b):
    return np.sum(a * b, -1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


def _euclidean(a, b):
    return np.linalg.norm(a - b, axis=-1)


def _manhattan(a, b):
    return np.sum(np.abs(a - b), -1)


def _angle(a, b):
    """sentence-transformers' ``pairwise_angle_sim``, broadcasting: pad odd widths with a zero,
    normalise, ``|cos + sum(last_a * first_b - first_a * last_b)|``."""
    if a.shape[-1] % 2:
        a = np.concatenate([a, np.zeros_like(a[..., :1])], -1)
        b = np.concatenate([b, np.zeros_like(b[..., :1])], -1)
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    half = a.shape[-1] // 2
    first_a, last_a, first_b, last_b = a[..., :half], a[..., half:], b[..., :half], b[..., half:]
    return np.abs(np.sum(a * b, -1) + np.sum(last_a * first_b - first_a * last_b, -1))


# Straightforward numpy formulas, row-wise over the last axis (broadcasting gives all pairs).
NUMPY_SIMILARITIES = {
    "cosine": _cos,
    "dot": lambda a, b: np.sum(a * b, -1),
    "euclidean": lambda a, b: -_euclidean(a, b),
    "manhattan": lambda a, b: -_manhattan(a, b),
    "angle": _angle,  # in LOSS_SIMILARITIES
}
NUMPY_DISTANCES = {
    "cosine": lambda a, b: 1.0 - _cos(a, b),
    "euclidean": _euclidean,
    "manhattan": _manhattan,
}
FUNCTIONS = {  # the module's row-wise and all-pairs functions, and their numpy formulas
    "dot_product": (S.dot_product, S.dot_product_matrix, NUMPY_SIMILARITIES["dot"]),
    "cosine_similarity": (S.cosine_similarity, S.cosine_similarity_matrix, _cos),
    "cosine_distance": (S.cosine_distance, S.cosine_distance_matrix, NUMPY_DISTANCES["cosine"]),
    "euclidean_distance": (S.euclidean_distance, S.euclidean_distance_matrix, _euclidean),
    "manhattan_distance": (S.manhattan_distance, S.manhattan_distance_matrix, _manhattan),
    "angle_similarity": (S.angle_similarity, S.angle_similarity_matrix, _angle),
}
METRICS = [("similarity", name) for name in NUMPY_SIMILARITIES] + [
    ("distance", name) for name in NUMPY_DISTANCES
]
LAYERS = {
    ("similarity", "cosine"): D.CosineSimilarity,
    ("similarity", "dot"): D.DotProduct,
    ("distance", "cosine"): D.CosineDistance,
    ("distance", "euclidean"): D.EuclideanDistance,
    ("distance", "manhattan"): D.ManhattanDistance,
}
RNG = np.random.default_rng(0)
A = RNG.normal(size=(5, 7)).astype("float32")
B = RNG.normal(size=(5, 7)).astype("float32")
C = RNG.normal(size=(3, 7)).astype("float32")


def _metric(kind: str, name: str) -> S.Metric:
    return S.similarity(name) if kind == "similarity" else S.distance(name)


def _numpy(kind: str, name: str):
    return (NUMPY_SIMILARITIES if kind == "similarity" else NUMPY_DISTANCES)[name]


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_functions_match_numpy_in_keras_ops_and_numpy(name):
    rowwise, matrix, formula = FUNCTIONS[name]
    expected_rows = formula(A.astype("float64"), B.astype("float64"))
    expected_pairs = formula(A[:, None].astype("float64"), C[None].astype("float64"))
    keras_rows = ops.convert_to_numpy(rowwise(A, B))
    numpy_rows = rowwise(A, B, xp=np)
    assert isinstance(numpy_rows, np.ndarray) and numpy_rows.shape == (5,)
    np.testing.assert_allclose(keras_rows, expected_rows, atol=1e-5)
    np.testing.assert_allclose(numpy_rows, expected_rows, atol=1e-5)
    np.testing.assert_allclose(keras_rows, numpy_rows, atol=1e-5)
    keras_pairs = ops.convert_to_numpy(matrix(A, C))
    numpy_pairs = matrix(A, C, xp=np)
    assert keras_pairs.shape == numpy_pairs.shape == (5, 3)
    np.testing.assert_allclose(keras_pairs, expected_pairs, atol=1e-4)
    np.testing.assert_allclose(numpy_pairs, expected_pairs, atol=1e-4)


@pytest.mark.parametrize(("kind", "name"), METRICS)
def test_metrics_match_numpy_and_matrix_agrees_with_rowwise(kind, name):
    metric = _metric(kind, name)
    assert metric.name == name and metric.is_similarity == (kind == "similarity")
    formula = _numpy(kind, name)
    for xp in (ops, np):
        rows = ops.convert_to_numpy(metric.rowwise(A, B, xp=xp))
        np.testing.assert_allclose(rows, formula(A, B), atol=1e-5)
        pairs = ops.convert_to_numpy(metric.matrix(A, C, xp=xp))
        np.testing.assert_allclose(pairs, formula(A[:, None], C[None]), atol=1e-4)
        # Row i of the all-pairs matrix is row-wise a[i] against every b[j].
        by_rows = np.stack(
            [
                ops.convert_to_numpy(metric.rowwise(np.repeat(A[i : i + 1], len(C), 0), C, xp=xp))
                for i in range(len(A))
            ]
        )
        np.testing.assert_allclose(pairs, by_rows, atol=1e-4)
        np.testing.assert_allclose(
            np.diag(ops.convert_to_numpy(metric.matrix(A, B, xp=xp))), rows, atol=1e-4
        )


def test_tables_and_negated_distances_as_similarities():
    assert set(S.SIMILARITIES) == {"cosine", "dot", "euclidean", "manhattan"}  # as evaluated
    assert set(S.LOSS_SIMILARITIES) == {"angle"} and S.similarity("Angle").is_similarity
    assert set(S.DISTANCES) == {"cosine", "euclidean", "manhattan"}
    assert all(metric.is_similarity for metric in S.SIMILARITIES.values())
    assert not any(metric.is_similarity for metric in S.DISTANCES.values())
    for name in ("euclidean", "manhattan"):
        similarity, distance = S.similarity(name), S.distance(name)
        for xp in (ops, np):
            np.testing.assert_allclose(
                ops.convert_to_numpy(similarity.rowwise(A, B, xp=xp)),
                -ops.convert_to_numpy(distance.rowwise(A, B, xp=xp)),
                atol=1e-6,
            )
            np.testing.assert_allclose(
                ops.convert_to_numpy(similarity.matrix(A, C, xp=xp)),
                -ops.convert_to_numpy(distance.matrix(A, C, xp=xp)),
                atol=1e-6,
            )
    cosine = S.similarity("cosine").rowwise(A, B, xp=np)
    np.testing.assert_allclose(S.distance("cosine").rowwise(A, B, xp=np), 1.0 - cosine, atol=1e-6)
    assert S.similarity("Cosine") is S.SIMILARITIES["cosine"]  # names are case-insensitive


def test_unknown_names_raise_listing_the_valid_ones():
    with pytest.raises(ValueError, match="Unknown similarity 'hamming'") as error:
        S.similarity("hamming")
    assert "['angle', 'cosine', 'dot', 'euclidean', 'manhattan']" in str(error.value)
    with pytest.raises(ValueError, match="Unknown distance 'dot'") as error:
        S.distance("dot")  # a similarity, not a distance
    assert "['cosine', 'euclidean', 'manhattan']" in str(error.value)
    with pytest.raises(ValueError, match="Unknown distance 'cosine_distance'"):
        S.distance("cosine_distance")
    with pytest.raises(ValueError, match="Unknown similarity None"):
        S.similarity(None)


@pytest.mark.parametrize("function", [S.euclidean_distance, S.euclidean_distance_matrix])
def test_euclidean_gradient_is_finite_for_identical_rows(function):
    x = tf.Variable(A[:2])
    with tf.GradientTape() as tape:
        total = ops.sum(function(x, x))
    gradient = tape.gradient(total, x).numpy()
    assert np.all(np.isfinite(gradient))
    np.testing.assert_allclose(ops.convert_to_numpy(S.euclidean_distance(A, A)), 0.0)
    np.testing.assert_allclose(S.euclidean_distance(A, A, xp=np), 0.0)
    assert np.all(np.isfinite(S.euclidean_distance_matrix(A, A, xp=np)))


def test_l2_normalize_and_cosine_of_a_zero_vector():
    zero = np.zeros((1, 7), "float32")
    for xp in (ops, np):
        assert ops.convert_to_numpy(S.cosine_similarity(zero, A[:1], xp=xp))[0] == 0.0
        normalized = ops.convert_to_numpy(S.l2_normalize(np.concatenate([A, zero]), xp=xp))
        np.testing.assert_allclose(np.linalg.norm(normalized[:-1], axis=-1), 1.0, rtol=1e-6)
        np.testing.assert_allclose(normalized[:-1], A / np.linalg.norm(A, axis=-1, keepdims=True))
        assert np.all(normalized[-1] == 0.0)


# -- pair-score layers ------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "name"), sorted(LAYERS))
def test_score_layer_matches_numpy(kind, name):
    layer = D.score_layer(name, kind)
    assert type(layer) is LAYERS[kind, name]
    assert layer.metric is _metric(kind, name)
    got = ops.convert_to_numpy(layer([A, B]))
    np.testing.assert_allclose(got, _numpy(kind, name)(A, B), atol=1e-5)


def test_score_layers_and_lookup_errors():
    assert set(D.SCORE_LAYERS) == set(LAYERS.values())
    assert all(issubclass(layer, D.PairScore) for layer in D.SCORE_LAYERS)
    with pytest.raises(ValueError, match="Unknown distance 'dot'"):
        D.score_layer("dot", "distance")
    with pytest.raises(ValueError, match="Unknown similarity 'hamming'"):
        D.score_layer("hamming", "similarity")
    with pytest.raises(ValueError, match="No layer for the similarity 'euclidean'"):
        D.score_layer("euclidean", "similarity")  # negated distances have no layer


@pytest.mark.parametrize(("kind", "name"), sorted(LAYERS))
def test_layer_in_functional_model_and_serialisation(kind, name):
    cls = LAYERS[kind, name]
    a, b = keras.Input((7,)), keras.Input((7,))
    layer = cls(name=f"my_{kind}_{name}")
    model = keras.Model([a, b], layer([a, b]))
    assert model.output.shape == (None,)
    restored = keras.layers.deserialize(keras.layers.serialize(layer))
    assert type(restored) is cls and restored.name == f"my_{kind}_{name}"
    assert type(cls.from_config(layer.get_config())) is cls
    clone = keras.Model.from_config(model.get_config())
    expected = _numpy(kind, name)(A, B)
    np.testing.assert_allclose(clone.predict([A, B], verbose=0), expected, atol=1e-5)
