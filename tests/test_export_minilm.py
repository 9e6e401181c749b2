"""Exports of the real all-MiniLM-L6-v2 against the Keras encoder on every STSb dev sentence."""

import time

import numpy as np
import pytest

from conftest import serve_in_a_fresh_process, sts_spearman
from keras_siamese.export import TfliteEncoder, saved_model, tflite
from keras_siamese.similarity import cosine_similarity

pytestmark = pytest.mark.integration

EXPORT_TIME_LIMIT_S = 60
# The SavedModel holds each weight once: about the float32 size of the 22.7M parameters.
SAVED_MODEL_MAX_BYTES = 100e6


@pytest.fixture(scope="module")
def keras_embeddings(minilm, sts_sentences) -> np.ndarray:
    return minilm.encode(sts_sentences, batch_size=64, show_progress_bar=False)


def test_saved_model_in_a_fresh_process_matches_encode(
    minilm, sts_sentences, keras_embeddings, tmp_path
):
    start = time.perf_counter()
    folder = saved_model(minilm, tmp_path / "minilm")
    assert time.perf_counter() - start < EXPORT_TIME_LIMIT_S
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    assert size < SAVED_MODEL_MAX_BYTES
    by_length = np.argsort([len(sentence) for sentence in sts_sentences], kind="stable")
    served = serve_in_a_fresh_process(folder, [sts_sentences[i] for i in by_length], tmp_path)
    cosines = cosine_similarity(served, keras_embeddings[by_length], xp=np)
    assert cosines.shape == (len(sts_sentences),)
    assert cosines.min() >= 0.99999, sts_sentences[by_length[np.argmin(cosines)]]


def test_tflite_float32_matches_keras(minilm, sts_sentences, keras_embeddings, tmp_path):
    encoder = TfliteEncoder(tflite(minilm, tmp_path / "float32.tflite"))
    some = slice(0, len(sts_sentences), 5)
    embeddings = encoder.encode(sts_sentences[some], batch_size=64)
    assert cosine_similarity(embeddings, keras_embeddings[some], xp=np).min() >= 0.99999


def test_tflite_dynamic_int8_keeps_the_sts_spearman(
    minilm, sts_dev, sts_sentences, keras_embeddings, tmp_path
):
    encoder = TfliteEncoder(tflite(minilm, tmp_path / "dynamic.tflite", quantize="dynamic"))
    embeddings = encoder.encode(sts_sentences, batch_size=64)
    assert cosine_similarity(embeddings, keras_embeddings, xp=np).mean() >= 0.995
    float_spearman = sts_spearman(sts_dev, sts_sentences, keras_embeddings)
    assert abs(sts_spearman(sts_dev, sts_sentences, embeddings) - float_spearman) <= 0.5


def test_tflite_with_tokenizer_on_raw_strings(minilm, sts_sentences, keras_embeddings, tmp_path):
    """FastBertNormalize folds case with NFKC (ß -> ss, ligatures, ellipsis, final sigma) where
    the checkpoint's tokenizer lower-cases: 1 of 2,910 STSb dev sentences tokenises differently."""
    encoder = TfliteEncoder(tflite(minilm, tmp_path / "strings.tflite", with_tokenizer=True))
    some = slice(0, len(sts_sentences), 10)
    embeddings = encoder.encode(sts_sentences[some], batch_size=64)
    cosines = cosine_similarity(embeddings, keras_embeddings[some], xp=np)
    assert np.mean(cosines >= 0.99999) >= 0.99
    assert cosines.min() >= 0.95
