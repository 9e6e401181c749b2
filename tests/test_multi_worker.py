"""``fit`` under ``tf.distribute`` across processes (issue 11): two real workers of a
``MultiWorkerMirroredStrategy`` on 127.0.0.1 (``TF_CONFIG``, collectives over gRPC, CPU) train as
one device does, and a ``MirroredStrategy`` run killed after a backup and run again ends as an
uninterrupted one.

Every run is a fresh interpreter: a strategy must be made before TensorFlow runs any op (and the
CPU split into two logical devices before it initialises them). Most of the time is importing
TensorFlow and tracing the step under the strategy: about 80 s of CPU for each test; on 2 cores
shared with a full test run, 85-105 s for the workers' and 90-120 s for the kill test.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import numpy as np
from test_distribute import PRELUDE, TINY_MNRL_SETUP, run_isolated_python

WORKER_TIMEOUT_S = 480  # a hang guard: about 90 s of CPU each, far more on a loaded machine

# Without TF_CONFIG: one process, one device, the reference. With it: a worker of the cluster,
# which trains with gathered in-batch negatives, then (for the contrast) without.
WORKER_SCRIPT = (
    """
import json, os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import tensorflow as tf
strategy = tf.distribute.MultiWorkerMirroredStrategy() if "TF_CONFIG" in os.environ else None
import keras
import numpy as np
from keras_siamese.data import from_lists
from keras_siamese.testing import TINY_WORDS, make_tiny_encoder
from keras_siamese.training import TrainingConfig, fit, trainer

vocab, out = sys.argv[1], sys.argv[2]
# Plain SGD for fit's AdamW: Adam's first updates are about lr * sign(gradient), so float noise in
# near-zero gradients, summed in another order across workers, becomes whole steps (see
# test_distribute). Everything else is fit's own.
trainer.make_optimizer = lambda config, steps, distributed=False: keras.optimizers.SGD(
    config.learning_rate)
"""
    + TINY_MNRL_SETUP
    + """

results = {"chief": trainer.is_chief(strategy)}
# 20 steps with gathering; without, 2 are enough to differ.
runs = (("gather", True, 10), ("local", False, 1)) if strategy else (("one", False, 10),)
for name, gather, epochs in runs:
    encoder = tiny_without_dropout()
    config = TrainingConfig(loss="mnrl", loss_options={"gather_across_replicas": gather},
                            batch_size=32, epochs=epochs, learning_rate=0.5, seed=0,
                            warmup_ratio=0.0, weight_decay=0.0, clipnorm=None)
    history = fit(encoder, train, config, verbose=0, strategy=strategy)
    weights = np.concatenate([np.ravel(w) for w in encoder.get_weights()])
    results[name] = {"losses": [float(x) for x in history.losses], "weights": weights.tolist()}
with open(out, "w") as file:
    json.dump(results, file)
"""
)


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _run_together(commands: dict[str, tuple[list[str], dict]], folder, timeout: float) -> None:
    """Runs ``commands`` (name: (argv, environment)) at once, each logging to ``folder/name.log``;
    fails when one exits non-zero or they are not all done in ``timeout`` seconds. Every process
    still running is killed on the way out (a worker whose peer died waits for it forever)."""
    processes = {}
    try:
        for name, (argv, env) in commands.items():
            with open(folder / f"{name}.log", "wb") as log:
                processes[name] = subprocess.Popen(argv, env=env, stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            codes = {name: p.poll() for name, p in processes.items()}
            failed = [name for name, code in codes.items() if code not in (None, 0)]
            if failed or None not in codes.values():
                break
            time.sleep(0.2)
        for name, process in processes.items():
            if process.poll() != 0:
                log = (folder / f"{name}.log").read_text(errors="replace")
                state = "timed out" if process.poll() is None else f"exit {process.returncode}"
                raise AssertionError(f"{name}: {state}\n{log[-3000:]}")
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()


def test_two_workers_train_as_one_device(tmp_path):
    """The issue's check on real workers: 20 steps of MNRL at global batch 32 on two worker
    processes (16 rows each) with ``gather_across_replicas=True`` equal one process with batch
    32, loss by loss and weight by weight, on both workers; without gathering they differ."""
    from keras_siamese.testing import write_tiny_vocabulary

    vocab = write_tiny_vocabulary(tmp_path / "vocab")
    script = tmp_path / "worker.py"
    script.write_text(textwrap.dedent(WORKER_SCRIPT), encoding="utf-8")
    cluster = {"worker": [f"127.0.0.1:{port}" for port in _free_ports(2)]}
    base = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    base.pop("TF_CONFIG", None)
    commands = {
        "one": ([sys.executable, "-I", str(script), str(vocab), str(tmp_path / "one.json")], base)
    }
    for index in range(2):
        task = {"cluster": cluster, "task": {"type": "worker", "index": index}}
        argv = [sys.executable, "-I", str(script), str(vocab), str(tmp_path / f"w{index}.json")]
        commands[f"worker{index}"] = (argv, {**base, "TF_CONFIG": json.dumps(task)})
    _run_together(commands, tmp_path, WORKER_TIMEOUT_S)

    def read(name):
        runs = json.loads((tmp_path / f"{name}.json").read_text())
        return runs.pop("chief"), {
            run: {key: np.array(value) for key, value in values.items()}
            for run, values in runs.items()
        }

    one = read("one")[1]["one"]
    assert len(one["losses"]) == 20
    workers = [read("w0"), read("w1")]
    assert [chief for chief, _ in workers] == [True, False]  # worker 0 is the chief
    for _, runs in workers:
        gather, local = runs["gather"], runs["local"]
        np.testing.assert_allclose(gather["losses"], one["losses"], rtol=0, atol=1e-4)
        np.testing.assert_allclose(gather["weights"], one["weights"], rtol=0, atol=1e-4)
        # Without gathering each worker ranks among its 16 rows only: a lower loss from step 1.
        assert len(local["losses"]) == 2
        assert (local["losses"] < one["losses"][:2] - 0.3).all()
        assert np.abs(local["weights"] - one["weights"]).max() > 1e-3


RESUME_SCRIPT = (
    PRELUDE
    + """
import keras
from keras_siamese.data import from_lists
from keras_siamese.testing import TINY_WORDS, make_tiny_encoder
from keras_siamese.training import TrainingConfig, fit

vocab, backup = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(1)
words = [w for w in TINY_WORDS if w.isalpha()]
pairs = {}
while len(pairs) < 64:
    pairs.setdefault(" ".join(rng.choice(words, 4)), " ".join(rng.choice(words, 5)))
train = from_lists(anchor=list(pairs), positive=list(pairs.values()))
# 4 steps a pass, 8 in all, a backup every 3 (at 3 and 6, both mid-pass, and 8). fit's own
# AdamW, clipped, and the tiny encoder's dropout: a resumed run must replay all of it.
config = TrainingConfig(loss="mnrl", loss_options={"gather_across_replicas": True},
                        batch_size=16, epochs=2, learning_rate=1e-3, seed=3,
                        checkpoint_every=3)
results = {}
for name, folder in (("resumed", backup), ("uninterrupted", None)):
    encoder = make_tiny_encoder(vocab, seed=0)
    trained = []  # the steps this process trains
    count = keras.callbacks.LambdaCallback(on_train_batch_end=lambda *_, **__: trained.append(1))
    history = fit(encoder, train, config, [count], backup_dir=folder, verbose=0,
                  strategy=strategy)
    weights = np.concatenate([np.ravel(w) for w in encoder.get_weights()])
    results[name] = {"steps": history.steps, "losses": [float(x) for x in history.losses],
                     "weights": weights.tolist(), "trained": len(trained)}
print(json.dumps(results))
"""
)


def test_mirrored_run_killed_after_a_backup_resumes_as_an_uninterrupted_one(tmp_path):
    """Two replicas (logical CPUs), ``MirroredStrategy``: killed (SIGKILL) at step 5, two steps
    after the first backup (step 3); the rerun resumes from it, replays steps 4 and 5 and ends
    with the weights and the per-step losses of an uninterrupted run under the same strategy
    (made in that same process afterwards). (``tests/test_kill.py`` covers kills at every step of
    writing a backup, with no strategy: the backup code does not depend on it.)"""
    from keras_siamese.testing import write_tiny_vocabulary

    vocab = str(write_tiny_vocabulary(tmp_path / "vocab"))
    backup = tmp_path / "backup"
    argv = [sys.executable, "-I", "-c", textwrap.dedent(RESUME_SCRIPT), vocab, str(backup)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_SIAMESE_KILL_AT": "step#5"}
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=480)
    assert done.returncode == -signal.SIGKILL, (done.returncode, done.stderr[-3000:])
    assert sorted(p.name for p in backup.iterdir()) == ["epoch-000001"]
    runs = run_isolated_python(RESUME_SCRIPT, vocab, str(backup))
    assert not backup.exists()  # deleted once the run completed
    resumed, uninterrupted = runs["resumed"], runs["uninterrupted"]
    assert (resumed["trained"], uninterrupted["trained"]) == (5, 8)  # resumed at step 3
    assert resumed["steps"] == uninterrupted["steps"] == list(range(1, 9))
    np.testing.assert_allclose(resumed["losses"], uninterrupted["losses"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(resumed["weights"], uninterrupted["weights"], rtol=0, atol=1e-5)
