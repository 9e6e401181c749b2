"""Prompts (``prompts``, ``default_prompt_name``, ``encode_query`` / ``encode_document``, Pooling's
``include_prompt``) and ``truncate_dim``: in ``encode``, in the saved folder, in the exports and
on the command line, each equal to sentence-transformers' results."""

import json
import shutil
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import make_tiny_encoder, serve_in_a_fresh_process
from keras_siamese.cli.main import main
from keras_siamese.encoders import SentenceEncoder
from keras_siamese.export import (
    TfliteEncoder,
    load_saved_model,
    read_tflite_metadata,
    saved_model,
    tflite,
)
from keras_siamese.pooling import POOLING_MODES, Pooling
from keras_siamese.similarity import cosine_similarity

TEXTS = ["a man plays the guitar", "a dog runs in the park", "the cat eats food", "a red car"]
TINY_PROMPTS = {"query": "the man, ", "document": "a dog . ", "classify": "is it happy ? "}
MIN_COSINE = 0.99999
N_STS = 50
MINILM_PROMPTS = {"query": "query: ", "document": "passage: ", "search": "Find the answer: "}


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return cosine_similarity(a, b, xp=np)


@pytest.fixture(scope="module")
def prompted_folder(tiny_vocab_folder, tmp_path_factory) -> Path:
    """The tiny encoder with prompts, a default prompt, truncate_dim 8 and include_prompt=False,
    saved as a sentence-transformers folder."""
    encoder = make_tiny_encoder(tiny_vocab_folder)
    encoder.prompts = TINY_PROMPTS
    encoder.default_prompt_name = "classify"
    encoder.truncate_dim = 8
    encoder.pooling.include_prompt = False
    folder = tmp_path_factory.mktemp("prompted") / "model"
    encoder.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def prompted(prompted_folder) -> SentenceEncoder:
    return SentenceEncoder.from_pretrained(prompted_folder)


# -- Pooling's include_prompt ---------------------------------------------------------------------


@pytest.mark.parametrize("mode", POOLING_MODES)
@pytest.mark.parametrize("prompt_length", [0, 1, 3, 6])
def test_include_prompt_false_pools_as_sentence_transformers(mode, prompt_length):
    import torch
    from sentence_transformers.models import Pooling as ReferencePooling

    rng = np.random.default_rng(0)
    tokens = rng.normal(size=(3, 6, 4)).astype(np.float32)
    mask = np.array([[1] * 6, [1] * 4 + [0] * 2, [1] * 2 + [0] * 4], np.int32)
    reference = ReferencePooling(4, pooling_mode=mode, include_prompt=False)
    features = {
        "token_embeddings": torch.tensor(tokens),
        "attention_mask": torch.tensor(mask, dtype=torch.int64),
        "prompt_length": prompt_length,
    }
    expected = reference(features)["sentence_embedding"].numpy()
    pooling = Pooling(4, (mode,), include_prompt=False)
    got = keras.ops.convert_to_numpy(pooling(tokens, mask, prompt_length=prompt_length))
    graph = tf.function(lambda x, m, n: pooling(x, m, prompt_length=n))
    in_graph = graph(tokens, mask, tf.constant(prompt_length)).numpy()
    expected = np.maximum(expected, -1e9)  # max over no token: -inf there, -1e9 here
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(in_graph, expected, rtol=1e-5, atol=1e-6)


def test_include_prompt_true_ignores_the_prompt_length():
    tokens = np.random.default_rng(1).normal(size=(2, 5, 4)).astype(np.float32)
    mask = np.ones((2, 5), np.int32)
    pooling = Pooling(4, ("mean", "cls"))
    np.testing.assert_array_equal(pooling(tokens, mask, prompt_length=3), pooling(tokens, mask))


def test_include_prompt_is_serialised():
    pooling = Pooling(4, ("mean",), include_prompt=False)
    assert Pooling.from_config(pooling.get_config()).include_prompt is False
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(pooling))
    assert restored.include_prompt is False


# -- prompts in encode -----------------------------------------------------------------------------


def test_prompts_and_truncate_dim_load_from_the_folder(prompted, prompted_folder):
    assert prompted.prompts == TINY_PROMPTS
    assert prompted.default_prompt_name == "classify"
    assert prompted.truncate_dim == 8
    assert prompted.pooling.include_prompt is False
    saved = json.loads((prompted_folder / "config_sentence_transformers.json").read_text())
    assert saved["prompts"] == TINY_PROMPTS and saved["truncate_dim"] == 8
    pooling = json.loads((prompted_folder / "1_Pooling" / "config.json").read_text())
    assert pooling["include_prompt"] is False


def test_prompt_resolution_follows_sentence_transformers(prompted):
    full = {"truncate_dim": 16}
    default = prompted.encode(TEXTS, **full)
    np.testing.assert_allclose(default, prompted.encode(TEXTS, prompt="is it happy ? ", **full))
    np.testing.assert_allclose(
        prompted.encode_query(TEXTS, **full), prompted.encode(TEXTS, prompt="the man, ", **full)
    )
    np.testing.assert_allclose(
        prompted.encode_document(TEXTS, **full), prompted.encode(TEXTS, prompt="a dog . ", **full)
    )
    # an explicit empty prompt wins over the default prompt
    no_prompt = prompted.encode(TEXTS, prompt="", **full)
    assert not np.allclose(no_prompt, default)
    with pytest.warns(UserWarning, match="using prompt"):
        both = prompted.encode(TEXTS, prompt="the man, ", prompt_name="document", **full)
    np.testing.assert_allclose(both, prompted.encode_query(TEXTS, **full))


def test_unknown_prompt_name_lists_the_known_ones(prompted):
    with pytest.raises(ValueError, match=r"'nope'.*\['classify', 'document', 'query'\]"):
        prompted.encode(TEXTS, prompt_name="nope")
    with pytest.raises(ValueError, match="Unknown prompt name"):
        prompted.default_prompt_name = "nope"
    with pytest.raises(TypeError, match="prompt must be a string"):
        prompted.encode(TEXTS, prompt=3)


def test_empty_query_prompt_does_not_fall_back_to_the_default(_tiny_encoder):
    encoder = SentenceEncoder.from_config(_tiny_encoder.get_config())
    encoder.set_weights(_tiny_encoder.get_weights())
    encoder.tokenizer = _tiny_encoder.tokenizer
    encoder.prompts = {**encoder.prompts, "passage": "a dog . "}
    encoder.default_prompt_name = "passage"
    plain = encoder.encode(TEXTS, prompt="")
    np.testing.assert_allclose(encoder.encode_query(TEXTS), plain)  # "query" is "", no fallback
    np.testing.assert_allclose(encoder.encode_document(TEXTS), plain)  # "document" comes first
    assert not np.allclose(encoder.encode(TEXTS), plain)  # encode uses the default prompt


# -- truncate_dim ----------------------------------------------------------------------------------


def test_truncate_dim_keeps_the_first_dimensions(_tiny_encoder):
    full = _tiny_encoder.encode(TEXTS)
    cut = _tiny_encoder.encode(TEXTS, truncate_dim=5)
    assert cut.shape == (4, 5)
    np.testing.assert_allclose(cut, full[:, :5], atol=1e-6)  # not re-normalised, as ST
    unit = _tiny_encoder.encode(TEXTS, truncate_dim=5, normalize=True)
    np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1.0, atol=1e-6)
    assert _tiny_encoder.encode("a man", truncate_dim=3).shape == (3,)


@pytest.mark.parametrize("bad", [0, 17, -1, True, 2.5])
def test_truncate_dim_outside_the_embedding_is_refused(_tiny_encoder, tiny_model_folder, bad):
    with pytest.raises(ValueError, match=r"truncate_dim must be an integer in \[1, 16\]"):
        _tiny_encoder.encode(TEXTS, truncate_dim=bad)
    with pytest.raises(ValueError, match=r"truncate_dim must be an integer in \[1, 16\]"):
        SentenceEncoder.from_pretrained(tiny_model_folder, truncate_dim=bad)


def test_from_pretrained_overrides_the_saved_settings(prompted_folder):
    encoder = SentenceEncoder.from_pretrained(
        prompted_folder, truncate_dim=4, prompts={"query": "a "}, default_prompt_name="query"
    )
    assert encoder.truncate_dim == 4 and encoder.default_prompt_name == "query"
    assert encoder.prompts == {**TINY_PROMPTS, "query": "a "}
    assert encoder.encode(TEXTS).shape == (4, 4)


def test_bad_settings_in_the_folder_name_the_file(prompted_folder, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(prompted_folder, folder)
    config_file = folder / "config_sentence_transformers.json"
    config = json.loads(config_file.read_text())
    for key, value, message in [
        ("default_prompt_name", "nope", "default_prompt_name 'nope' is not one of the prompts"),
        ("truncate_dim", 99, r"truncate_dim must be in \[1, 16\], got 99"),
        ("prompts", {"query": 3}, "prompts must map prompt names to strings"),
    ]:
        config_file.write_text(json.dumps({**config, key: value}))
        with pytest.raises(ValueError, match=message) as error:
            SentenceEncoder.from_pretrained(folder)
        assert str(config_file) in str(error.value)


def test_keras_archive_keeps_prompts_and_truncation(prompted, tmp_path):
    prompted.save(tmp_path / "model.keras")
    restored = keras.saving.load_model(tmp_path / "model.keras")
    assert restored.prompts == TINY_PROMPTS and restored.truncate_dim == 8
    assert restored.pooling.include_prompt is False
    np.testing.assert_allclose(restored.encode_query(TEXTS), prompted.encode_query(TEXTS))


def test_saved_folder_loads_into_sentence_transformers(prompted, prompted_folder):
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(prompted_folder), device="cpu")
    assert reference.prompts == TINY_PROMPTS
    assert reference.default_prompt_name == "classify"
    assert reference.truncate_dim == 8
    assert reference[1].include_prompt is False
    for method in ("encode", "encode_query", "encode_document"):
        expected = getattr(reference, method)(TEXTS)
        got = getattr(prompted, method)(TEXTS)
        assert got.shape == expected.shape == (4, 8)
        np.testing.assert_allclose(got, expected, atol=1e-5)


# -- exports ---------------------------------------------------------------------------------------


def test_saved_model_bakes_in_the_prompt_and_truncation(prompted, tmp_path):
    folder = saved_model(prompted, tmp_path / "serving", prompt_name="query", truncate_dim=5)
    config = json.loads((folder / "assets" / "keras_siamese_export.json").read_text())
    assert config["embedding_dim"] == 5 and config["truncate_dim"] == 5
    assert config["prompt"]["name"] == "query" and config["prompt"]["text"] == "the man, "
    assert config["prompt"]["include_prompt"] is False and config["prompt"]["prompt_length"] == 4
    assert config["normalized"] is False
    model = load_saved_model(folder)
    served = model.signatures["serving_default"](sentences=tf.constant(TEXTS))["embeddings"]
    expected = prompted.encode_query(TEXTS, truncate_dim=5)
    np.testing.assert_allclose(served.numpy(), expected, atol=1e-5)
    ids = prompted.tokenizer(["the man, " + text for text in TEXTS])
    by_ids = model.signatures["embed_token_ids"](**{k: tf.constant(v) for k, v in ids.items()})
    np.testing.assert_allclose(by_ids["embeddings"].numpy(), expected, atol=1e-5)


def test_saved_model_defaults_to_the_models_prompt_and_truncation(prompted, tmp_path):
    folder = saved_model(prompted, tmp_path / "serving")
    model = load_saved_model(folder)
    served = model.signatures["serving_default"](sentences=tf.constant(TEXTS))["embeddings"]
    np.testing.assert_allclose(served.numpy(), prompted.encode(TEXTS), atol=1e-5)
    with pytest.raises(ValueError, match="Unknown prompt name 'nope'"):
        saved_model(prompted, tmp_path / "other", prompt_name="nope")
    with pytest.raises(ValueError, match=r"truncate_dim must be an integer in \[1, 16\]"):
        saved_model(prompted, tmp_path / "other", truncate_dim=17)
    assert not (tmp_path / "other").exists()


def test_tflite_truncates_and_records_the_prompt(prompted, tmp_path):
    path = tflite(prompted, tmp_path / "m.tflite", prompt_name="query", truncate_dim=6)
    config = json.loads(read_tflite_metadata(path)["keras_siamese_export.json"])
    assert config["embedding_dim"] == 6 and config["prompt"]["text"] == "the man, "
    encoder = TfliteEncoder(path)
    embeddings = encoder.encode(TEXTS)
    assert embeddings.shape == (4, 6)
    expected = prompted.encode_query(TEXTS, truncate_dim=6)
    np.testing.assert_allclose(embeddings, expected, atol=1e-5)
    raw = tflite(prompted, tmp_path / "raw.tflite", with_tokenizer=True, prompt="", truncate_dim=3)
    assert TfliteEncoder(raw).encode(TEXTS).shape == (4, 3)
    with pytest.raises(ValueError, match="cannot prepend the prompt"):
        tflite(prompted, tmp_path / "x.tflite", with_tokenizer=True, prompt_name="query")


# -- command line ----------------------------------------------------------------------------------


def test_cli_encode_takes_prompt_and_truncate_dim(prompted, prompted_folder, tmp_path, capsys):
    (tmp_path / "in.txt").write_text("\n".join(TEXTS) + "\n")
    out = tmp_path / "out.npy"
    args = ["encode", str(prompted_folder), str(tmp_path / "in.txt"), "-o", str(out)]
    assert main([*args, "--prompt-name", "query", "--truncate-dim", "3"]) == 0
    np.testing.assert_allclose(np.load(out), prompted.encode_query(TEXTS, truncate_dim=3))
    assert main([*args, "--prompt", "a dog . "]) == 0
    np.testing.assert_allclose(np.load(out), prompted.encode_document(TEXTS), atol=1e-6)
    assert main([*args, "--prompt-name", "nope"]) == 2
    assert "['classify', 'document', 'query']" in capsys.readouterr().err
    assert main([*args, "--truncate-dim", "99"]) == 2
    assert "truncate_dim must be an integer in [1, 16]" in capsys.readouterr().err
    assert main([*args, "--prompt", "a", "--prompt-name", "query"]) == 2


def test_cli_export_saved_model_with_prompt_name(prompted, prompted_folder, tmp_path):
    base = tmp_path / "serving"
    args = ["export", "saved-model", str(prompted_folder), str(base)]
    assert main([*args, "--prompt-name", "query", "--truncate-dim", "4"]) == 0
    served = load_saved_model(base / "1").signatures["serving_default"](
        sentences=tf.constant(TEXTS)
    )["embeddings"]
    expected = prompted.encode_query(TEXTS, truncate_dim=4)
    np.testing.assert_allclose(served.numpy(), expected, atol=1e-5)


# -- all-MiniLM-L6-v2 against sentence-transformers ------------------------------------------------


@pytest.fixture(scope="module")
def sentences(sts_sentences) -> list[str]:
    return sts_sentences[:N_STS]


@pytest.fixture(scope="module")
def minilm_with_prompts(minilm_path, tmp_path_factory) -> Path:
    """all-MiniLM-L6-v2 with prompts and a default prompt in config_sentence_transformers.json."""
    folder = tmp_path_factory.mktemp("minilm") / "all-MiniLM-L6-v2"
    shutil.copytree(minilm_path, folder)
    config_file = folder / "config_sentence_transformers.json"
    config = json.loads(config_file.read_text()) if config_file.is_file() else {}
    config.update(prompts=MINILM_PROMPTS, default_prompt_name="search")
    config_file.write_text(json.dumps(config))
    return folder


@pytest.fixture(scope="module")
def both_with_prompts(minilm_with_prompts):
    from sentence_transformers import SentenceTransformer

    ours = SentenceEncoder.from_pretrained(minilm_with_prompts)
    return ours, SentenceTransformer(str(minilm_with_prompts), device="cpu")


def assert_same(ours: np.ndarray, theirs: np.ndarray) -> None:
    assert ours.shape == theirs.shape
    assert cosines(ours, theirs).min() >= MIN_COSINE


@pytest.mark.parametrize("method", ["encode", "encode_query", "encode_document"])
def test_minilm_prompts_from_the_config_match(both_with_prompts, sentences, method):
    ours, theirs = both_with_prompts
    assert ours.prompts == theirs.prompts
    assert_same(getattr(ours, method)(sentences), getattr(theirs, method)(sentences))


def test_minilm_literal_prompt_matches(minilm, reference_minilm, sentences):
    prompt = "Represent this sentence for searching relevant passages: "
    ours = minilm.encode(sentences, prompt=prompt)
    assert_same(ours, reference_minilm.encode(sentences, prompt=prompt))
    assert cosines(ours, minilm.encode(sentences)).min() < 0.99  # the prompt matters


def test_minilm_include_prompt_false_matches(minilm, reference_minilm, sentences):
    prompt = "Represent this sentence for searching relevant passages: "
    included = minilm.encode(sentences, prompt=prompt)
    minilm.pooling.include_prompt = False
    reference_minilm.set_pooling_include_prompt(False)
    try:
        ours = minilm.encode_query(sentences, prompt=prompt)
        assert_same(ours, reference_minilm.encode_query(sentences, prompt=prompt))
    finally:
        minilm.pooling.include_prompt = True
        reference_minilm.set_pooling_include_prompt(True)
    assert cosines(ours, included).min() < 0.999  # the prompt's tokens were left out


def test_minilm_truncate_dim_matches(minilm, reference_minilm, sentences):
    ours = minilm.encode(sentences, truncate_dim=128)
    assert ours.shape == (N_STS, 128)
    theirs = reference_minilm.encode(sentences, truncate_dim=128)
    assert_same(ours, theirs)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), np.linalg.norm(theirs, axis=1), 1e-4)


def test_minilm_saved_folder_round_trips_into_sentence_transformers(
    minilm_with_prompts, sentences, tmp_path
):
    from sentence_transformers import SentenceTransformer

    ours = SentenceEncoder.from_pretrained(minilm_with_prompts, truncate_dim=128)
    ours.pooling.include_prompt = False
    ours.save_pretrained(tmp_path / "saved")
    theirs = SentenceTransformer(str(tmp_path / "saved"), device="cpu")
    assert theirs.prompts == ours.prompts and theirs.default_prompt_name == "search"
    assert theirs.truncate_dim == 128 and theirs[1].include_prompt is False
    assert_same(ours.encode_query(sentences), theirs.encode_query(sentences))
    assert_same(ours.encode(sentences), theirs.encode(sentences))
    again = SentenceEncoder.from_pretrained(tmp_path / "saved")
    assert (again.prompts, again.default_prompt_name, again.truncate_dim) == (
        ours.prompts,
        "search",
        128,
    )
    assert again.pooling.include_prompt is False


def test_minilm_saved_model_embeds_queries_from_raw_strings(both_with_prompts, sentences, tmp_path):
    """Served as TF Serving would: a fresh process with only TensorFlow and tensorflow-text."""
    ours, theirs = both_with_prompts
    folder = saved_model(ours, tmp_path / "serving", prompt_name="query", truncate_dim=128)
    served = serve_in_a_fresh_process(folder, sentences, tmp_path)
    assert served.shape == (N_STS, 128)
    assert_same(served, ours.encode_query(sentences, truncate_dim=128))
    assert_same(served, theirs.encode_query(sentences, truncate_dim=128))
