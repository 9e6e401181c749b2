"""The LiteRT backend of ``encode`` (issue 13): the same API and results as Keras, cached files."""

import numpy as np
import pytest

from conftest import make_tiny_encoder, sts_spearman
from keras_siamese.encoders import SentenceEncoder
from keras_siamese.similarity import cosine_similarity

TEXTS = ["a man plays a guitar", "the dog", "x", "Ünïcödé, 中文 and emoji 😀!", "word " * 300]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_SIAMESE_CACHE", str(tmp_path))
    return tmp_path / "litert"


@pytest.fixture
def tiny(tiny_vocab_folder):
    return make_tiny_encoder(tiny_vocab_folder)


def test_float32_litert_equals_keras(tiny, cache):
    settings = [
        {},
        {"prompt": "query: "},
        {"truncate_dim": 8},
        {"truncate_dim": 8, "normalize": True},
    ]
    expected = [tiny.encode(TEXTS, batch_size=2, **kwargs) for kwargs in settings]
    tiny.use_backend("litert", quantize="none")
    assert tiny.backend == "litert"
    for kwargs, keras_embeddings in zip(settings, expected, strict=True):
        got = tiny.encode(TEXTS, batch_size=2, **kwargs)
        np.testing.assert_allclose(got, keras_embeddings, atol=2e-6, err_msg=str(kwargs))


def test_prompt_left_out_of_the_mean(tiny, cache):
    tiny.pooling.include_prompt = False
    tiny.prompts = {"query": "query: "}
    expected = tiny.encode_query(TEXTS)
    got = tiny.use_backend("litert", quantize="none").encode_query(TEXTS)
    np.testing.assert_allclose(got, expected, atol=2e-6)
    assert len(list(cache.glob("*.tflite"))) == 1  # one file per prompt left out


def test_converted_once_and_cached(tiny, cache, monkeypatch):
    tiny.use_backend("litert", quantize="dynamic").encode(TEXTS)
    files = list(cache.glob("*-dynamic.tflite"))
    assert len(files) == 1

    def no_conversion(*args, **kwargs):
        raise AssertionError("converted again")

    monkeypatch.setattr("keras_siamese.export.litert_backend.write_tflite", no_conversion)
    again = tiny.use_backend("litert", quantize="dynamic").encode(TEXTS)  # a new backend
    assert again.shape == (len(TEXTS), tiny.embedding_dim)
    # other weights, another file
    tiny.backbone.weights[0].assign(tiny.backbone.weights[0] * 2)
    with pytest.raises(AssertionError, match="converted again"):
        tiny.use_backend("litert", quantize="dynamic").encode(TEXTS)


def test_back_to_keras_and_bad_settings(tiny, cache):
    expected = tiny.encode(TEXTS)
    tiny.use_backend("litert", quantize="float16").encode(TEXTS)
    np.testing.assert_array_equal(tiny.use_backend("keras").encode(TEXTS), expected)
    with pytest.raises(ValueError, match="backend must be one of"):
        tiny.use_backend("onnx")
    with pytest.raises(ValueError, match="quantize must be one of"):
        tiny.use_backend("litert", quantize="int4")


def test_from_pretrained_backend(tiny_model_folder, cache):
    encoder = SentenceEncoder.from_pretrained(tiny_model_folder, backend="litert", quantize="none")
    assert encoder.backend == "litert"
    keras_encoder = SentenceEncoder.from_pretrained(tiny_model_folder)
    np.testing.assert_allclose(encoder.encode(TEXTS), keras_encoder.encode(TEXTS), atol=2e-6)


@pytest.mark.integration
def test_int8_minilm_on_stsb_dev(minilm_path, sts_dev, sts_sentences, cache):
    """The issue's bar: mean cosine >= 0.995 with the Keras model, STSb dev within 0.1."""
    encoder = SentenceEncoder.from_pretrained(minilm_path)
    expected = encoder.encode(sts_sentences, batch_size=64)
    got = encoder.use_backend("litert", quantize="dynamic").encode(sts_sentences, batch_size=64)
    cosines = cosine_similarity(got, expected, xp=np)
    assert cosines.mean() >= 0.995, cosines.mean()
    float_score = sts_spearman(sts_dev, sts_sentences, expected)
    int8_score = sts_spearman(sts_dev, sts_sentences, got)
    assert abs(int8_score - float_score) <= 0.1, (int8_score, float_score)


def test_encode_command_backend(tiny_model_folder, cache, tmp_path):
    from keras_siamese.cli.main import main

    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(TEXTS[:4]) + "\n", encoding="utf-8")
    for backend in ("keras", "litert"):
        command = [
            "encode",
            str(tiny_model_folder),
            str(texts),
            "-o",
            str(tmp_path / f"{backend}.npy"),
        ]
        assert main([*command, "--backend", backend]) == 0
    np.testing.assert_allclose(
        np.load(tmp_path / "litert.npy"), np.load(tmp_path / "keras.npy"), atol=2e-6
    )
    assert len(list(cache.glob("*-none.tflite"))) == 1
