"""``keras-siamese train`` killed with SIGKILL over and over, at points spread over the run, and
run again each time: no rerun crashes, and the last one ends with the model (and history) of an
uninterrupted run.

The points are the ``keras_siamese.killpoints`` marks (``KERAS_SIAMESE_KILL_AT=NAME#N``: the N-th
time this process reaches NAME): training steps, each step of writing a backup (weights written,
all written but not renamed, renamed, older ones pruned), and the final save (model, history,
metrics, deleting the backup). The run: 24 pairs, batch 4, 2 epochs = 12 steps, a backup every 4
steps (so one at a chunk boundary in the middle of a pass over the data). Each process takes
5-10 s (importing TensorFlow, tracing): 11 kills take about 2 minutes on 2 cores.
"""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
from test_training_recovery import _write_stsb

from keras_siamese.cli.main import main
from keras_siamese.encoders import SentenceEncoder

ROOT = Path(__file__).resolve().parents[1]
FLAGS = ["--loss", "cosine", "--batch-size", "4", "--lr", "0.001", "--epochs", "2"]
FLAGS += ["--checkpoint-every", "4", "--seed", "11"]

# Each process resumes from what the one before left: every point below is reached.
POINTS = [  # 11 kills (each kind of point at least once), then a run to the end
    "step#2",
    "backup-weights#1",
    "backup-written#1",
    "backup-renamed#1",  # epoch-000001 in place
    "step#3",
    "backup-pruned#1",  # epoch-000002 in place
    "backup-renamed#1",  # epoch-000003 in place, epoch-000001 not yet pruned: 3 backups
    "model-saved",
    "history-saved",
    "metrics-saved",
    "backup-deleting#1",  # the rerun finds a finished run: deletes epoch-000001, killed
]


def _command(model, data, output):
    return [
        sys.executable,
        "-m",
        "keras_siamese.cli.main",
        "train",
        "--model",
        str(model),
        "--data",
        str(data),
        "--output",
        str(output),
        *FLAGS,
    ]


def _weights(folder):
    return [v.numpy() for v in SentenceEncoder.from_pretrained(folder).weights]


def _kill_and_rerun(points, tiny_model_folder, tmp_path):
    data = _write_stsb(tmp_path / "pairs.tsv")
    clean = tmp_path / "clean"
    assert main(_command(tiny_model_folder, data, clean)[3:]) == 0  # in this process
    output = tmp_path / "killed"
    command = _command(tiny_model_folder, data, output)
    base = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
    for point in [*points, None]:
        env = dict(base)
        if point is not None:
            env["KERAS_SIAMESE_KILL_AT"] = point
        done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
        expected = 0 if point is None else -signal.SIGKILL
        assert done.returncode == expected, (point, done.returncode, done.stderr[-2000:])
    assert sorted(p.name for p in output.iterdir()) == [
        "history.json",
        "history.png",
        "metrics.json",
        "model",
    ]
    for a, b in zip(_weights(clean / "model"), _weights(output / "model"), strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    history = json.loads((output / "history.json").read_text())
    reference = json.loads((clean / "history.json").read_text())
    assert history["step"] == reference["step"] == list(range(1, 13))
    np.testing.assert_allclose(history["loss"], reference["loss"], rtol=0, atol=1e-6)


def test_train_killed_at_11_points_ends_as_an_uninterrupted_run(tiny_model_folder, tmp_path):
    _kill_and_rerun(POINTS, tiny_model_folder, tmp_path)
