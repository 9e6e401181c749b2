"""Evaluators as Keras callbacks: their metrics reach History, EarlyStopping and ModelCheckpoint."""

from types import SimpleNamespace

import numpy as np
import pytest
import tensorflow as tf
from test_data_standins import BagOfWordsEncoder, WordTokenizer

import keras_siamese  # noqa: F401  (selects the TensorFlow backend before keras)
from keras_siamese.data import Examples, make_dataset
from keras_siamese.evaluation import STSEvaluator, TripletEvaluator

# isort: split
import keras

WORDS = ["a", "man", "woman", "dog", "cat", "eats", "runs", "sleeps", "plays", "guitar", "food"]


@pytest.fixture(scope="module")
def sts_pairs() -> Examples:
    rng = np.random.default_rng(0)

    def sentence() -> str:
        return " ".join(rng.choice(WORDS, size=rng.integers(2, 6)))

    first = [sentence() for _ in range(48)]
    second = [sentence() for _ in range(48)]
    overlap = [
        len(set(a.split()) & set(b.split())) / len(set(a.split()) | set(b.split()))
        for a, b in zip(first, second, strict=True)
    ]
    return Examples({"text_a": first, "text_b": second}, overlap)


def siamese_model(encoder: BagOfWordsEncoder) -> keras.Model:
    """Cosine similarity of the two texts' embeddings, from the pipeline's flat inputs."""
    inputs = {
        f"{role}_{name}": keras.Input((None,), dtype="int32", name=f"{role}_{name}")
        for role in ("text_a", "text_b")
        for name in ("input_ids", "attention_mask")
    }
    embeddings = [
        encoder(inputs[f"{role}_input_ids"], inputs[f"{role}_attention_mask"])
        for role in ("text_a", "text_b")
    ]
    similarity = keras.layers.Dot(axes=-1, normalize=True)(embeddings)
    model = keras.Model(inputs, keras.ops.squeeze(similarity, -1))
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    return model


def test_fit_logs_metrics_for_history_and_checkpoints(sts_pairs, tmp_path):
    tokenizer = WordTokenizer(WORDS)
    encoder = BagOfWordsEncoder(tokenizer)
    model = siamese_model(encoder)
    dev = STSEvaluator.from_examples(sts_pairs, name="sts_dev")  # encoder found in the model
    best = tmp_path / "best.weights.h5"
    history = model.fit(
        make_dataset(sts_pairs, tokenizer, batch_size=16, seed=0),
        epochs=3,
        verbose=0,
        callbacks=[
            dev,
            keras.callbacks.ModelCheckpoint(
                best,
                monitor=dev.primary_metric,
                mode="max",
                save_best_only=True,
                save_weights_only=True,
            ),
            keras.callbacks.EarlyStopping(monitor=dev.primary_metric, mode="max", patience=5),
        ],
    )
    for similarity in ("cosine", "euclidean", "manhattan", "dot"):
        for correlation in ("spearman", "pearson"):
            assert len(history.history[f"sts_dev_{correlation}_{similarity}"]) == 3
    spearman = history.history["sts_dev_spearman_cosine"]
    assert spearman[-1] > spearman[0]  # it learns word overlap
    assert best.exists()
    assert dev(encoder)["sts_dev_spearman_cosine"] == pytest.approx(spearman[-1], abs=1e-3)


def test_every_n_steps_writes_into_batch_logs(sts_pairs):
    tokenizer = WordTokenizer(WORDS)
    model = siamese_model(BagOfWordsEncoder(tokenizer))
    triplets = Examples(
        {"anchor": ["a man eats"], "positive": ["a man eats food"], "negative": ["a cat"]}
    )
    evaluator = TripletEvaluator.from_examples(triplets, name="tri", every_n_steps=2)
    evaluated_steps = []

    class Recorder(keras.callbacks.Callback):
        step = 0

        def on_train_batch_end(self, batch, logs=None):
            self.step += 1
            if evaluator.primary_metric in logs:
                evaluated_steps.append(self.step)

    dataset = make_dataset(sts_pairs, tokenizer, batch_size=16, seed=0)  # 3 batches per epoch
    model.fit(dataset, epochs=2, verbose=0, callbacks=[evaluator, Recorder()])
    assert evaluated_steps == [2, 4, 6]


class SpyEncoder:
    def __init__(self) -> None:
        self.calls = 0

    def encode(self, texts, batch_size=32, normalize=None, show_progress_bar=None):
        self.calls += 1
        return np.eye(len(texts), dtype=np.float32)


def test_encoder_given_or_found_in_the_model():
    triplets = Examples({"anchor": ["a"], "positive": ["b"], "negative": ["c"]})
    found = SpyEncoder()
    model = SimpleNamespace(layers=[SimpleNamespace(layers=[tf.Module(), found])])
    evaluator = TripletEvaluator.from_examples(triplets)
    with pytest.raises(ValueError, match="TripletEvaluator has no encoder"):
        evaluator.evaluate()
    evaluator.set_model(model)
    assert evaluator.evaluate() == {"triplet_cosine_accuracy": 0.0}
    assert found.calls == 1
    given = SpyEncoder()
    evaluator = TripletEvaluator.from_examples(triplets, encoder=given)
    evaluator.set_model(model)
    evaluator.on_epoch_end(0, logs := {"loss": 1.0})
    assert logs == {"loss": 1.0, "triplet_cosine_accuracy": 0.0}
    assert (given.calls, found.calls) == (1, 1)
