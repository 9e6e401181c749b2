"""Each registered loss trains: a tiny siamese model with ``model.fit`` on a ``tf.data`` dataset,
and a tiny ``SentenceEncoder`` through ``ks.fit`` with the loss given by name or as an instance."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from test_siamese_models import DIM, LENGTH, TinyEncoder, tiny_encoder

import keras_siamese as ks
from conftest import make_tiny_encoder
from keras_siamese import losses as L
from keras_siamese.siamese import loss_roles, pair_model, training_model

TOPICS, TOPIC_TOKENS, EXAMPLES, BATCH = 4, 10, 64, 16


def registered_loss(name: str) -> keras.losses.Loss:
    """A default instance of each registered loss (``matryoshka`` around CoSENT, ``softmax``
    classifying pairs as same topic or not)."""
    if name == "matryoshka":
        return L.MatryoshkaLoss("cosent", [8, 4, 2])
    return L.SoftmaxLoss(2) if name == "softmax" else L.LOSSES[name]()


# -- model.fit on token ids -------------------------------------------------------------------


def _texts(rng, topics) -> dict[str, np.ndarray]:
    """Token ids drawn from each example's topic block, padded to ``LENGTH``."""
    lengths = rng.integers(3, LENGTH + 1, size=len(topics))
    mask = (np.arange(LENGTH) < lengths[:, None]).astype("int32")
    ids = 1 + topics[:, None] * TOPIC_TOKENS + rng.integers(0, TOPIC_TOKENS, (len(topics), LENGTH))
    return {"input_ids": (ids * mask).astype("int32"), "attention_mask": mask}


def _other(rng, topics):
    return (topics + rng.integers(1, TOPICS, size=len(topics))) % TOPICS


def dataset(roles: tuple[str, ...], label_kind: str, seed: int = 0) -> tf.data.Dataset:
    """Topic-structured examples with the ``roles`` and labels of ``label_kind`` a loss consumes:
    similar texts share a topic."""
    rng = np.random.default_rng(seed)
    topics = rng.integers(0, TOPICS, size=EXAMPLES)
    if label_kind in ("score", "binary") or roles == ("text_a", "text_b"):  # pairs
        same = rng.integers(0, 2, size=EXAMPLES)
        first, second = roles
        columns = {first: topics, second: np.where(same == 1, topics, _other(rng, topics))}
        graded = np.where(
            same == 1, rng.uniform(0.6, 1.0, EXAMPLES), rng.uniform(0.0, 0.4, EXAMPLES)
        )
        y = (graded if label_kind == "score" else same).astype("float32")
        if label_kind == "class":  # SoftmaxLoss: class 1 same topic, 0 not
            y = same.astype("int32")
    elif label_kind == "class":  # single texts
        (role,) = roles
        columns, y = {role: topics}, topics.astype("int32")
    elif label_kind == "embedding" and roles[0] != "anchor":  # single texts (or translations),
        # a teacher's vector per topic
        teacher = rng.normal(scale=0.5, size=(TOPICS, DIM)).astype("float32")
        columns, y = {role: topics for role in roles}, teacher[topics]
    else:  # anchor, positive, then negatives
        columns = {roles[0]: topics, roles[1]: topics}
        columns.update({role: _other(rng, topics) for role in roles[2:]})
        y = np.zeros(EXAMPLES, "float32")
        if label_kind == "embedding":  # GISTEmbedLoss: a guide's vector per topic, per column
            guide = rng.normal(size=(TOPICS, DIM)).astype("float32")
            y = np.stack([guide[column] for column in columns.values()], axis=1)
        if label_kind == "scores":  # a teacher's scores: the positive 1, each negative 0
            y = np.zeros((EXAMPLES, len(roles) - 1), "float32")
            y[:, 0] = 1.0
    features = {
        f"{role}_{field}": value
        for role, role_topics in columns.items()
        for field, value in _texts(rng, role_topics).items()
    }
    return tf.data.Dataset.from_tensor_slices((features, y)).batch(BATCH)


def model_fit(loss, epochs: int = 4) -> list[float]:
    model = training_model(tiny_encoder(), loss, num_negatives=1)
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss=loss, jit_compile=False)
    data = dataset(loss_roles(loss, num_negatives=1), loss.label_kind)
    return model.fit(data, epochs=epochs, shuffle=False, verbose=0).history["loss"]


@pytest.mark.parametrize("name", sorted(L.LOSSES))
def test_registered_loss_decreases_with_model_fit(name):
    history = model_fit(registered_loss(name))
    assert np.all(np.isfinite(history))
    assert history[-1] < history[0], history


@pytest.mark.parametrize(
    "loss",
    [
        L.MatryoshkaLoss(L.CoSENTLoss(), [8, 4, 2]),
        L.MatryoshkaLoss(L.BatchAllTripletLoss(margin=1.0), [8, 4]),
        L.MatryoshkaLoss("mnrl", [8, 4]),
    ],
    ids=["cosent", "batch-all-triplet", "mnrl"],
)
def test_matryoshka_loss_decreases_with_model_fit(loss):
    history = model_fit(loss)
    assert history[-1] < history[0], history


def test_compiled_model_with_loss_round_trips_keras_file(tmp_path):
    model = pair_model(tiny_encoder(), output="embeddings")
    model.compile(optimizer="adam", loss=L.MatryoshkaLoss(L.ContrastiveLoss(), [8, 4]))
    model.fit(dataset(("text_a", "text_b"), "binary"), epochs=1, shuffle=False, verbose=0)
    model.save(tmp_path / "model.keras")
    restored = keras.saving.load_model(tmp_path / "model.keras")
    assert any(isinstance(layer, TinyEncoder) for layer in restored.layers)
    loss = restored.loss
    assert isinstance(loss, L.MatryoshkaLoss) and isinstance(loss.loss, L.ContrastiveLoss)
    assert loss.get_config() == model.loss.get_config()
    restored.fit(dataset(("text_a", "text_b"), "binary"), epochs=1, shuffle=False, verbose=0)


# -- ks.fit on texts --------------------------------------------------------------------------

SUBJECTS = ["a man", "a woman", "the dog", "the cat", "a big car", "the red piano", "an eats", "a"]
ACTIONS = ["plays guitar", "runs in the park", "eats food", "is happy", "is sad", "on the street"]
LABELS = {
    "score": [0.9, 0.1, 0.8, 0.3, 0.5, 0.0, 1.0, 0.6],
    "binary": [1, 0, 1, 0, 1, 0, 1, 1],
    "class": [0, 0, 1, 1, 0, 1, 0, 1],
    "none": None,
    "embedding": np.random.default_rng(0).normal(size=(8, 16)).astype("float32"),  # a teacher's
    "scores": [[1.0, 0.0]] * 8,  # a teacher's scores of the positive and one negative
}


def tiny_examples(roles: tuple[str, ...], label_kind: str) -> ks.data.Examples:
    """8 rows of distinct texts in every column, with labels of ``label_kind`` (for GIST's pairs,
    a guide's embedding per column)."""
    columns = {
        role: [
            f"{subject} {ACTIONS[(row + column) % len(ACTIONS)]}"
            for row, subject in enumerate(SUBJECTS)
        ]
        for column, role in enumerate(roles)
    }
    labels = LABELS[label_kind]
    if label_kind == "embedding" and roles[0] == "anchor":
        labels = np.stack([labels] * len(roles), axis=1)
    return ks.data.Examples(columns, labels)


def train_two_steps(encoder, loss, loss_options=None, roles=None):
    """``ks.fit`` for 2 steps (8 examples, batch 4); the loss and the weights before and after."""
    instance = L.get_loss(loss, loss_options)
    roles = roles or loss_roles(instance)
    examples = tiny_examples(roles, instance.label_kind)
    before = [v.numpy().copy() for v in encoder.trainable_variables]
    config = ks.TrainingConfig(
        loss=loss,
        loss_options=loss_options,
        epochs=1,
        batch_size=4,
        learning_rate=1e-2,
        weight_decay=0.0,  # only the loss's gradients move the weights
    )
    history = ks.fit(encoder, examples, config, verbose=0)
    after = [v.numpy() for v in encoder.trainable_variables]
    return history.history["loss"], before, after


def assert_trained(history, before, after):
    assert len(history) == 1 and np.all(np.isfinite(history)), history
    assert any(not np.allclose(a, b) for a, b in zip(before, after, strict=True))


@pytest.mark.parametrize("name", sorted(L.LOSSES))
def test_every_registered_loss_trains_by_name_through_fit(tiny_vocab_folder, name):
    options = {"matryoshka": {"loss": "cosent", "dims": [16, 8]}, "softmax": {"num_labels": 2}}
    options = options.get(name)
    with_negative = name in ("mnrl", "margin-mse", "distill-kl-div")  # hard negatives
    roles = ("anchor", "positive", "negative_1") if with_negative else None
    encoder = make_tiny_encoder(tiny_vocab_folder)
    assert_trained(*train_two_steps(encoder, name, options, roles))


def test_fit_takes_a_loss_instance_wrapping_another(tiny_vocab_folder):
    encoder = make_tiny_encoder(tiny_vocab_folder)
    loss = ks.losses.MatryoshkaLoss(ks.losses.CoSENTLoss(), dims=[16, 8])
    assert_trained(*train_two_steps(encoder, loss))
    assert ks.TrainingConfig(loss=loss).to_dict()["loss"] == keras.losses.serialize(loss)


def test_fit_refuses_a_loss_without_roles(tiny_vocab_folder):
    examples = tiny_examples(("text_a", "text_b"), "score")
    config = ks.TrainingConfig(loss=keras.losses.MeanSquaredError())
    with pytest.raises(ValueError, match=r"MeanSquaredError does not declare .*`roles`"):
        ks.fit(make_tiny_encoder(tiny_vocab_folder), examples, config, verbose=0)
    with pytest.raises(ValueError, match="`roles`"):
        ks.training.check_examples(examples, keras.losses.MeanSquaredError())


@pytest.mark.parametrize(
    ("loss", "sampler", "bucketing", "expected"),
    [
        ("batch-hard-triplet", None, True, {"group_by_label": True}),
        ("batch-all-triplet", None, True, {"group_by_label": True}),
        ("mnrl", None, True, {"no_duplicates": True, "length_bucketing": True}),
        ("cosent", None, True, {"length_bucketing": True}),
        ("cosent", None, False, {}),
        ("batch-hard-triplet", "batch_sampler", True, {"length_bucketing": True}),
    ],
)
def test_fit_draws_the_batches_the_loss_needs(
    tiny_vocab_folder, monkeypatch, loss, sampler, bucketing, expected
):
    """The batch triplet losses need two examples of a label in a batch: label-grouped batches
    by default (sentence-transformers' GROUP_BY_LABEL), never length-bucketed; ``batch_sampler``
    overrides; ``length_bucketing=False`` gives rows in random order."""
    from keras_siamese.training import trainer

    seen = {}

    def recording(*args, **kwargs):
        seen.update(kwargs)
        return make_dataset(*args, **kwargs)

    make_dataset = trainer.make_dataset
    monkeypatch.setattr(trainer, "make_dataset", recording)
    instance = L.get_loss(loss)
    config = ks.TrainingConfig(
        loss=loss, batch_size=4, batch_sampler=sampler, length_bucketing=bucketing
    )
    ks.fit(
        make_tiny_encoder(tiny_vocab_folder),
        tiny_examples(loss_roles(instance), instance.label_kind),
        config,
        verbose=0,
    )
    for option in ("group_by_label", "no_duplicates", "length_bucketing"):
        assert seen.get(option, False) == expected.get(option, False)


def test_batch_hard_triplet_loss_decreases_on_label_grouped_batches(tiny_vocab_folder):
    examples = tiny_examples(("text",), "class")
    config = ks.TrainingConfig(
        loss="batch-hard-triplet",
        loss_options={"margin": 1.0},
        epochs=6,
        batch_size=4,
        learning_rate=1e-2,
        weight_decay=0.0,
    )
    history = ks.fit(make_tiny_encoder(tiny_vocab_folder), examples, config, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < losses[0], losses
