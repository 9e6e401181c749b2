"""Siamese functional models: shapes, one shared encoder, serialisation."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_siamese.siamese import (
    MODEL_KINDS,
    EuclideanDistance,
    build_model,
    in_batch_model,
    in_batch_roles,
    pair_model,
    single_text_model,
    triplet_model,
)

VOCAB, DIM, BATCH, LENGTH = 50, 8, 4, 6


@keras.saving.register_keras_serializable(package="keras_siamese_tests")
class TinyEncoder(keras.Model):
    """Stand-in for ``SentenceEncoder``: embedding + masked mean pooling, same call signature."""

    def __init__(self, vocab_size: int = VOCAB, dim: int = DIM, **kwargs) -> None:
        super().__init__(**kwargs)
        self.vocab_size, self.dim = vocab_size, dim
        self.embedding = keras.layers.Embedding(vocab_size, dim)

    def build(self, input_shape=None) -> None:
        self.embedding.build((None, None))
        self.built = True

    def call(self, inputs):
        mask = ops.expand_dims(ops.cast(inputs["attention_mask"], "float32"), -1)
        summed = ops.sum(self.embedding(inputs["input_ids"]) * mask, axis=1)
        return summed / ops.maximum(ops.sum(mask, axis=1), 1.0)

    def compute_output_shape(self, input_shape):
        return (input_shape["input_ids"][0], self.dim)

    def get_config(self) -> dict:
        return {**super().get_config(), "vocab_size": self.vocab_size, "dim": self.dim}


def tiny_encoder(seed: int = 0) -> TinyEncoder:
    keras.utils.set_random_seed(seed)
    encoder = TinyEncoder()
    encoder.build()
    return encoder


def text_batch(roles, seed: int = 0, batch: int = BATCH) -> dict[str, np.ndarray]:
    """Random ``{role}_input_ids`` / ``{role}_attention_mask`` with ragged (padded) lengths."""
    rng = np.random.default_rng(seed)
    features = {}
    for role in roles:
        lengths = rng.integers(1, LENGTH + 1, size=batch)
        features[f"{role}_attention_mask"] = (np.arange(LENGTH) < lengths[:, None]).astype("int32")
        ids = rng.integers(1, VOCAB, size=(batch, LENGTH)).astype("int32")
        features[f"{role}_input_ids"] = ids * features[f"{role}_attention_mask"]
    return features


def _embed(encoder, features, role):
    inputs = {field: features[f"{role}_{field}"] for field in ("input_ids", "attention_mask")}
    return ops.convert_to_numpy(encoder(inputs))


@pytest.fixture(scope="module")
def encoder():
    return tiny_encoder()


def test_pair_model_scores_and_embeddings(encoder):
    features = text_batch(("text_a", "text_b"))
    a, b = _embed(encoder, features, "text_a"), _embed(encoder, features, "text_b")
    score = pair_model(encoder).predict(features, verbose=0)
    cosine = np.sum(a * b, -1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
    np.testing.assert_allclose(score, cosine, atol=1e-5)
    euclid = pair_model(encoder, distance=EuclideanDistance()).predict(features, verbose=0)
    np.testing.assert_allclose(euclid, np.linalg.norm(a - b, axis=-1), atol=1e-5)
    stacked = pair_model(encoder, output="embeddings").predict(features, verbose=0)
    np.testing.assert_allclose(stacked, np.stack([a, b], axis=1), atol=1e-6)


def test_triplet_model_distances_and_embeddings(encoder):
    features = text_batch(("anchor", "positive", "negative"))
    a, p, n = (_embed(encoder, features, role) for role in ("anchor", "positive", "negative"))
    distances = triplet_model(encoder).predict(features, verbose=0)
    expected = np.stack([np.linalg.norm(a - p, axis=-1), np.linalg.norm(a - n, axis=-1)], 1)
    np.testing.assert_allclose(distances, expected, atol=1e-5)
    stacked = triplet_model(encoder, output="embeddings").predict(features, verbose=0)
    assert stacked.shape == (BATCH, 3, DIM)


def test_in_batch_and_single_text_models(encoder):
    model = in_batch_model(encoder, num_negatives=2)
    roles = in_batch_roles(2)
    assert roles == ("anchor", "positive", "negative_1", "negative_2")
    assert sorted(model.input) == sorted(
        f"{r}_{f}" for r in roles for f in ("input_ids", "attention_mask")
    )
    features = text_batch(roles)
    stacked = model.predict(features, verbose=0)
    assert stacked.shape == (BATCH, 4, DIM)
    np.testing.assert_allclose(stacked[:, 3], _embed(encoder, features, "negative_2"), atol=1e-6)
    assert in_batch_model(encoder).output.shape == (None, 2, DIM)
    single = single_text_model(encoder).predict(text_batch(("text",)), verbose=0)
    np.testing.assert_allclose(single, _embed(encoder, text_batch(("text",)), "text"), atol=1e-6)


@pytest.mark.parametrize(
    "builder",
    [pair_model, triplet_model, in_batch_model, single_text_model]
    + [lambda e, kind=kind: build_model(e, kind, num_negatives=1) for kind in MODEL_KINDS],
)
def test_twin_model_weights_are_exactly_the_encoders(encoder, builder):
    model = builder(encoder)
    assert len(model.trainable_variables) == len(encoder.trainable_variables) == 1
    assert all(
        m is e for m, e in zip(model.trainable_variables, encoder.trainable_variables, strict=True)
    )


def test_build_model_outputs_embeddings_and_rejects_unknowns(encoder):
    shapes = {kind: build_model(encoder, kind).output.shape for kind in MODEL_KINDS}
    assert shapes == {
        "pair": (None, 2, DIM),
        "triplet": (None, 3, DIM),
        "in_batch": (None, 2, DIM),
        "single_text": (None, DIM),
    }
    with pytest.raises(ValueError, match="model kind"):
        build_model(encoder, "quadruplet")
    with pytest.raises(ValueError, match="output"):
        pair_model(encoder, output="distances")
    with pytest.raises(ValueError, match="output"):
        triplet_model(encoder, output="score")


@pytest.mark.parametrize(
    ("builder", "roles"),
    [
        (pair_model, ("text_a", "text_b")),
        (lambda e: triplet_model(e, output="embeddings"), ("anchor", "positive", "negative")),
        (lambda e: in_batch_model(e, num_negatives=1), in_batch_roles(1)),
    ],
)
def test_models_round_trip_through_config_and_keras_file(builder, roles, tmp_path):
    model = builder(tiny_encoder(seed=1))
    features = text_batch(roles, seed=2)
    expected = model.predict(features, verbose=0)
    clone = keras.Model.from_config(model.get_config())
    assert len(clone.trainable_variables) == 1
    assert clone.predict(features, verbose=0).shape == expected.shape
    model.save(tmp_path / "model.keras")
    restored = keras.saving.load_model(tmp_path / "model.keras")
    assert len(restored.trainable_variables) == 1
    np.testing.assert_allclose(restored.predict(features, verbose=0), expected, atol=1e-6)
