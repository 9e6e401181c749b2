"""Siamese functional models: shapes, one shared encoder, serialisation."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_siamese import losses as L
from keras_siamese.siamese import (
    EuclideanDistance,
    in_batch_model,
    loss_roles,
    pair_model,
    training_model,
    triplet_model,
)

VOCAB, DIM, BATCH, LENGTH = 50, 8, 4, 6


def in_batch_roles(num_negatives: int = 0) -> tuple[str, ...]:
    return ("anchor", "positive", *L.negative_roles(num_negatives))


def registered_loss(name: str) -> keras.losses.Loss:
    """A default instance of each registered loss (``matryoshka`` around CoSENT, ``softmax``
    with 3 classes)."""
    if name == "matryoshka":
        return L.MatryoshkaLoss("cosent", [4, 2])
    return L.SoftmaxLoss(3) if name == "softmax" else L.LOSSES[name]()


# the losses whose training model outputs the embeddings (not a head's output, e.g. logits)
EMBEDDING_LOSSES = sorted(name for name, cls in L.LOSSES.items() if not hasattr(cls, "head"))


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


# every model builder on the shared encoder (losses with a head aside)
MODEL_BUILDERS = [pair_model, triplet_model, in_batch_model] + [
    lambda e, name=name: training_model(e, registered_loss(name), num_negatives=1)
    for name in EMBEDDING_LOSSES
]


def tiny_encoder(seed: int = 0) -> TinyEncoder:
    keras.utils.set_random_seed(seed)
    encoder = TinyEncoder()
    encoder.build()
    return encoder


def text_batch(roles, seed: int = 0, batch: int = BATCH) -> dict[str, np.ndarray]:
    """Random ``{role}_input_ids`` / ``{role}_attention_mask`` with ragged (padded) lengths,
    each role cut to its own longest text (as ``make_dataset`` does): roles differ in width."""
    rng = np.random.default_rng(seed)
    features = {}
    for role in roles:
        lengths = rng.integers(1, LENGTH + 1, size=batch)
        mask = (np.arange(lengths.max()) < lengths[:, None]).astype("int32")
        ids = rng.integers(1, VOCAB, size=mask.shape).astype("int32")
        features[f"{role}_attention_mask"], features[f"{role}_input_ids"] = mask, ids * mask
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
    dot = pair_model(encoder, similarity="dot").predict(features, verbose=0)
    np.testing.assert_allclose(dot, np.sum(a * b, -1), atol=1e-5)
    euclid = pair_model(encoder, similarity=EuclideanDistance()).predict(features, verbose=0)
    np.testing.assert_allclose(euclid, np.linalg.norm(a - b, axis=-1), atol=1e-5)
    stacked = pair_model(encoder, output="embeddings").predict(features, verbose=0)
    np.testing.assert_allclose(stacked, np.stack([a, b], axis=1), atol=1e-6)


def test_triplet_model_distances_and_embeddings(encoder):
    features = text_batch(("anchor", "positive", "negative"))
    a, p, n = (_embed(encoder, features, role) for role in ("anchor", "positive", "negative"))
    distances = triplet_model(encoder).predict(features, verbose=0)
    expected = np.stack([np.linalg.norm(a - p, axis=-1), np.linalg.norm(a - n, axis=-1)], 1)
    np.testing.assert_allclose(distances, expected, atol=1e-5)
    manhattan = triplet_model(encoder, distance="manhattan").predict(features, verbose=0)
    expected = np.stack([np.abs(a - p).sum(-1), np.abs(a - n).sum(-1)], 1)
    np.testing.assert_allclose(manhattan, expected, atol=1e-4)
    stacked = triplet_model(encoder, output="embeddings").predict(features, verbose=0)
    assert stacked.shape == (BATCH, 3, DIM)
    np.testing.assert_allclose(stacked, np.stack([a, p, n], axis=1), atol=1e-6)


def test_in_batch_and_single_text_models(encoder):
    model = in_batch_model(encoder, num_negatives=2)
    roles = loss_roles(L.MultipleNegativesRankingLoss(), num_negatives=2)
    assert roles == ("anchor", "positive", "negative_1", "negative_2")
    assert sorted(model.input) == sorted(
        f"{r}_{f}" for r in roles for f in ("input_ids", "attention_mask")
    )
    features = text_batch(roles)
    stacked = model.predict(features, verbose=0)
    assert stacked.shape == (BATCH, 4, DIM)
    np.testing.assert_allclose(stacked[:, 3], _embed(encoder, features, "negative_2"), atol=1e-6)
    assert in_batch_model(encoder).output.shape == (None, 2, DIM)
    single = training_model(encoder, L.BatchHardTripletLoss()).predict(
        text_batch(("text",)), verbose=0
    )
    np.testing.assert_allclose(single, _embed(encoder, text_batch(("text",)), "text"), atol=1e-6)


@pytest.mark.parametrize("builder", MODEL_BUILDERS)
def test_every_model_calls_the_encoder_once_for_all_roles(builder):
    encoder = tiny_encoder()
    builder(encoder)
    assert len(encoder._inbound_nodes) == 1  # one call: one trace and one gradient per step


@pytest.mark.parametrize("builder", MODEL_BUILDERS)
def test_twin_model_weights_are_exactly_the_encoders(encoder, builder):
    model = builder(encoder)
    assert len(model.trainable_variables) == len(encoder.trainable_variables) == 1
    assert all(
        m is e for m, e in zip(model.trainable_variables, encoder.trainable_variables, strict=True)
    )


def test_a_loss_head_is_trained_with_the_encoder(encoder):
    loss = L.SoftmaxLoss(3)
    model = training_model(encoder, loss)
    assert model.output.shape == (None, 3)  # the classifier's logits
    assert len(model.trainable_variables) == len(encoder.trainable_variables) + 2
    assert any(v is loss.classifier.kernel for v in model.trainable_variables)


@pytest.mark.parametrize("name", EMBEDDING_LOSSES)
def test_training_model_has_one_branch_per_role_of_the_loss(encoder, name):
    loss = registered_loss(name)
    pairs, triplets = ("text_a", "text_b"), ("anchor", "positive", "negative")
    expected = {
        "cosent": pairs,
        "cosine": pairs,
        "contrastive": pairs,
        "online-contrastive": pairs,
        "matryoshka": pairs,
        "triplet": triplets,
        "mnrl": ("anchor", "positive", "negative_1", "negative_2"),
        "batch-hard-triplet": ("text",),
        "batch-semi-hard-triplet": ("text",),
        "batch-all-triplet": ("text",),
        "angle": pairs,
        "mega-batch-margin": ("anchor", "positive"),  # no negatives: it mines them
        "batch-hard-soft-margin-triplet": ("text",),
        "mse": ("text",),
        "margin-mse": ("anchor", "positive", "negative_1", "negative_2"),
        "distill-kl-div": ("anchor", "positive", "negative_1", "negative_2"),
        "cached-mnrl": ("anchor", "positive", "negative_1", "negative_2"),
        "gist": ("anchor", "positive", "negative_1", "negative_2"),
    }[name]
    assert loss_roles(loss, num_negatives=2) == expected  # negatives only where taken
    model = training_model(encoder, loss, num_negatives=2)
    assert sorted(model.input) == sorted(
        f"{r}_{f}" for r in expected for f in ("input_ids", "attention_mask")
    )
    shape = (None, DIM) if len(expected) == 1 else (None, len(expected), DIM)
    assert model.output.shape == shape
    features = text_batch(expected)
    outputs = model.predict(features, verbose=0).reshape(BATCH, len(expected), DIM)
    for i, role in enumerate(expected):  # stacked in role order
        np.testing.assert_allclose(outputs[:, i], _embed(encoder, features, role), atol=1e-6)
    label_shape = {
        "mse": (BATCH, DIM),
        "margin-mse": (BATCH, 2),
        "distill-kl-div": (BATCH, 3),
        "gist": (BATCH, 4, DIM),  # a guide's embeddings of each column
    }
    labels = np.ones(label_shape.get(name, (BATCH,)), "float32")  # teacher targets: vectors
    assert float(loss(labels, model.predict(features, verbose=0))) >= 0


def test_losses_without_roles_and_unknown_outputs_are_rejected(encoder):
    with pytest.raises(ValueError, match=r"MeanSquaredError does not declare.*`roles`"):
        training_model(encoder, keras.losses.MeanSquaredError())
    with pytest.raises(ValueError, match="`roles`"):
        loss_roles(keras.losses.MeanSquaredError())
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
        (lambda e: training_model(e, L.BatchAllTripletLoss()), ("text",)),
        (lambda e: training_model(e, L.TripletLoss()), ("anchor", "positive", "negative")),
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


@pytest.mark.parametrize("model_type", ["bert", "mpnet", "roberta"])
def test_one_call_for_all_roles_equals_a_call_per_role_in_a_transformer(model_type):
    """Joined, a narrower role is padded to the widest: the mask hides it, also from the
    positions counted past the padding id (RoBERTa, MPNet) and MPNet's relative positions."""
    from keras_siamese.backbones import TransformerBackbone
    from keras_siamese.encoders import SentenceEncoder
    from keras_siamese.pooling import Pooling

    keras.utils.set_random_seed(0)
    backbone = TransformerBackbone(
        model_type=model_type,
        vocab_size=VOCAB,
        hidden_size=DIM,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=16,
        max_position_embeddings=LENGTH + 2,
        pad_token_id=1,
    )
    encoder = SentenceEncoder(backbone, Pooling(DIM, ("mean",)), [], True)
    roles = ("anchor", "positive", "negative")
    features = text_batch(roles, seed=3)
    assert len({features[f"{role}_input_ids"].shape[1] for role in roles}) > 1
    stacked = training_model(encoder, L.TripletLoss()).predict(features, verbose=0)
    for i, role in enumerate(roles):
        np.testing.assert_allclose(stacked[:, i], _embed(encoder, features, role), atol=1e-6)
