"""The tiny random encoder every test and docstring example may use, and the doctest set-up: the
docstring examples of ``keras_siamese`` run in ``make test``.

Every docstring example sees ``np``, ``keras``, ``tf`` and ``ks`` (``import keras_siamese as
ks``), and these stand-ins: ``tiny_encoder`` (``keras_siamese.testing.make_tiny_encoder``: random, 2
layers, hidden size 16), ``tiny_model_folder`` (it, saved as a sentence-transformers folder) and
``tiny_examples`` (an STS-style ``Examples`` table of four scored pairs). Each example
runs in its own temporary working directory, so the files it writes go away.
"""

import os
from pathlib import Path

import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# The CLI's modules are tested by tests/test_cli.py; keras_siamese/beam.py, which cannot be imported
# without the beam extra (and has no docstring examples), by tests/test_beam.py.
collect_ignore = ["keras_siamese/cli", "keras_siamese/beam.py"]


def _is_doctest(request) -> bool:
    return isinstance(request.node, pytest.DoctestItem)


@pytest.fixture(scope="session")
def tiny_vocab_folder(tmp_path_factory) -> Path:
    """A folder with only vocab.txt and tokenizer_config.json (lower-cased BERT WordPiece)."""
    from keras_siamese.testing import write_tiny_vocabulary

    return write_tiny_vocabulary(tmp_path_factory.mktemp("tiny_vocab"))


@pytest.fixture(scope="session")
def tiny_model_folder(tmp_path_factory, tiny_vocab_folder) -> Path:
    """A sentence-transformers folder of a tiny random encoder, written by ``save_pretrained``."""
    from keras_siamese.testing import make_tiny_encoder

    folder = tmp_path_factory.mktemp("tiny_model") / "tiny-encoder"
    make_tiny_encoder(tiny_vocab_folder).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def _tiny_encoder(tiny_model_folder):
    from keras_siamese.encoders import SentenceEncoder

    return SentenceEncoder.from_pretrained(tiny_model_folder)


@pytest.fixture(scope="session")
def _tiny_examples():
    from keras_siamese.data import from_lists

    return from_lists(
        text_a=["a man plays a guitar", "a dog runs", "a cat eats", "the car is red"],
        text_b=["a man is playing guitar", "a dog is running", "a dog eats", "the car is blue"],
        labels=[0.95, 0.9, 0.4, 0.3],
    )


@pytest.fixture(autouse=True)
def _doctest_namespace(request, doctest_namespace) -> None:
    """Names for the docstring examples, and a temporary working directory for each."""
    if not _is_doctest(request):
        return
    import keras
    import numpy as np
    import tensorflow as tf

    import keras_siamese as ks

    folder = request.getfixturevalue("tiny_model_folder")
    doctest_namespace.update(
        np=np,
        keras=keras,
        tf=tf,
        ks=ks,
        tiny_model_folder=str(folder),
        tiny_encoder=request.getfixturevalue("_tiny_encoder"),
        tiny_examples=request.getfixturevalue("_tiny_examples"),
    )
    request.getfixturevalue("monkeypatch").chdir(request.getfixturevalue("tmp_path"))
