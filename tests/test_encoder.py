"""SentenceEncoder on tiny random configs: call, encode, checkpoints, bad input."""

import json
import shutil

import keras
import numpy as np
import pytest
from conftest import make_tiny_encoder

from keras_siamese.encoders import (
    DenseProjection,
    SentenceEncoder,
    TransformerBackbone,
    resolve_model_path,
)
from keras_siamese.encoders import presets as presets_module

TEXTS = ["The man is playing the guitar.", "A dog runs in the park!", "a cat", "Red car."]


@pytest.fixture(scope="module")
def tiny(tiny_model_folder):
    return SentenceEncoder.from_pretrained(tiny_model_folder)


def test_encode_keeps_input_order_and_pads_per_batch(tiny):
    together = tiny.encode(TEXTS, batch_size=3)
    one_by_one = np.stack([tiny.encode(text) for text in TEXTS])
    assert together.shape == (4, 16) and together.dtype == np.float32
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)


def test_encode_empty_list_gives_zero_rows(tiny):
    assert tiny.encode([]).shape == (0, 16)


@pytest.mark.parametrize(
    ("texts", "error", "message"),
    [
        (["ok", None], TypeError, r"texts\[1\] is NoneType"),
        (["ok", 3], TypeError, r"texts\[1\] is int"),
        (["ok", "  "], ValueError, r"texts\[1\] is empty"),
        (42, TypeError, "list of strings"),
    ],
)
def test_encode_rejects_bad_text(tiny, texts, error, message):
    with pytest.raises(error, match=message):
        tiny.encode(texts)


def test_layer_norm_refuses_settings_it_does_not_implement():
    from keras_siamese.encoders.transformer_layers import LayerNorm

    with pytest.raises(ValueError, match="last axis"):
        LayerNorm(axis=1)


def test_call_matches_encode_and_is_functional(tiny):
    inputs = {
        "input_ids": keras.Input((None,), dtype="int32", name="input_ids"),
        "attention_mask": keras.Input((None,), dtype="int32", name="attention_mask"),
    }
    functional = keras.Model(inputs, tiny(inputs))
    batch = tiny.tokenizer(TEXTS)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(functional(batch)), tiny.encode(TEXTS), atol=1e-5
    )


def test_save_pretrained_round_trip(tiny, tmp_path):
    tiny.save(tmp_path / "copy")
    copy = SentenceEncoder.from_pretrained(tmp_path / "copy")
    np.testing.assert_allclose(copy.encode(TEXTS), tiny.encode(TEXTS), atol=1e-6)
    modules = json.loads((tmp_path / "copy" / "modules.json").read_text())
    assert [m["type"].rsplit(".", 1)[-1] for m in modules] == [
        "Transformer",
        "Pooling",
        "Normalize",
    ]


def test_keras_archive_round_trip(tiny, tmp_path):
    tiny.save(tmp_path / "encoder.keras")
    restored = keras.models.load_model(tmp_path / "encoder.keras")
    assert isinstance(restored, SentenceEncoder)
    np.testing.assert_allclose(restored.encode(TEXTS), tiny.encode(TEXTS), atol=1e-6)


@pytest.mark.parametrize(
    "modes",
    [
        ("cls",),
        ("max",),
        ("mean_sqrt_len_tokens",),
        ("weightedmean",),
        ("lasttoken",),
        ("cls", "mean", "max"),
    ],
)
def test_pooling_modes_round_trip(tiny_vocab_folder, tmp_path, modes):
    encoder = make_tiny_encoder(tiny_vocab_folder, modes=modes, normalize=False)
    encoder.save_pretrained(tmp_path / "m")
    copy = SentenceEncoder.from_pretrained(tmp_path / "m")
    assert copy.embedding_dim == 16 * len(modes) and copy.pooling.modes == encoder.pooling.modes
    np.testing.assert_allclose(copy.encode(TEXTS), encoder.encode(TEXTS), atol=1e-5)


def test_every_pooling_mode_takes_an_empty_token_batch(tiny_vocab_folder):
    modes = ("cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken")
    encoder = make_tiny_encoder(tiny_vocab_folder, modes=modes, normalize=False)
    empty = np.zeros((0, 0), np.int32)
    embeddings = encoder._embed({"input_ids": empty, "attention_mask": empty})
    assert embeddings.shape == (0, 16 * len(modes))


def test_dense_projection_round_trip(tiny_vocab_folder, tmp_path):
    encoder = make_tiny_encoder(
        tiny_vocab_folder, projections=[DenseProjection(8, activation="tanh")]
    )
    encoder.save_pretrained(tmp_path / "m")
    assert (tmp_path / "m" / "2_Dense" / "model.safetensors").is_file()
    copy = SentenceEncoder.from_pretrained(tmp_path / "m")
    assert copy.embedding_dim == 8
    np.testing.assert_allclose(copy.encode(TEXTS), encoder.encode(TEXTS), atol=1e-5)


def test_backbone_serialises():
    backbone = TransformerBackbone(
        vocab_size=20,
        hidden_size=8,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=16,
    )
    copy = TransformerBackbone.from_config(backbone.get_config())
    assert copy.config == backbone.config


# -- bad checkpoints ---------------------------------------------------------------------------


@pytest.fixture
def model_copy(tiny_model_folder, tmp_path):
    return shutil.copytree(tiny_model_folder, tmp_path / "model")


def test_missing_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        SentenceEncoder.from_pretrained(tmp_path / "nowhere")


def test_folder_without_weights(model_copy):
    (model_copy / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match=r"No weights file model\.safetensors"):
        SentenceEncoder.from_pretrained(model_copy)


def test_pickle_checkpoint_is_refused(model_copy):
    (model_copy / "model.safetensors").unlink()
    (model_copy / "pytorch_model.bin").write_bytes(b"\x80\x04not really")
    with pytest.raises(FileNotFoundError, match="safetensors only"):
        SentenceEncoder.from_pretrained(model_copy)


def test_corrupt_weights(model_copy):
    (model_copy / "model.safetensors").write_bytes(b"garbage" * 10)
    with pytest.raises(ValueError, match="Corrupt safetensors"):
        SentenceEncoder.from_pretrained(model_copy)


def test_unsupported_architecture(model_copy):
    config = json.loads((model_copy / "config.json").read_text())
    (model_copy / "config.json").write_text(json.dumps({**config, "model_type": "gpt2"}))
    with pytest.raises(ValueError, match="Unsupported architecture model_type='gpt2'"):
        SentenceEncoder.from_pretrained(model_copy)


def test_wrong_weight_shape(model_copy):
    config = json.loads((model_copy / "config.json").read_text())
    (model_copy / "config.json").write_text(json.dumps({**config, "intermediate_size": 48}))
    with pytest.raises(ValueError, match=r"intermediate.dense.weight' has shape \(32, 16\)"):
        SentenceEncoder.from_pretrained(model_copy)


def test_unknown_module_type(model_copy):
    modules = json.loads((model_copy / "modules.json").read_text())
    modules[1]["type"] = "my_package.Evil"
    (model_copy / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(ValueError, match=r"module type 'my_package\.Evil' is not supported"):
        SentenceEncoder.from_pretrained(model_copy)


def test_plain_hugging_face_folder_uses_mean_pooling(model_copy):
    for name in ("modules.json", "sentence_bert_config.json"):
        (model_copy / name).unlink()
    shutil.rmtree(model_copy / "1_Pooling")
    encoder = SentenceEncoder.from_pretrained(model_copy)
    assert encoder.pooling.modes == ("mean",) and encoder.normalizer is None


# -- name resolution (no network) --------------------------------------------------------------


def test_known_name_resolves_to_installed_package(monkeypatch, tmp_path):
    (tmp_path / "model").mkdir()
    fake = type("FakeModule", (), {"__file__": str(tmp_path / "__init__.py")})
    monkeypatch.setattr(presets_module.importlib, "import_module", lambda name: fake)
    for name in ("all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"):
        assert resolve_model_path(name, download=pytest.fail) == tmp_path / "model"


def test_known_name_without_package_downloads_from_hub(monkeypatch):
    def missing(name):
        raise ImportError(name)

    monkeypatch.setattr(presets_module.importlib, "import_module", missing)
    asked = []
    resolve_model_path("all-MiniLM-L6-v2", download=lambda repo: asked.append(repo) or repo)
    resolve_model_path("BAAI/bge-small-en-v1.5", download=lambda repo: asked.append(repo) or repo)
    assert asked == ["sentence-transformers/all-MiniLM-L6-v2", "BAAI/bge-small-en-v1.5"]


def test_hub_download_failure_is_explained(monkeypatch):
    import huggingface_hub

    def offline(*args, **kwargs):
        raise ConnectionError("no network")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    with pytest.raises(OSError, match=r"Could not download 'org/model'.*local folder"):
        presets_module.hub_download("org/model")


def test_pooling_reads_both_config_formats(tmp_path):
    from keras_siamese.pooling import Pooling

    (tmp_path / "config.json").write_text(
        json.dumps({"embedding_dimension": 4, "pooling_mode": ["max", "cls"]})
    )
    assert Pooling.from_folder(tmp_path).modes == ("max", "cls")
    Pooling(4, ("max", "cls")).save_to_folder(tmp_path / "new")
    Pooling(4, ("cls", "max")).save_to_folder(tmp_path / "legacy")
    assert Pooling.from_folder(tmp_path / "new").modes == ("max", "cls")
    legacy = json.loads((tmp_path / "legacy" / "config.json").read_text())
    assert legacy["pooling_mode_cls_token"] and legacy["pooling_mode_max_tokens"]
    assert Pooling.from_folder(tmp_path / "legacy").modes == ("cls", "max")
