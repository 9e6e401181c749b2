"""``fit(..., keep_best=True)`` and ``train --keep-best`` (issue 10): the encoder ends with the
weights that scored best over all evaluations, also after a resume from a backup."""

import json

import numpy as np
import pytest
from test_training import PAIRS
from test_training_recovery import CONFIG, Interrupt, _assert_close, _train, _write_stsb

from conftest import make_tiny_encoder
from keras_siamese.cli.main import main
from keras_siamese.evaluation import Evaluator
from keras_siamese.training import fit


class Scripted(Evaluator):
    """Scores each evaluation from a script (the best at the second one) and keeps a copy of
    the weights it saw."""

    primary = "score"

    def __init__(self, scores, every_n_steps=None):
        super().__init__("dev", every_n_steps=every_n_steps)
        self.scores, self.seen = list(scores), []

    def compute(self, encoder):
        self.seen.append([np.array(w) for w in encoder.get_weights()])
        return {"score": self.scores[len(self.seen) - 1]}


def _weights(encoder):
    return [np.array(w) for w in encoder.get_weights()]


def test_the_encoder_ends_with_the_best_weights(tiny_vocab_folder):
    # 12 steps in chunks of 4, evaluated every 3 steps and at chunk ends: 3, 4, 6, 8, 9, 12, 12.
    evaluator = Scripted([0.2, 0.9, 0.1, 0.5, 0.3, 0.4, 0.0], every_n_steps=3)
    encoder = make_tiny_encoder(tiny_vocab_folder)
    fit(encoder, PAIRS, CONFIG, [evaluator], verbose=0, keep_best=True)
    assert len(evaluator.seen) == 7
    _assert_close(_weights(encoder), evaluator.seen[1])
    last = evaluator.seen[-1]  # the weights training ended with
    assert not all(np.allclose(a, b) for a, b in zip(_weights(encoder), last, strict=True))


def test_keep_best_needs_an_evaluator(tiny_vocab_folder):
    with pytest.raises(ValueError, match="keep_best needs an evaluator"):
        fit(make_tiny_encoder(tiny_vocab_folder), PAIRS, CONFIG, verbose=0, keep_best=True)


def test_a_resumed_run_keeps_the_best_of_the_whole_run(tiny_vocab_folder, tmp_path):
    """The best (the first evaluation) is before the interruption; the backup carries it."""
    scores = [0.9, 0.1, 0.2]
    clean = Scripted(scores)
    encoder = make_tiny_encoder(tiny_vocab_folder)
    fit(encoder, PAIRS, CONFIG, [clean], verbose=0, keep_best=True)
    with pytest.raises(KeyboardInterrupt):
        fit(
            make_tiny_encoder(tiny_vocab_folder), PAIRS, CONFIG, [Scripted(scores), Interrupt(6)],
            backup_dir=tmp_path / "backup", verbose=0, keep_best=True,
        )  # fmt: skip
    resumed = make_tiny_encoder(tiny_vocab_folder)
    later = Scripted(scores[1:])  # the evaluations after the backup at step 4
    fit(resumed, PAIRS, CONFIG, [later], backup_dir=tmp_path / "backup", verbose=0, keep_best=True)
    _assert_close(_weights(resumed), clean.seen[0])


def test_train_keep_best_saves_the_best_and_reports_its_scores(tiny_model_folder, tmp_path):
    dev = _write_stsb(tmp_path / "dev.tsv")
    output = tmp_path / "run"
    assert _train(tiny_model_folder, tmp_path, output, "--eval", str(dev), "--keep-best") == 0
    metrics = json.loads((output / "metrics.json").read_text())
    history = json.loads((output / "history.json").read_text())
    key = "dev_sts_spearman_cosine"
    evaluated = [value for value in history[key] if value is not None]
    assert len(evaluated) == 3  # at steps 4, 8 and 12
    assert metrics["after"][key] == pytest.approx(max(evaluated), abs=1e-6)


def test_train_keep_best_without_eval_is_refused_before_any_work(
    tiny_model_folder, tmp_path, capsys
):
    data = _write_stsb(tmp_path / "pairs.tsv")
    args = ["train", "--model", str(tiny_model_folder), "--data", str(data)]
    assert main([*args, "--output", str(tmp_path / "o"), "--keep-best"]) == 2
    assert "--keep-best needs an --eval file" in capsys.readouterr().err
