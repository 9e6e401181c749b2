"""Exports of the real all-MiniLM-L6-v2 against the Keras encoder on every STSb dev sentence."""

import json
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from scipy.stats import spearmanr

from keras_siamese.data import read_sts
from keras_siamese.export import TfliteEncoder, saved_model, tflite
from keras_siamese.similarity import cosine_similarity

pytestmark = pytest.mark.integration

EXPORT_TIME_LIMIT_S = 60
# The SavedModel holds each weight once: about the float32 size of the 22.7M parameters.
SAVED_MODEL_MAX_BYTES = 100e6
FRESH_PROCESS = """
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


@pytest.fixture(scope="module")
def sts_dev(shared_data):
    return read_sts(shared_data / "stsb" / "sts-dev.csv")


@pytest.fixture(scope="module")
def sentences(sts_dev) -> list[str]:
    return list(dict.fromkeys(sts_dev.columns["text_a"] + sts_dev.columns["text_b"]))


@pytest.fixture(scope="module")
def keras_embeddings(minilm, sentences) -> np.ndarray:
    return minilm.encode(sentences, batch_size=64, show_progress_bar=False)


def sts_spearman(sts_dev, sentences: list[str], embeddings: np.ndarray) -> float:
    """STSb dev Spearman (x100) of gold scores with the cosine of the pairs' embeddings."""
    row = {sentence: i for i, sentence in enumerate(sentences)}
    first, second = (
        embeddings[[row[text] for text in sts_dev.columns[column]]]
        for column in ("text_a", "text_b")
    )
    return 100 * spearmanr(sts_dev.labels, cosine_similarity(first, second, xp=np)).statistic


def test_saved_model_in_a_fresh_process_matches_encode(
    minilm, sentences, keras_embeddings, tmp_path
):
    start = time.perf_counter()
    folder = saved_model(minilm, tmp_path / "minilm")
    assert time.perf_counter() - start < EXPORT_TIME_LIMIT_S
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    assert size < SAVED_MODEL_MAX_BYTES
    inputs, outputs = tmp_path / "sentences.json", tmp_path / "embeddings.npy"
    by_length = np.argsort([len(sentence) for sentence in sentences], kind="stable")
    inputs.write_text(json.dumps([sentences[i] for i in by_length]), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-I", "-c", textwrap.dedent(FRESH_PROCESS), folder, inputs, outputs],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    cosines = cosine_similarity(np.load(outputs), keras_embeddings[by_length], xp=np)
    assert cosines.shape == (len(sentences),)
    assert cosines.min() >= 0.99999, sentences[by_length[np.argmin(cosines)]]


def test_tflite_float32_matches_keras(minilm, sentences, keras_embeddings, tmp_path):
    encoder = TfliteEncoder(tflite(minilm, tmp_path / "float32.tflite"))
    some = slice(0, len(sentences), 5)
    embeddings = encoder.encode(sentences[some], batch_size=64)
    assert cosine_similarity(embeddings, keras_embeddings[some], xp=np).min() >= 0.99999


def test_tflite_dynamic_int8_keeps_the_sts_spearman(
    minilm, sts_dev, sentences, keras_embeddings, tmp_path
):
    encoder = TfliteEncoder(tflite(minilm, tmp_path / "dynamic.tflite", quantize="dynamic"))
    embeddings = encoder.encode(sentences, batch_size=64)
    assert cosine_similarity(embeddings, keras_embeddings, xp=np).mean() >= 0.995
    float_spearman = sts_spearman(sts_dev, sentences, keras_embeddings)
    assert abs(sts_spearman(sts_dev, sentences, embeddings) - float_spearman) <= 0.5


def test_tflite_with_tokenizer_on_raw_strings(minilm, sentences, keras_embeddings, tmp_path):
    """FastBertNormalize folds case with NFKC (ß -> ss, ligatures, ellipsis, final sigma) where
    the checkpoint's tokenizer lower-cases: 1 of 2,910 STSb dev sentences tokenises differently."""
    encoder = TfliteEncoder(tflite(minilm, tmp_path / "strings.tflite", with_tokenizer=True))
    some = slice(0, len(sentences), 10)
    embeddings = encoder.encode(sentences[some], batch_size=64)
    cosines = cosine_similarity(embeddings, keras_embeddings[some], xp=np)
    assert np.mean(cosines >= 0.99999) >= 0.99
    assert cosines.min() >= 0.95
