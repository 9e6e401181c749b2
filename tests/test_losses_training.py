"""Each registered loss trains a tiny siamese model with ``model.fit`` on a ``tf.data`` dataset."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from test_siamese_models import LENGTH, TinyEncoder, tiny_encoder

from keras_siamese import losses as L
from keras_siamese.siamese import build_model

TOPICS, TOPIC_TOKENS, EXAMPLES, BATCH = 4, 10, 64, 16


def _texts(rng, topics) -> dict[str, np.ndarray]:
    """Token ids drawn from each example's topic block, padded to ``LENGTH``."""
    lengths = rng.integers(3, LENGTH + 1, size=len(topics))
    mask = (np.arange(LENGTH) < lengths[:, None]).astype("int32")
    ids = 1 + topics[:, None] * TOPIC_TOKENS + rng.integers(0, TOPIC_TOKENS, (len(topics), LENGTH))
    return {"input_ids": (ids * mask).astype("int32"), "attention_mask": mask}


def _other(rng, topics):
    return (topics + rng.integers(1, TOPICS, size=len(topics))) % TOPICS


def dataset(model_kind: str, labels: str, seed: int = 0) -> tf.data.Dataset:
    """Topic-structured examples of a model kind with ``labels`` of that kind (see ``LOSSES``):
    similar texts share a topic."""
    rng = np.random.default_rng(seed)
    topics = rng.integers(0, TOPICS, size=EXAMPLES)
    if model_kind == "pair":
        same = rng.integers(0, 2, size=EXAMPLES)
        columns = {"text_a": topics, "text_b": np.where(same == 1, topics, _other(rng, topics))}
        graded = np.where(
            same == 1, rng.uniform(0.6, 1.0, EXAMPLES), rng.uniform(0.0, 0.4, EXAMPLES)
        )
        y = (graded if labels == "score" else same).astype("float32")
    elif model_kind == "single_text":
        columns, y = {"text": topics}, topics.astype("int32")
    else:
        columns = {"anchor": topics, "positive": topics, "negative": _other(rng, topics)}
        if model_kind == "in_batch":
            columns["negative_1"] = columns.pop("negative")
        y = np.zeros(EXAMPLES, "float32")
    features = {
        f"{role}_{field}": value
        for role, role_topics in columns.items()
        for field, value in _texts(rng, role_topics).items()
    }
    return tf.data.Dataset.from_tensor_slices((features, y)).batch(BATCH)


def fit(loss, model_kind: str, labels: str, epochs: int = 4) -> list[float]:
    model = build_model(tiny_encoder(), model_kind, num_negatives=1)
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss=loss, jit_compile=False)
    return model.fit(dataset(model_kind, labels), epochs=epochs, shuffle=False, verbose=0).history[
        "loss"
    ]


@pytest.mark.parametrize("name", sorted(L.LOSSES))
def test_registered_loss_decreases_with_fit(name):
    cls, model_kind, labels = L.LOSSES[name]
    history = fit(cls(), model_kind, labels)
    assert np.all(np.isfinite(history))
    assert history[-1] < history[0], history


@pytest.mark.parametrize(
    ("loss", "model_kind", "labels"),
    [
        (L.MatryoshkaLoss(L.CoSENTLoss(), [8, 4, 2]), "pair", "score"),
        (L.MatryoshkaLoss(L.BatchAllTripletLoss(margin=1.0), [8, 4]), "single_text", "class"),
    ],
    ids=["cosent", "batch-all-triplet"],
)
def test_matryoshka_loss_decreases_with_fit(loss, model_kind, labels):
    history = fit(loss, model_kind, labels)
    assert history[-1] < history[0], history


def test_compiled_model_with_loss_round_trips_keras_file(tmp_path):
    model = build_model(tiny_encoder(), "pair")
    model.compile(optimizer="adam", loss=L.MatryoshkaLoss(L.ContrastiveLoss(), [8, 4]))
    model.fit(dataset("pair", "binary"), epochs=1, shuffle=False, verbose=0)
    model.save(tmp_path / "model.keras")
    restored = keras.saving.load_model(tmp_path / "model.keras")
    assert any(isinstance(layer, TinyEncoder) for layer in restored.layers)
    loss = restored.loss
    assert isinstance(loss, L.MatryoshkaLoss) and isinstance(loss.loss, L.ContrastiveLoss)
    assert loss.get_config() == model.loss.get_config()
    restored.fit(dataset("pair", "binary"), epochs=1, shuffle=False, verbose=0)
