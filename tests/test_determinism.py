"""Same seed, same settings: the same run, whatever ran before in the process and however the
encoder was built (the CLI and the Python API draw different random numbers before ``fit``)."""

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
from test_training import PAIRS

from conftest import make_tiny_encoder
from keras_siamese.encoders import SentenceEncoder
from keras_siamese.training import TrainingConfig, fit

CONFIG = TrainingConfig(loss="cosine", batch_size=4, learning_rate=1e-3, seed=7)


def _run(encoder: SentenceEncoder) -> tuple[list[float], list[np.ndarray]]:
    history = fit(encoder, PAIRS, CONFIG, verbose=0)
    assert min(history.losses) > 0  # the run trains: a zero loss would leave only weight decay
    return list(history.history["loss"]), [v.numpy() for v in encoder.weights]


def _assert_same(first, second) -> None:
    assert first[0] == second[0]
    for a, b in zip(first[1], second[1], strict=True):
        np.testing.assert_array_equal(a, b)


def _seed_generators(encoder: SentenceEncoder) -> list:
    return [g for layer in encoder._flatten_layers() for g in layer._seed_generators]


def test_fit_reseeds_every_dropout_from_the_config(tiny_vocab_folder):
    states = []
    for scramble in (False, True):
        encoder = make_tiny_encoder(tiny_vocab_folder)
        generators = _seed_generators(encoder)
        assert generators, "the backbone's Dropout layers have seed generators"
        if scramble:  # as if built after other random draws
            for generator in generators:
                generator.state.assign([random.randint(1, 10**9), 5])
        fit(encoder, PAIRS, CONFIG, verbose=0)
        states.append([tuple(g.state.numpy()) for g in generators])
    assert states[0] == states[1]
    assert len({state[0] for state in states[0]}) == len(states[0])  # one stream per layer


def test_two_fits_of_fresh_encoders_are_identical(tiny_model_folder):
    """As two runs of the README snippet: the encoders' Dropout seeds come from the global
    random state at load time, which differs between the two loads (and between processes)."""
    random.seed(1)
    first = _run(SentenceEncoder.from_pretrained(tiny_model_folder))
    random.seed(2)  # another history of random draws before the second load
    keras.random.uniform((3,))
    second = _run(SentenceEncoder.from_pretrained(tiny_model_folder))
    _assert_same(first, second)


def test_a_fit_after_another_fit_is_identical(tiny_vocab_folder):
    encoder = make_tiny_encoder(tiny_vocab_folder)
    weights = [v.numpy() for v in encoder.weights]
    first = _run(encoder)
    fit(make_tiny_encoder(tiny_vocab_folder), PAIRS, TrainingConfig(seed=3), verbose=0)
    again = make_tiny_encoder(tiny_vocab_folder)
    again.set_weights(weights)
    _assert_same(first, _run(again))


_FIT_IN_A_NEW_PROCESS = """
import json, sys
sys.path.insert(0, sys.argv[2])
from test_training import PAIRS
import keras_siamese as ks
encoder = ks.SentenceEncoder.from_pretrained(sys.argv[1])
config = ks.TrainingConfig(loss="cosine", batch_size=4, learning_rate=1e-3, seed=7)
history = ks.fit(encoder, PAIRS, config, verbose=0)
print(json.dumps([history.history["loss"], float(encoder.weights[0].numpy().sum())]))
"""


def test_two_processes_give_the_same_run(tiny_model_folder):
    """The issue's report: two runs of one script, one seed, two final losses."""
    runs = []
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        args = [sys.executable, "-c", _FIT_IN_A_NEW_PROCESS, str(tiny_model_folder)]
        done = subprocess.run(
            [*args, str(Path(__file__).parent)], env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr[-2000:]
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    assert runs[0] == runs[1]
