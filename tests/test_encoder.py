"""SentenceEncoder on tiny random configs: call, encode, checkpoints, bad input."""

import ast
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest
from safetensors.numpy import load_file

from conftest import REPO, make_tiny_encoder
from keras_siamese.backbones import TransformerBackbone
from keras_siamese.checkpoints import presets as presets_module
from keras_siamese.checkpoints import sentence_transformers_format as st_format
from keras_siamese.encoders import SentenceEncoder, resolve_model_path
from keras_siamese.pooling import DenseProjection

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
    from keras_siamese.backbones import LayerNorm

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
    assert st_format.load_pooling(tmp_path).modes == ("max", "cls")
    st_format.save_pooling(Pooling(4, ("max", "cls")), tmp_path / "new")
    st_format.save_pooling(Pooling(4, ("cls", "max")), tmp_path / "legacy")
    assert st_format.load_pooling(tmp_path / "new").modes == ("max", "cls")
    legacy = json.loads((tmp_path / "legacy" / "config.json").read_text())
    assert legacy["pooling_mode_cls_token"] and legacy["pooling_mode_max_tokens"]
    assert st_format.load_pooling(tmp_path / "legacy").modes == ("cls", "max")


# -- the sentence-transformers folder format ---------------------------------------------------


def folder_contents(folder: Path) -> dict[str, object]:
    """Every file of a saved model: JSON files parsed, weights as arrays, others as text."""
    contents: dict[str, object] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = str(path.relative_to(folder))
        if path.suffix == ".json":
            contents[name] = json.loads(path.read_text())
        elif path.suffix == ".safetensors":
            contents[name] = load_file(str(path))
        else:
            contents[name] = path.read_text()
    return contents


def test_save_pretrained_then_from_pretrained_keeps_every_config_value(tiny_vocab_folder, tmp_path):
    projection = DenseProjection(8, activation="tanh")
    encoder = make_tiny_encoder(tiny_vocab_folder, modes=("max", "cls"), projections=[projection])
    encoder.max_seq_length = 20
    encoder.save_pretrained(tmp_path / "first")
    settings_file = tmp_path / "first" / "config_sentence_transformers.json"
    settings = json.loads(settings_file.read_text())
    # as sentence-transformers writes them: "query" and "document" are always there
    settings.update(prompts={"query": "query: ", "document": ""}, default_prompt_name="query")
    settings["similarity_fn_name"] = "dot"
    settings_file.write_text(json.dumps(settings))

    copy = SentenceEncoder.from_pretrained(tmp_path / "first")
    assert copy.max_seq_length == 20 and copy.pooling.modes == ("max", "cls")
    copy.save_pretrained(tmp_path / "second")
    first, second = folder_contents(tmp_path / "first"), folder_contents(tmp_path / "second")
    assert first.keys() == second.keys()
    assert {"modules.json", "sentence_bert_config.json", "config_sentence_transformers.json"} <= (
        first.keys()
    )
    assert {"1_Pooling/config.json", "2_Dense/config.json", "tokenizer_config.json"} <= first.keys()
    for name, value in first.items():
        if name.endswith(".safetensors"):
            assert value.keys() == second[name].keys(), name
            for key in value:
                np.testing.assert_array_equal(value[key], second[name][key], err_msg=key)
        elif name != "README.md":  # the model card names the folder it was written to
            assert value == second[name], name
    assert second["sentence_bert_config.json"]["max_seq_length"] == 20
    assert second["tokenizer_config.json"]["model_max_length"] == 20
    assert second["tokenizer.json"]["truncation"]["max_length"] == 20
    assert second["config_sentence_transformers.json"]["similarity_fn_name"] == "dot"
    assert second["config_sentence_transformers.json"]["prompts"]["query"] == "query: "
    # the default prompt applies, as in sentence-transformers; an empty prompt turns it off
    np.testing.assert_allclose(copy.encode(TEXTS, prompt=""), encoder.encode(TEXTS), atol=1e-5)


@pytest.mark.parametrize(
    ("sentence_bert", "argument", "expected"),
    [
        ({"max_seq_length": 24}, None, 24),  # the checkpoint's
        ({"max_seq_length": 24}, 10, 10),  # the argument's
        ({"max_seq_length": 128}, None, 64),  # capped at max_position_embeddings
        ({}, None, 32),  # tokenizer_config.json's model_max_length
    ],
)
def test_max_seq_length_is_resolved_once_at_load(model_copy, sentence_bert, argument, expected):
    (model_copy / "sentence_bert_config.json").write_text(json.dumps(sentence_bert))
    encoder = SentenceEncoder.from_pretrained(model_copy, max_seq_length=argument)
    assert encoder.max_seq_length == encoder.tokenizer.max_seq_length == expected
    assert encoder.in_graph_tokenizer().max_seq_length == expected


def test_max_seq_length_beyond_the_positions_is_refused(model_copy, tiny):
    with pytest.raises(ValueError, match=r"must be in \[2, 64\], got 65"):
        SentenceEncoder.from_pretrained(model_copy, max_seq_length=65)
    with pytest.raises(ValueError, match=r"must be in \[2, 64\], got 65"):
        tiny.max_seq_length = 65


FORMAT_FILE_NAMES = (
    "modules.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "1_Pooling",
    "tokenizer.json",
)
FORMAT_MODULES = {"checkpoints/sentence_transformers_format.py", "checkpoints/safetensors_io.py"}


def code_strings(tree: ast.Module) -> list[ast.Constant]:
    """The string constants of a module's code (f-string parts included), docstrings left out."""
    docstrings = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            docstrings.add(id(body[0].value))
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        if id(node) not in docstrings
    ]


def test_only_the_format_module_names_the_folder_files():
    package = REPO / "keras_siamese"
    found = []
    for path in sorted(package.rglob("*.py")):
        if str(path.relative_to(package)) in FORMAT_MODULES:
            continue
        for node in code_strings(ast.parse(path.read_text(encoding="utf-8"))):
            found += [
                f"{path.relative_to(REPO)}:{node.lineno}: {name}"
                for name in FORMAT_FILE_NAMES
                if name in node.value
            ]
    assert found == []


def test_loading_a_folder_with_tokenizer_json_does_not_import_transformers(tiny_model_folder):
    script = """
        import sys
        import keras_siamese
        assert "transformers" not in sys.modules, "import keras_siamese"
        from keras_siamese.encoders import SentenceEncoder
        SentenceEncoder.from_pretrained(sys.argv[1]).encode(["a cat"])
        assert "transformers" not in sys.modules, "from_pretrained"
    """
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), str(tiny_model_folder)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
