"""Training that loses nothing and is never silently wrong (issue 12, items 1-7 and 9): backups
that outlive the saved model and survive kills, resumed runs equal to uninterrupted ones (weights
and history), stale temporaries cleaned, non-finite values refused."""

import dataclasses
import json
import math
import re
import shutil
import warnings

import keras
import numpy as np
import pytest
from test_training import PAIRS

from conftest import make_tiny_encoder
from keras_siamese.cli.main import main
from keras_siamese.encoders import SentenceEncoder
from keras_siamese.training import TrainingConfig, fit
from keras_siamese.training import trainer as trainer_module

# 24 pairs, batch 4: 6 steps a pass, 12 in all, backups every 4 steps (at 4, 8 - mid-pass - and 12)
CONFIG = TrainingConfig(
    loss="cosine", batch_size=4, learning_rate=1e-3, epochs=2, checkpoint_every=4, seed=5
)


class Interrupt(keras.callbacks.Callback):
    """Raises KeyboardInterrupt after training step ``at`` (as a kill there would stop it)."""

    def __init__(self, at):
        super().__init__()
        self.at = at

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations.numpy()) >= self.at:
            raise KeyboardInterrupt


def _fit(vocab, backup=None, callbacks=(), config=CONFIG):
    encoder = make_tiny_encoder(vocab)
    history = fit(encoder, PAIRS, config, list(callbacks), backup_dir=backup, verbose=0)
    return [v.numpy() for v in encoder.weights], history


def _assert_close(first, second):
    for a, b in zip(first, second, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


@pytest.fixture(scope="module")
def uninterrupted(tiny_vocab_folder):
    weights, history = _fit(tiny_vocab_folder)
    assert min(history.losses) > 0  # the run trains: a zero loss would leave only weight decay
    return weights, history


# Item 5 (and 9: resumed at a chunk boundary in the middle of a pass over the data)
def test_resumed_run_has_the_whole_history_and_the_same_weights(
    tiny_vocab_folder, uninterrupted, tmp_path
):
    with pytest.raises(KeyboardInterrupt):
        _fit(tiny_vocab_folder, tmp_path / "backup", [Interrupt(10)])
    weights, history = _fit(tiny_vocab_folder, tmp_path / "backup")
    clean_weights, clean = uninterrupted
    _assert_close(clean_weights, weights)
    assert history.steps == clean.steps == list(range(1, 13))
    np.testing.assert_allclose(history.losses, clean.losses, rtol=0, atol=1e-6)
    assert len(history.history["loss"]) == len(clean.history["loss"]) == 3
    np.testing.assert_allclose(history.history["loss"], clean.history["loss"], atol=1e-6)


# Item 2
def test_backup_is_written_atomically(tiny_vocab_folder, uninterrupted, tmp_path, monkeypatch):
    """Killed while the second backup is written: the first is whole and the run resumes."""
    calls = []

    def killed_in_second_write(name):
        calls.append(name)
        if name == "backup-weights" and calls.count(name) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(trainer_module, "kill_point", killed_in_second_write)
    with pytest.raises(KeyboardInterrupt):
        _fit(tiny_vocab_folder, tmp_path / "backup")
    monkeypatch.undo()
    assert sorted(p.name for p in (tmp_path / "backup").iterdir()) == ["epoch-000001"]
    _assert_close(uninterrupted[0], _fit(tiny_vocab_folder, tmp_path / "backup")[0])


def test_a_backup_cut_short_falls_back_to_the_one_before(
    tiny_vocab_folder, uninterrupted, tmp_path
):
    backup = tmp_path / "backup"
    with pytest.raises(KeyboardInterrupt):
        _fit(tiny_vocab_folder, backup, [Interrupt(9)])
    assert sorted(p.name for p in backup.iterdir()) == ["epoch-000001", "epoch-000002"]
    weights_file = backup / "epoch-000002" / "latest.weights.h5"
    weights_file.write_bytes(weights_file.read_bytes()[:96])  # as a kill mid-write would
    with pytest.warns(UserWarning, match=r"skipped a backup: .*epoch-000002.*cannot be read"):
        weights, history = _fit(tiny_vocab_folder, backup)
    _assert_close(uninterrupted[0], weights)
    assert history.steps == list(range(1, 13))


def test_an_unreadable_backup_names_its_folder_and_what_to_do(tiny_vocab_folder, tmp_path):
    """Keras' BackupAndRestore layout, its one weights file truncated by a kill mid-write."""
    backup = tmp_path / "backup"
    backup.mkdir()
    (backup / "latest.weights.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 88)
    (backup / "training_metadata.json").write_text('{"epoch": 1, "batch": 0}')
    expected = rf"latest.weights.h5 cannot be read.*Delete {re.escape(str(backup))}"
    with pytest.raises(ValueError, match=expected):
        _fit(tiny_vocab_folder, backup)


# Item 3
@pytest.mark.parametrize(
    "metadata, weights, problem",
    [
        ('{"epoch": 2, "batch": 0}', False, "has no latest.weights.h5 beside it"),
        ("", True, "is not JSON"),
        ("garbage", True, "is not JSON"),
        ('{"batch": 0}', True, "has no valid 'epoch'"),
    ],
)
def test_bad_training_metadata_is_a_clear_error(
    tiny_vocab_folder, tmp_path, metadata, weights, problem
):
    backup = tmp_path / "backup"
    if weights:  # a real backup's weights, then its metadata spoiled
        with pytest.raises(KeyboardInterrupt):
            _fit(tiny_vocab_folder, backup, [Interrupt(5)])
        for slot in backup.iterdir():
            shutil.move(slot / "latest.weights.h5", backup / "latest.weights.h5")
            shutil.rmtree(slot)
    else:
        backup.mkdir()
    (backup / "training_metadata.json").write_text(metadata)
    metadata_path = backup / "training_metadata.json"
    expected = rf"{re.escape(str(metadata_path))} {problem}.*Delete {re.escape(str(backup))}"
    with pytest.raises(ValueError, match=expected):
        _fit(tiny_vocab_folder, backup)


def test_a_backup_of_other_settings_is_refused(tiny_vocab_folder, tmp_path):
    with pytest.raises(KeyboardInterrupt):
        _fit(tiny_vocab_folder, tmp_path / "backup", [Interrupt(5)])
    other = TrainingConfig(**{**CONFIG.to_dict(), "checkpoint_every": 3})
    with pytest.raises(ValueError, match=r"other settings.*rerun with the same settings"):
        _fit(tiny_vocab_folder, tmp_path / "backup", config=other)


def test_an_empty_backup_folder_is_a_fresh_start(tiny_vocab_folder, uninterrupted, tmp_path):
    backup = tmp_path / "backup"
    (backup / ".epoch-000001.tmp-0123abcd").mkdir(parents=True)  # a killed write's
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        _assert_close(uninterrupted[0], _fit(tiny_vocab_folder, backup)[0])


# Item 7
@pytest.mark.parametrize("name", ["learning_rate", "warmup_ratio", "weight_decay", "clipnorm"])
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_config_refuses_non_finite_hyperparameters(name, value):
    with pytest.raises(ValueError, match=f"{name} must be a finite number, got"):
        TrainingConfig(**{name: value})


class PoisonWeights(keras.callbacks.Callback):
    """Sets a weight to NaN after step ``at`` (as a diverging update would)."""

    def __init__(self, at):
        super().__init__()
        self.at = at

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations.numpy()) == self.at:
            variable = self.model.trainable_variables[0]
            variable.assign(np.full(variable.shape, np.nan, variable.dtype))


@pytest.mark.parametrize("at", [5, 8])  # within a chunk (the loss), at its end (the weights)
def test_non_finite_training_stops_and_keeps_the_last_good_backup(tiny_vocab_folder, tmp_path, at):
    backup = tmp_path / "backup"
    with pytest.raises(ValueError, match=r"training stopped at step \d+: .* is not finite"):
        _fit(tiny_vocab_folder, backup, [PoisonWeights(at)])
    assert sorted(p.name for p in backup.iterdir()) == ["epoch-000001"]
    weights, history = _fit(tiny_vocab_folder, backup)  # resumes from step 4
    assert all(np.isfinite(w).all() for w in weights)
    assert all(math.isfinite(loss) for loss in history.losses)


# The train command (items 1, 4, 5, 6, 7, 9)
def _write_stsb(path):
    rows = [
        f"g\tf\ty\t{i}\t{score * 5}\t{a}\t{b}"
        for i, (a, b, score) in enumerate(
            zip(PAIRS.columns["text_a"], PAIRS.columns["text_b"], PAIRS.labels, strict=True)
        )
    ]
    path.write_text("\n".join(rows) + "\n")
    return path


def _train(model, tmp_path, output, *flags):
    data = _write_stsb(tmp_path / "pairs.tsv")
    args = ["train", "--model", str(model), "--data", str(data), "--output", str(output)]
    args += ["--loss", "cosine", "--batch-size", "4", "--lr", "0.001", "--epochs", "2"]
    return main([*args, "--checkpoint-every", "4", *flags])


def _model_weights(folder):
    return [v.numpy() for v in SentenceEncoder.from_pretrained(folder).weights]


def test_the_backup_outlives_the_saved_model(tiny_model_folder, tmp_path, monkeypatch, capsys):
    """Killed after training, before the model is saved: the rerun restores the trained weights
    from the backup (which covers every epoch) and finishes, evaluation and history included."""
    out = tmp_path / "out"
    eval_flags = ("--eval", str(_write_stsb(tmp_path / "dev.tsv")))

    def killed(*args, **kwargs):
        raise RuntimeError("killed while saving")

    with monkeypatch.context() as patch:
        patch.setattr(SentenceEncoder, "save", killed)
        assert _train(tiny_model_folder, tmp_path, out, *eval_flags) == 1
    assert (out / "backup" / "epoch-000003").is_dir()  # all 3 chunks
    assert not (out / "metrics.json").exists()
    assert _train(tiny_model_folder, tmp_path, out, *eval_flags) == 0
    assert not (out / "backup").exists()
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["after"]) == set(metrics["before"]) and metrics["after"]
    history = json.loads((out / "history.json").read_text())
    assert history["step"] == list(range(1, 13))
    assert _train(tiny_model_folder, tmp_path, tmp_path / "clean", *eval_flags) == 0
    _assert_close(_model_weights(tmp_path / "clean" / "model"), _model_weights(out / "model"))
    assert json.loads((tmp_path / "clean" / "history.json").read_text()) == history


def test_a_finished_run_is_not_redone(tiny_model_folder, tmp_path, capsys):
    out = tmp_path / "out"
    assert _train(tiny_model_folder, tmp_path, out) == 0
    model_file = out / "model" / "model.safetensors"
    stamp = model_file.stat().st_mtime_ns
    (out / "backup" / "epoch-000003").mkdir(parents=True)  # killed while deleting it
    capsys.readouterr()
    assert _train(tiny_model_folder, tmp_path, out) == 0
    assert "already holds a finished run" in capsys.readouterr().out
    assert model_file.stat().st_mtime_ns == stamp
    assert not (out / "backup").exists()


def test_train_output_that_is_a_file_fails_before_any_work(tiny_model_folder, tmp_path, capsys):
    """Already checked with the other settings, before TensorFlow is imported."""
    output = tmp_path / "out"
    output.write_text("a file")
    assert _train(tiny_model_folder, tmp_path, output) == 2
    assert f"{output} exists and is not a folder" in capsys.readouterr().err
    assert output.read_text() == "a file"


def test_train_removes_its_own_stale_temporaries_only(tiny_model_folder, tmp_path):
    out = tmp_path / "out"
    stale = [
        out / ".model.tmp-0123abcd",
        out / ".model.old-89abcdef",
        out / ".history.json.tmp-deadbeef",
        out / ".metrics.json.tmp-00c0ffee",
        out / "backup" / ".epoch-000002.tmp-0123abcd",
    ]
    others = [out / ".notes.tmp-0123abcd", out / ".model.tmp-xyz", out / "model.tmp-0123abcd"]
    for path in [*stale, *others]:
        path.mkdir(parents=True)
    (out / ".model.tmp-0123abcd" / "model.safetensors").write_text("part")
    assert _train(tiny_model_folder, tmp_path, out) == 0
    assert not any(path.exists() for path in stale)
    assert all(path.exists() for path in others)


def test_train_refuses_a_non_finite_learning_rate(tiny_model_folder, tmp_path, capsys):
    assert _train(tiny_model_folder, tmp_path, tmp_path / "out", "--lr", "nan") == 2
    assert "learning_rate must be a finite number, got nan" in capsys.readouterr().err
    assert not (tmp_path / "out" / "model").exists()


def test_the_same_train_command_twice_gives_the_same_model(tiny_model_folder, tmp_path):
    assert _train(tiny_model_folder, tmp_path, tmp_path / "a", "--seed", "3") == 0
    assert _train(tiny_model_folder, tmp_path, tmp_path / "b", "--seed", "3") == 0
    for a, b in zip(
        _model_weights(tmp_path / "a" / "model"),
        _model_weights(tmp_path / "b" / "model"),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)


def test_gradient_accumulation_updates_every_n_batches_and_resumes_exactly(
    tiny_vocab_folder, tmp_path
):
    """(issue 11) One optimizer update per 3 batches; a backup taken mid-accumulation (every 4
    batches) holds the accumulated gradients, so the resumed run equals the uninterrupted one."""
    config = dataclasses.replace(CONFIG, gradient_accumulation_steps=3)
    encoder = make_tiny_encoder(tiny_vocab_folder)
    start = [v.numpy() for v in encoder.weights]
    history = fit(encoder, PAIRS, config, verbose=0)
    assert int(encoder.weights[0].numpy().size) and history.steps == list(range(1, 13))
    clean = [v.numpy() for v in encoder.weights]
    assert any(not np.allclose(a, b) for a, b in zip(start, clean, strict=True))
    with pytest.raises(KeyboardInterrupt):
        _fit(tiny_vocab_folder, tmp_path / "backup", [Interrupt(2)], config=config)
    resumed, _ = _fit(tiny_vocab_folder, tmp_path / "backup", config=config)
    _assert_close(clean, resumed)
