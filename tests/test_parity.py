"""Exact parity with sentence-transformers on the real all-MiniLM-L6-v2 and STSb dev."""

import numpy as np
import pytest

from conftest import sts_spearman
from keras_siamese.encoders import SentenceEncoder

pytestmark = [pytest.mark.integration, pytest.mark.reference]


def _cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


@pytest.fixture(scope="module")
def dev_embeddings(minilm, reference_minilm, sts_sentences) -> tuple[np.ndarray, np.ndarray]:
    """Ours and sentence-transformers' embeddings of every distinct STSb dev sentence."""
    ours = minilm.encode(sts_sentences, batch_size=64)
    theirs = reference_minilm.encode(sts_sentences, batch_size=64, convert_to_numpy=True)
    return ours, theirs


def test_every_stsb_dev_sentence_matches_sentence_transformers(sts_sentences, dev_embeddings):
    cosines = _cosine_rows(*dev_embeddings)
    worst = int(np.argmin(cosines))
    assert cosines.min() >= 0.99999, f"cosine {cosines[worst]} on {sts_sentences[worst]!r}"


def test_stsb_dev_spearman_equals_sentence_transformers(sts_dev, sts_sentences, dev_embeddings):
    ours, theirs = (sts_spearman(sts_dev, sts_sentences, e) for e in dev_embeddings)
    assert abs(ours - theirs) <= 0.01
    assert ours == pytest.approx(86.72, abs=0.01)


def test_saved_folder_loads_in_sentence_transformers(minilm, tmp_path):
    from sentence_transformers import SentenceTransformer

    minilm.save(tmp_path / "saved")
    reloaded = SentenceTransformer(str(tmp_path / "saved"), device="cpu")
    texts = ["A man is playing a guitar.", "Ein Café à Zürich – naïve façade!", "東京は大きい"]
    assert reloaded.max_seq_length == minilm.max_seq_length == 256
    np.testing.assert_allclose(reloaded.encode(texts), minilm.encode(texts), atol=2e-6)
    np.testing.assert_allclose(
        SentenceEncoder.from_pretrained(tmp_path / "saved").encode(texts),
        minilm.encode(texts),
        atol=1e-6,
    )


def test_tiny_model_written_by_us_loads_in_sentence_transformers(tiny_model_folder):
    from sentence_transformers import SentenceTransformer

    texts = ["The man is playing the guitar.", "a small red car"]
    theirs = SentenceTransformer(str(tiny_model_folder), device="cpu").encode(texts)
    ours = SentenceEncoder.from_pretrained(tiny_model_folder).encode(texts)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_sentence_transformers_dense_model_loads_in_ours(tiny_model_folder, tmp_path):
    """A model with a Dense module saved BY sentence-transformers gives the same embeddings."""
    import torch
    from sentence_transformers import SentenceTransformer, models

    torch.manual_seed(0)
    st = SentenceTransformer(str(tiny_model_folder), device="cpu")
    dense = models.Dense(16, 8, activation_function=torch.nn.Tanh())
    model = SentenceTransformer(modules=[st[0], st[1], dense, st[2]], device="cpu")
    model.save(str(tmp_path / "with_dense"))
    texts = ["The man is playing the guitar.", "a small red car"]
    ours = SentenceEncoder.from_pretrained(tmp_path / "with_dense")
    assert ours.max_seq_length == model.max_seq_length
    np.testing.assert_allclose(ours.encode(texts), model.encode(texts), atol=1e-5)
