"""Distance functions and layers against numpy, their registry, gradients and serialisation."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from keras_siamese.siamese import distances as D


def _cos(a, b):
    return np.sum(a * b, -1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


NUMPY = {
    "cosine": _cos,
    "dot": lambda a, b: np.sum(a * b, -1),
    "cosine_distance": lambda a, b: 1.0 - _cos(a, b),
    "euclidean": lambda a, b: np.linalg.norm(a - b, axis=-1),
    "manhattan": lambda a, b: np.sum(np.abs(a - b), -1),
}
LAYERS = {
    "cosine": D.CosineSimilarity,
    "dot": D.DotProduct,
    "cosine_distance": D.CosineDistance,
    "euclidean": D.EuclideanDistance,
    "manhattan": D.ManhattanDistance,
}
RNG = np.random.default_rng(0)
A = RNG.normal(size=(5, 7)).astype("float32")
B = RNG.normal(size=(5, 7)).astype("float32")
C = RNG.normal(size=(3, 7)).astype("float32")


@pytest.mark.parametrize("name", sorted(NUMPY))
def test_row_wise_and_layer_match_numpy(name):
    layer_cls = D.get_distance(name)
    expected = NUMPY[name](A, B)
    np.testing.assert_allclose(ops.convert_to_numpy(layer_cls.function(A, B)), expected, atol=1e-5)
    np.testing.assert_allclose(ops.convert_to_numpy(layer_cls()([A, B])), expected, atol=1e-5)


@pytest.mark.parametrize("name", sorted(NUMPY))
def test_matrix_matches_numpy(name):
    expected = NUMPY[name](A[:, None, :], C[None, :, :])
    got = ops.convert_to_numpy(D.get_distance(name).matrix_function(A, C))
    assert got.shape == (5, 3)
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_registry_names_kinds_and_aliases():
    assert D.DISTANCES == LAYERS
    assert [name for name, cls in LAYERS.items() if cls.is_similarity] == ["cosine", "dot"]
    assert D.get_distance("Cosine-Distance") is D.CosineDistance
    assert D.get_distance("euclidean_distance") is D.EuclideanDistance
    assert D.get_distance("dot_product") is D.DotProduct
    with pytest.raises(ValueError, match="Unknown distance"):
        D.get_distance("hamming")


@pytest.mark.parametrize("name", sorted(NUMPY))
def test_layer_in_functional_model_and_serialisation(name):
    a, b = keras.Input((7,)), keras.Input((7,))
    layer = LAYERS[name](name=f"my_{name}")
    model = keras.Model([a, b], layer([a, b]))
    assert model.output.shape == (None,)
    restored = keras.layers.deserialize(keras.layers.serialize(layer))
    assert type(restored) is LAYERS[name] and restored.name == f"my_{name}"
    assert type(LAYERS[name].from_config(layer.get_config())) is LAYERS[name]
    clone = keras.Model.from_config(model.get_config())
    np.testing.assert_allclose(clone.predict([A, B], verbose=0), NUMPY[name](A, B), atol=1e-5)


@pytest.mark.parametrize("function", [D.euclidean_distance, D.euclidean_distance_matrix])
def test_euclidean_gradient_is_finite_for_identical_rows(function):
    x = tf.Variable(A[:2])
    with tf.GradientTape() as tape:
        total = ops.sum(function(x, x))
    gradient = tape.gradient(total, x).numpy()
    assert np.all(np.isfinite(gradient))
    np.testing.assert_allclose(ops.convert_to_numpy(D.euclidean_distance(A, A)), 0.0)


def test_cosine_of_a_zero_vector_is_zero_not_nan():
    zero = np.zeros((1, 7), "float32")
    assert ops.convert_to_numpy(D.cosine_similarity(zero, A[:1]))[0] == 0.0
