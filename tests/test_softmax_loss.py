"""SoftmaxLoss (issue 10): sentence-transformers' value and gradients, its head trained by fit."""

import types

import keras
import numpy as np
import pytest

import keras_siamese as ks
from keras_siamese import losses as L
from keras_siamese.evaluation import LabelAccuracyEvaluator

RNG = np.random.default_rng(11)
B, D, CLASSES = 8, 6, 3
PAIRS = RNG.normal(size=(B, 2, D)).astype("float32")
LABELS = np.array([0, 1, 2, 0, 1, 2, 2, 0])


def keras_value_and_gradients(loss: L.SoftmaxLoss):
    import tensorflow as tf

    pairs = tf.Variable(PAIRS)
    with tf.GradientTape() as tape:
        value = loss(LABELS, loss.head(pairs))
    variables = [pairs, loss.classifier.kernel, loss.classifier.bias]
    return float(value), [g.numpy() for g in tape.gradient(value, variables)]


@pytest.mark.reference
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"concatenation_sent_multiplication": True},
        {"concatenation_sent_rep": False, "concatenation_sent_multiplication": True},
    ],
)
def test_equals_sentence_transformers(options, monkeypatch):
    torch = pytest.importorskip("torch")
    softmax = pytest.importorskip("sentence_transformers.sentence_transformer.losses.softmax")
    ours = L.SoftmaxLoss(num_labels=CLASSES, **options)
    ours.head(PAIRS)  # builds the classifier
    theirs = softmax.SoftmaxLoss(types.SimpleNamespace(device="cpu"), D, CLASSES, **options)
    with torch.no_grad():  # the same classifier: torch's Linear keeps the kernel transposed
        theirs.classifier.weight.copy_(torch.tensor(ours.classifier.kernel.numpy().T))
        theirs.classifier.bias.copy_(torch.tensor(ours.classifier.bias.numpy()))
    pairs = torch.tensor(PAIRS, requires_grad=True)
    monkeypatch.setattr(
        softmax, "embed_columns", lambda model, features: [pairs[:, 0], pairs[:, 1]]
    )
    value = theirs([None, None], torch.tensor(LABELS))
    value.backward()
    expected = [pairs.grad, theirs.classifier.weight.grad.T, theirs.classifier.bias.grad]
    got_value, got = keras_value_and_gradients(ours)
    assert got_value == pytest.approx(value.item(), rel=1e-5)
    for ours_grad, their_grad in zip(got, expected, strict=True):
        np.testing.assert_allclose(ours_grad, their_grad.numpy(), atol=1e-6)


def test_options_and_features():
    with pytest.raises(ValueError, match="num_labels must be a positive integer"):
        L.SoftmaxLoss(num_labels=0)
    with pytest.raises(ValueError, match="at least one of"):
        L.SoftmaxLoss(3, concatenation_sent_rep=False, concatenation_sent_difference=False)
    features = L.PairFeatures(multiplication=True)
    u, v = PAIRS[:, 0], PAIRS[:, 1]
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(features(PAIRS)),
        np.concatenate([u, v, np.abs(u - v), u * v], axis=1),
        rtol=1e-6,
    )
    restored = keras.layers.deserialize(keras.layers.serialize(features))
    assert restored.get_config() == features.get_config()


def test_fit_trains_the_classifier_with_the_encoder(tiny_vocab_folder):
    from conftest import make_tiny_encoder

    encoder = make_tiny_encoder(tiny_vocab_folder)
    texts_a = ["a man plays a guitar", "a dog runs", "a cat eats", "the car is red"] * 4
    texts_b = ["a man is playing guitar", "a dog sleeps", "nobody eats", "the car is blue"] * 4
    labels = [0, 1, 2, 1] * 4
    pairs = ks.data.from_lists(text_a=texts_a, text_b=texts_b, labels=labels)
    loss = L.SoftmaxLoss(num_labels=3)
    accuracy = LabelAccuracyEvaluator.from_examples(pairs, classifier=loss.classifier, name="nli")
    encoder_before = [w.copy() for w in encoder.get_weights()]
    config = ks.TrainingConfig(loss=loss, batch_size=8, epochs=6, learning_rate=1e-2, seed=1)
    history = ks.fit(encoder, pairs, config, callbacks=[accuracy], verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < losses[0]
    assert history.history["nli_accuracy"][-1] > 0.5
    assert any(
        not np.allclose(a, b) for a, b in zip(encoder_before, encoder.get_weights(), strict=True)
    )
