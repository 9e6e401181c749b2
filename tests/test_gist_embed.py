"""``GISTEmbedLoss`` (issue 10): its config and registry entry, the guide's masking of false
negatives, a ``fit`` guided by another tiny encoder, and ``gather_across_replicas`` on two
logical CPU devices. (Its values and gradients against sentence-transformers' own loss are in
``test_losses_reference.py``.)"""

import json
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_siamese as ks
from keras_siamese.data import Examples, with_teacher_embeddings
from keras_siamese.losses import (
    LOSSES,
    GISTEmbedLoss,
    MultipleNegativesRankingLoss,
    get_loss,
    gist_embed_loss,
)
from keras_siamese.testing import make_tiny_encoder

RNG = np.random.default_rng(3)
B, D = 4, 3
STUDENT = RNG.normal(size=(B, 3, D)).astype("float32")  # anchor, positive, negative_1


def _guide(false_negative: bool) -> np.ndarray:
    """Guide embeddings ``[B, 3, 2B]``: each pair's two texts alike (similarity 0.8), every other
    text unrelated to them (0); with ``false_negative``, row 2's negative means the same as
    anchor 0."""
    guide = np.zeros((B, 3, 2 * B), "float32")
    for row in range(B):
        guide[row, 0, row] = guide[row, 1, row] = 1.0
        guide[row, 1, B + row] = 0.75
        guide[row, 2, B + (row + 1) % B] = 1.0
    if false_negative:
        guide[2, 2] = guide[0, 0]
    return guide


def _per_anchor(guide, student) -> np.ndarray:
    return keras.ops.convert_to_numpy(GISTEmbedLoss(reduction=None)(guide, student))


def test_config_round_trips_through_keras_saving():
    loss = GISTEmbedLoss(
        temperature=0.05,
        margin_strategy="relative",
        margin=0.1,
        contrast_anchors=False,
        gather_across_replicas=True,
    )
    config = loss.get_config()
    assert config["margin_strategy"] == "relative" and config["contrast_positives"] is True
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(loss))
    assert type(restored) is GISTEmbedLoss and restored.get_config() == config
    guide = _guide(False)
    assert float(restored(guide, STUDENT)) == pytest.approx(float(loss(guide, STUDENT)))


def test_registry_entry_and_bad_options():
    assert LOSSES["gist"] is GISTEmbedLoss
    loss = get_loss("gist", {"margin": 0.2})
    assert isinstance(loss, GISTEmbedLoss) and loss.get_config()["margin"] == 0.2
    assert (GISTEmbedLoss.roles, GISTEmbedLoss.label_kind) == (("anchor", "positive"), "embedding")
    assert GISTEmbedLoss.takes_negatives and GISTEmbedLoss.min_negatives == 0
    for options in ({"temperature": 0.0}, {"margin_strategy": "percent"}, {"similarity": "l3"}):
        with pytest.raises(ValueError, match="bad loss options"):
            get_loss("gist", options)
    with pytest.raises(ValueError, match=r"guide's embeddings \[B, 3, Dg\]"):
        GISTEmbedLoss()(_guide(False)[:, :2], STUDENT)  # a guide of 2 columns for 3
    with pytest.raises(ValueError, match=r"guide's embeddings"):
        GISTEmbedLoss()(np.zeros((B, 8)), STUDENT)  # one teacher embedding per row


def test_a_false_negative_changes_nothing_when_its_student_similarity_changes():
    """Anchor 0's loss is blind to row 2's negative, which the guide rates as its paraphrase:
    moving the student's embedding of it onto anchor 0 leaves that loss (and its gradient with
    respect to it, zero) as it was; with a guide that sees no false negative it rises."""
    moved = STUDENT.copy()
    moved[2, 2] = STUDENT[0, 0]  # the student's hardest possible negative for anchor 0
    guided, unguided = _guide(True), _guide(False)
    before, after = _per_anchor(guided, STUDENT), _per_anchor(guided, moved)
    assert after[0] == pytest.approx(before[0], abs=1e-6)
    assert _per_anchor(unguided, moved)[0] > _per_anchor(unguided, STUDENT)[0] + 1.0
    variable = tf.Variable(moved)
    with tf.GradientTape() as tape:
        first = gist_embed_loss(guided, variable)[0]
    grad = tape.gradient(first, variable).numpy()
    assert np.abs(grad[2, 2]).max() == 0.0 and np.abs(grad[0, 1]).max() > 0.0


def test_without_false_negatives_it_is_mnrl_over_the_same_pools():
    """A guide that rates no candidate above the pair leaves GISTEmbed's in-batch ranking:
    pairs, with both contrasts, are MNRL's query-to-doc, query-to-query and doc-to-doc pools at
    scale 1 / temperature; without them, MNRL with the hard negatives."""
    guide = _guide(False)
    gist = GISTEmbedLoss(temperature=0.05)
    mnrl = MultipleNegativesRankingLoss(
        scale=20.0, directions=("query_to_doc", "query_to_query", "doc_to_doc")
    )
    pairs = STUDENT[:, :2]
    assert float(gist(guide[:, :2], pairs)) == pytest.approx(float(mnrl(np.zeros(B), pairs)))
    plain = GISTEmbedLoss(temperature=0.05, contrast_anchors=False, contrast_positives=False)
    expected = float(MultipleNegativesRankingLoss(scale=20.0)(np.zeros(B), STUDENT))
    assert float(plain(guide, STUDENT)) == pytest.approx(expected)


SUBJECTS = ["a man", "a woman", "the dog", "the cat", "a big car", "the red piano", "a girl"]
ACTIONS = ["plays guitar", "runs in the park", "eats food", "is happy", "is sad", "on the street"]


def _sentences(count: int, shift: int = 0) -> list[str]:
    return [
        f"{SUBJECTS[row % len(SUBJECTS)]} {ACTIONS[(row + shift) % len(ACTIONS)]}"
        for row in range(count)
    ]


def test_fit_guided_by_another_tiny_encoder(tiny_vocab_folder):
    """The guide (another tiny encoder, projected to 8 dimensions: not the student's 16) embeds
    the three columns once; ``fit`` with ``"gist"`` lowers the loss."""
    guide = make_tiny_encoder(tiny_vocab_folder, projections=[keras.layers.Dense(8)], seed=1)
    student = make_tiny_encoder(tiny_vocab_folder, seed=0)
    texts = {
        "anchor": _sentences(16),
        "positive": _sentences(16, shift=1),
        "negative_1": _sentences(16, shift=3)[::-1],
    }
    train = with_teacher_embeddings(Examples(texts), guide, list(texts))
    assert train.labels.shape == (16, 3, 8)
    config = ks.TrainingConfig(
        loss="gist",
        loss_options={"temperature": 0.05},
        epochs=6,
        batch_size=8,
        learning_rate=5e-3,
        warmup_ratio=0.0,
        weight_decay=0.0,
    )
    losses = ks.fit(student, train, config, verbose=0).history["loss"]
    assert np.all(np.isfinite(losses)) and losses[-1] < 0.8 * losses[0], losses


GATHER_SCRIPT = """
import json, os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
import numpy as np
from keras_siamese.losses import GISTEmbedLoss

rng = np.random.default_rng(0)
x = rng.normal(size=(8, 3, 4)).astype("float32")  # anchor, positive, one hard negative
guide = (x @ rng.normal(size=(4, 5)) + rng.normal(scale=0.5, size=(8, 3, 5))).astype("float32")
unit = guide / np.linalg.norm(guide, axis=-1, keepdims=True)
guide[5, 1] = unit[1, 0] + unit[1, 1]  # false negatives across the replicas, for the guide:
guide[1, 2] = guide[4, 0]  # positive 5 of anchor 1 (closer than positive 1), negative 1 of 4
results = []
for options in ({"contrast_anchors": False}, {"contrast_anchors": False, "margin": 0.3}, {}):
    loss = GISTEmbedLoss(gather_across_replicas=True, temperature=0.1, **options)
    w0 = tf.Variable(np.eye(4, dtype="float32") + 0.1)
    with tf.GradientTape() as tape:
        ref = loss(guide, tf.matmul(x, w0))
    ref_grad = tape.gradient(ref, w0).numpy()
    with strategy.scope():
        w = tf.Variable(np.eye(4, dtype="float32") + 0.1)
    batch = next(iter(strategy.experimental_distribute_dataset(
        tf.data.Dataset.from_tensor_slices((x, guide)).batch(8))))

    @tf.function
    def step(b, g):
        def replica(b, g):
            with tf.GradientTape() as tape:
                value = loss(g, tf.matmul(b, w))
            grad = tape.gradient(value, w)
            return value, tf.distribute.get_replica_context().all_reduce("sum", grad)
        return strategy.run(replica, args=(b, g))

    value, grad = step(*batch)
    values = [float(v) for v in strategy.experimental_local_results(value)]
    grad = strategy.experimental_local_results(grad)[0].numpy()
    local = GISTEmbedLoss(temperature=0.1, **options)
    halves = sum(float(local(guide[r:r + 4], x[r:r + 4] @ w0.numpy())) for r in (0, 4)) / 2
    results.append({"ref": float(ref), "sum": sum(values), "local": halves,
                    "grad": float(np.abs(grad - ref_grad).max())})
print(json.dumps(results))
"""


def test_gathered_across_two_replicas_equals_one_device():
    """Without the anchor pool (each replica's own anchors, as sentence-transformers'), the
    gathered loss and gradients on two replicas are one device's on the global batch, false
    negatives across the replicas left out; each replica alone would score otherwise."""
    result = subprocess.run(
        [sys.executable, "-I", "-c", textwrap.dedent(GATHER_SCRIPT)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    *cases, default = json.loads(result.stdout.strip().splitlines()[-1])
    for case in cases:
        assert case["sum"] == pytest.approx(case["ref"], abs=1e-5)
        assert case["grad"] < 1e-5
        assert abs(case["local"] - case["ref"]) > 1e-3
    # with the anchor pool (the default), each replica's own anchors: it runs
    assert np.isfinite(default["sum"]) and default["grad"] < 1e3
