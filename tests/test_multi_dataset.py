"""Several datasets in one run (sentence-transformers' multi-dataset training): the interleaving
of the batches, a step of each task equal to the plain model's, ``fit`` with a loss per
dataset, resumed from a backup."""

import math
from collections import Counter

import keras
import numpy as np
import pytest
from test_cached_mnrl import tiny_encoder

from keras_siamese import losses as L
from keras_siamese.data import Examples, from_lists, make_dataset
from keras_siamese.siamese import training_model
from keras_siamese.testing import make_tiny_encoder
from keras_siamese.training import TrainingConfig, fit
from keras_siamese.training.multi_dataset import (
    MultiTaskModel,
    interleaving_order,
    multi_dataset,
)

SCORED = from_lists(
    text_a=["a man plays the guitar", "a dog runs", "the cat eats food", "a red car"] * 2,
    text_b=["a man is playing", "a cat sleeps", "a cat is eating", "a blue car"] * 2,
    labels=[0.95, 0.1, 0.9, 0.5, 0.3, 0.6, 0.2, 0.8],
)
ANCHORED = from_lists(
    anchor=["a man", "the big dog", "a red car", "the park", "a happy woman", "a cat"],
    positive=["a man plays", "a small dog", "a blue car", "a big park", "a sad woman", "cat"],
)


@pytest.mark.parametrize("seed", [0, 1])
def test_proportional_uses_every_batch_once_per_pass_in_a_seeded_order(seed):
    counts = {"a": 5, "b": 2, "c": 1}
    order = interleaving_order(counts, "proportional", seed, passes=3)
    assert len(order) == 3 * 8
    for start in range(0, len(order), 8):
        assert Counter(order[start : start + 8]) == {0: 5, 1: 2, 2: 1}
    assert order == interleaving_order(counts, "proportional", seed, passes=3)
    assert order[:8] != order[8:16] or order[8:16] != order[16:]  # reshuffled per pass
    other = [interleaving_order(counts, "proportional", s, passes=3) for s in range(2, 6)]
    assert any(order != o for o in other)


def test_round_robin_cycles_until_the_smallest_runs_out():
    assert interleaving_order({"a": 5, "b": 2, "c": 3}, "round_robin") == [0, 1, 2, 0, 1, 2]
    assert interleaving_order({"a": 1, "b": 4}, "round_robin", passes=2) == [0, 1, 0, 1]
    with pytest.raises(ValueError, match="multi_dataset_sampler must be one of"):
        interleaving_order({"a": 1}, "random")


def _datasets(encoder, shuffle=True):
    tokenizer = encoder.in_graph_tokenizer()
    return {
        "sts": make_dataset(SCORED, tokenizer, 4, shuffle=shuffle, seed=0),
        "nli": make_dataset(ANCHORED, tokenizer, 2, shuffle=shuffle, seed=0),
    }


@pytest.mark.parametrize("sampler", ["proportional", "round_robin"])
def test_each_batch_of_the_stream_comes_from_one_dataset(tiny_vocab_folder, sampler):
    encoder = make_tiny_encoder(tiny_vocab_folder)
    stream = multi_dataset(_datasets(encoder), sampler, seed=3, passes=2)
    tasks = []
    for x, y in stream:
        task = int(x["task"])
        tasks.append(task)
        active = ("sts", "nli")[task]
        for name in ("sts", "nli"):
            rows = {int(v.shape[0]) for k, v in x.items() if k.startswith(f"{name}/")}
            rows.add(int(y[name].shape[0]))
            assert rows == ({4 if name == "sts" else 2} if name == active else {0}), (name, rows)
    expected = interleaving_order({"sts": 2, "nli": 3}, sampler, seed=3, passes=2)
    assert tasks == expected
    assert int(stream.cardinality()) == len(expected)
    again = [int(x["task"]) for x, _ in multi_dataset(_datasets(encoder), sampler, 3, passes=2)]
    assert again == tasks


@pytest.mark.parametrize("task", ["sts", "nli"])
def test_a_step_on_a_task_is_a_step_of_its_plain_model(tiny_vocab_folder, task):
    losses = {"sts": L.CoSENTLoss(), "nli": L.MultipleNegativesRankingLoss()}
    index = list(losses).index(task)
    datasets = _datasets(make_tiny_encoder(tiny_vocab_folder), shuffle=False)
    stream = multi_dataset(datasets, "round_robin")
    batch = next(element for element in stream if int(element[0]["task"]) == index)
    plain_x, plain_y = next(iter(datasets[task]))

    multi_encoder, plain_encoder = tiny_encoder(tiny_vocab_folder), tiny_encoder(tiny_vocab_folder)
    multi = MultiTaskModel(multi_encoder, losses)
    multi.compile(optimizer=keras.optimizers.SGD(0.01), jit_compile=False)
    logs = multi.train_on_batch(*batch, return_dict=True)
    plain = training_model(plain_encoder, losses[task])
    plain.compile(optimizer=keras.optimizers.SGD(0.01), loss=losses[task], jit_compile=False)
    plain_loss = plain.train_on_batch(plain_x, plain_y)

    assert logs["loss"] == pytest.approx(plain_loss, rel=1e-6)
    assert logs[f"loss_{task}"] == pytest.approx(plain_loss, rel=1e-6)
    moved = False
    for a, b, start in zip(
        multi_encoder.weights,
        plain_encoder.weights,
        tiny_encoder(tiny_vocab_folder).weights,
        strict=True,
    ):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-6)
        moved = moved or not np.allclose(a.numpy(), start.numpy())
    assert moved


def _fit_two(vocab, backup_dir, interrupt_at=None):
    encoder = make_tiny_encoder(vocab)
    callbacks = []
    if interrupt_at is not None:

        class Interrupt(keras.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                if self.model.optimizer.iterations.numpy() >= interrupt_at:
                    raise KeyboardInterrupt

        callbacks.append(Interrupt())
    config = TrainingConfig(
        loss={"sts": "cosent", "nli": "mnrl"},
        batch_size=4,
        learning_rate=1e-3,
        checkpoint_every=2,
        epochs=2,
    )
    train = {"sts": SCORED, "nli": ANCHORED}
    history = fit(encoder, train, config, callbacks, backup_dir=backup_dir, verbose=0)
    return encoder, history


def test_fit_two_datasets_with_their_losses_and_resume(tiny_vocab_folder, tmp_path):
    start = [v.numpy() for v in make_tiny_encoder(tiny_vocab_folder).weights]
    encoder, history = _fit_two(tiny_vocab_folder, tmp_path / "clean")
    # 2 + 2 batches a pass, 2 passes, a chunk of 2 steps
    assert len(history.history["loss"]) == 4
    for key in ("loss", "loss_sts", "loss_nli"):
        assert all(math.isfinite(value) for value in history.history[key]), key
    assert max(history.history["loss_sts"]) > 0 and max(history.history["loss_nli"]) > 0
    weights = [v.numpy() for v in encoder.weights]
    assert any(not np.allclose(a, b) for a, b in zip(start, weights, strict=True))
    card = encoder.model_card_data["training"]
    assert card["loss"] == {"sts": "cosent", "nli": "mnrl"}
    assert card["train_examples"] == len(SCORED) + len(ANCHORED)

    with pytest.raises(KeyboardInterrupt):
        _fit_two(tiny_vocab_folder, tmp_path / "backup", interrupt_at=5)
    resumed, _ = _fit_two(tiny_vocab_folder, tmp_path / "backup")
    for a, b in zip(weights, resumed.weights, strict=True):
        np.testing.assert_allclose(a, b.numpy(), rtol=0, atol=1e-6)


def test_mismatched_datasets_and_losses_are_rejected(tiny_vocab_folder):
    encoder = make_tiny_encoder(tiny_vocab_folder)
    config = TrainingConfig(loss={"sts": "cosent", "nli": "mnrl"})
    with pytest.raises(ValueError, match="need the same names"):
        fit(encoder, {"sts": SCORED, "other": ANCHORED}, config, verbose=0)
    with pytest.raises(ValueError, match=r"give train and config\.loss as mappings"):
        fit(encoder, SCORED, config, verbose=0)
    with pytest.raises(ValueError, match=r"give train and config\.loss as mappings"):
        fit(encoder, {"sts": SCORED}, TrainingConfig(loss="cosent"), verbose=0)
    with pytest.raises(ValueError, match=r"'mnrl' needs columns \('anchor', 'positive'\)"):
        fit(encoder, {"sts": SCORED, "nli": SCORED}, config, verbose=0)
    unscored = Examples(SCORED.columns, None)
    with pytest.raises(ValueError, match="numeric score labels"):
        fit(encoder, {"sts": unscored, "nli": ANCHORED}, config, verbose=0)
    with pytest.raises(ValueError, match="multi_dataset_sampler must be"):
        TrainingConfig(loss={"a": "cosent"}, multi_dataset_sampler="random")
    with pytest.raises(ValueError, match="loss_options must map"):
        TrainingConfig(loss={"a": "cosent"}, loss_options={"scale": 5.0})
