"""Exports of the tiny random encoder: SavedModel, signatures, bad input, atomicity, TFLite."""

import argparse
import json
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from conftest import make_tiny_encoder
from keras_siamese.cli import export as export_cli
from keras_siamese.encoders import SentenceEncoder
from keras_siamese.export import litert as litert_module
from keras_siamese.export import (
    load_saved_model,
    model_versions,
    read_tflite_metadata,
    saved_model,
    tflite,
    tflite_interpreter,
)
from keras_siamese.export import tf_serving as tf_serving_module
from keras_siamese.pooling import POOLING_MODES, DenseProjection
from keras_siamese.similarity import cosine_similarity

TEXTS = ["The man is playing the guitar.", "A dog runs in the park!", "a cat", "Red car."]
BAD_TEXTS = [
    "",
    "   \t\n ",
    "guitar " * 15_000,  # 105,000 characters
    "Ünïcödé — 中文, русский, العربية, 😀\u200b\x00\ufffd",
]
SUBPROCESS_TIMEOUT_S = 180


@pytest.fixture(scope="module")
def tiny(tiny_model_folder):
    return SentenceEncoder.from_pretrained(tiny_model_folder)


@pytest.fixture(scope="module")
def exported(tiny, tmp_path_factory) -> Path:
    """``BASE/1`` of the tiny encoder."""
    return saved_model(tiny, tmp_path_factory.mktemp("serving") / "tiny")


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return cosine_similarity(a, b, xp=np)


def run_isolated_python(script: str, *args: str, timeout: float = SUBPROCESS_TIMEOUT_S):
    """``script`` in a fresh interpreter that ignores PYTHON* variables (``-I``)."""
    return subprocess.run(
        [sys.executable, "-I", "-c", textwrap.dedent(script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# -- SavedModel ----------------------------------------------------------------------------------


def test_saved_model_writes_the_next_integer_version(exported):
    assert exported.name == "1"
    assert {p.name for p in exported.iterdir()} >= {"saved_model.pb", "variables", "assets"}
    assets = {p.name for p in (exported / "assets").iterdir()}
    assert {"vocab.txt", "tokenizer.json", "keras_siamese_export.json"} <= assets
    config = json.loads((exported / "assets" / "keras_siamese_export.json").read_text())
    assert config["embedding_dim"] == 16
    assert config["tokenizer"]["special_tokens"]["cls_token"]["id"] == 2


def test_versions_count_up_and_are_never_overwritten(tiny, tmp_path):
    base = tmp_path / "model"
    (base / ".9.tmp-leftover").mkdir(parents=True)  # a killed export's temporary folder
    assert saved_model(tiny, base, version=7).name == "7"
    assert saved_model(tiny, base).name == "8"
    assert model_versions(base) == [7, 8]
    before = sorted((p.relative_to(base), p.stat().st_mtime_ns) for p in base.rglob("*"))
    with pytest.raises(FileExistsError, match="never overwritten"):
        saved_model(tiny, base, version=7)
    assert sorted((p.relative_to(base), p.stat().st_mtime_ns) for p in base.rglob("*")) == before
    for bad in (0, -3, "3", 2.0, True):
        with pytest.raises(ValueError, match="positive integer"):
            saved_model(tiny, base, version=bad)


def test_serving_signatures_match_the_encoder(tiny, exported):
    model = load_saved_model(exported)
    by_strings = model.signatures["serving_default"](sentences=tf.constant(TEXTS))["embeddings"]
    assert by_strings.dtype == tf.float32 and by_strings.shape == (len(TEXTS), 16)
    assert cosines(by_strings.numpy(), tiny.encode(TEXTS)).min() >= 0.99999
    tokens = {k: tf.constant(v) for k, v in tiny.tokenizer(TEXTS).items()}
    by_ids = model.signatures["embed_token_ids"](**tokens)["embeddings"].numpy()
    np.testing.assert_allclose(by_ids, by_strings.numpy(), atol=1e-6)


def test_serving_signature_survives_bad_input(exported):
    serve = load_saved_model(exported).signatures["serving_default"]
    empty = serve(sentences=tf.constant([], dtype=tf.string))["embeddings"]
    assert empty.shape == (0, 16)
    embeddings = serve(sentences=tf.constant(BAD_TEXTS))["embeddings"].numpy()
    assert embeddings.shape == (len(BAD_TEXTS), 16)
    assert np.isfinite(embeddings).all()


def tensor_info(kind: str, name: str, dtype: str, shape: str) -> str:
    """How ``saved_model_cli show`` prints one input or output."""
    return f"{kind}['{name}'] tensor_info:\n        dtype: {dtype}\n        shape: {shape}"


def test_saved_model_cli_shows_both_signatures(exported):
    cli = Path(sys.executable).parent / "saved_model_cli"
    shown = subprocess.run(
        [str(cli), "show", "--dir", str(exported), "--all"],
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_S,
        check=True,
    ).stdout
    serving = shown[shown.index("signature_def['serving_default']") :]
    assert tensor_info("inputs", "sentences", "DT_STRING", "(-1)") in serving
    assert tensor_info("outputs", "embeddings", "DT_FLOAT", "(-1, 16)") in serving
    by_ids = shown[shown.index("signature_def['embed_token_ids']") :]
    assert tensor_info("inputs", "input_ids", "DT_INT32", "(-1, -1)") in by_ids
    assert tensor_info("inputs", "attention_mask", "DT_INT32", "(-1, -1)") in by_ids
    assert tensor_info("outputs", "embeddings", "DT_FLOAT", "(-1, 16)") in by_ids


def test_copied_version_folder_loads_with_only_tensorflow_and_tensorflow_text(
    tiny, exported, tmp_path
):
    copy = shutil.copytree(exported, tmp_path / "elsewhere" / "1")
    script = """
        import sys
        import numpy as np
        import tensorflow as tf
        try:
            tf.saved_model.load(sys.argv[1])
        except Exception as err:  # the documented trap: tensorflow-text ops not registered yet
            print("without tensorflow_text:", type(err).__name__, err)
        import tensorflow_text  # noqa: F401
        serve = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
        np.save(sys.argv[2], serve(sentences=tf.constant(sys.argv[3:]))["embeddings"].numpy())
        assert "keras_siamese" not in sys.modules
    """
    out = tmp_path / "embeddings.npy"
    hidden = exported.parent.rename(exported.parent.with_name("hidden"))  # nothing may point back
    try:
        result = run_isolated_python(script, str(copy), str(out), *TEXTS)
    finally:
        hidden.rename(exported.parent)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Op type not registered" in result.stdout
    assert cosines(np.load(out), tiny.encode(TEXTS)).min() >= 0.99999


def test_load_saved_model_explains_a_missing_tensorflow_text(exported, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow_text", None)  # import fails
    with pytest.raises(
        ImportError, match=r"tensorflow-text~=2\.\d+\.0.*before tf\.saved_model\.load"
    ):
        load_saved_model(exported)


# -- atomicity -----------------------------------------------------------------------------------


def test_an_exception_mid_write_leaves_no_version(tiny, tmp_path, monkeypatch):
    def write_half_then_fail(module, folder, signatures):
        (Path(folder) / "saved_model.pb").write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(tf_serving_module.tf.saved_model, "save", write_half_then_fail)
    base = tmp_path / "model"
    with pytest.raises(OSError, match="disk full"):
        saved_model(tiny, base)
    assert list(base.iterdir()) == []  # the temporary folder is removed too


def test_a_killed_export_leaves_no_version(tiny_model_folder, tmp_path):
    """SIGKILL after the SavedModel is written but before the rename: TF Serving would see only
    hidden, non-integer folders, which it ignores (as ``model_versions`` does); the next export
    removes them."""
    script = """
        import sys, time
        from pathlib import Path
        import tensorflow as tf
        from keras_siamese.encoders import SentenceEncoder
        from keras_siamese.export import saved_model

        save = tf.saved_model.save

        def save_then_hang(*args, **kwargs):
            save(*args, **kwargs)
            Path(sys.argv[3]).touch()
            time.sleep(600)

        tf.saved_model.save = save_then_hang
        saved_model(SentenceEncoder.from_pretrained(sys.argv[1]), sys.argv[2])
    """
    base, written = tmp_path / "model", tmp_path / "written"
    process = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script), str(tiny_model_folder), str(base), written],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + SUBPROCESS_TIMEOUT_S
        while not written.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert written.exists(), process.stderr.read().decode()[-3000:]
    finally:
        if process.poll() is None:
            process.kill()  # SIGKILL: no cleanup handler runs
        process.wait()
    leftovers = sorted(base.iterdir())  # the export and its staging folder, both hidden
    assert leftovers and all(p.name.startswith(".1.tmp-") for p in leftovers)
    assert any((p / "saved_model.pb").is_file() for p in leftovers)  # complete, never renamed
    assert model_versions(base) == []
    saved_model(SentenceEncoder.from_pretrained(tiny_model_folder), base)  # the next run
    assert [p.name for p in base.iterdir()] == ["1"]  # cleans what the killed one left


# -- TFLite --------------------------------------------------------------------------------------


@pytest.mark.parametrize("quantize", [None, "float16", "dynamic"])
def test_tflite_runs_with_dynamic_batch_and_length(tiny, tmp_path, quantize):
    path = tflite(tiny, tmp_path / "tiny.tflite", quantize=quantize)
    runner = tflite_interpreter(path).get_signature_runner()
    for texts in (TEXTS, TEXTS[:1], BAD_TEXTS):
        tokens = tiny.tokenizer(texts)
        got = runner(**tokens)["embeddings"]
        expected = tiny(tokens, training=False).numpy()
        assert got.shape == expected.shape and np.isfinite(got).all()
        assert cosines(got, expected).min() >= (0.99999 if quantize is None else 0.999)
    assert [p.name for p in tmp_path.iterdir()] == ["tiny.tflite"]


def test_tflite_carries_the_vocabulary_and_settings(tiny, tmp_path):
    files = read_tflite_metadata(tflite(tiny, tmp_path / "tiny.tflite"))
    assert files["vocab.txt"].decode().splitlines() == tiny.tokenizer.vocabulary
    config = json.loads(files["keras_siamese_export.json"])
    assert config["embedding_dim"] == 16 and config["custom_ops"] == []
    assert config["tokenizer"]["max_seq_length"] == tiny.max_seq_length
    assert set(config["signatures"]["serving_default"]["inputs"]) == {"input_ids", "attention_mask"}


def test_tflite_with_tokenizer_takes_raw_strings(tiny, tmp_path):
    path = tflite(tiny, tmp_path / "tiny.tflite", with_tokenizer=True)
    runner = tflite_interpreter(path).get_signature_runner()
    texts = TEXTS + BAD_TEXTS[:3]
    got = runner(sentences=np.array(texts, dtype=object))["embeddings"]
    expected = tiny(tiny.tokenizer(texts), training=False).numpy()
    assert cosines(got, expected).min() >= 0.99999
    config = json.loads(read_tflite_metadata(path)["keras_siamese_export.json"])
    assert config["custom_ops"] == [
        "FastBertNormalize",
        "FastWordpieceTokenizeWithOffsets",
        "RaggedTensorToTensor",
    ]


def test_a_broken_conversion_is_an_error_and_writes_nothing(tiny, tmp_path, monkeypatch):
    """The known trap: a ``tf.Module`` that tracks the Keras model converts to a file of NaNs."""

    class HoldsTheKerasModel(tf.Module):
        def __init__(self, encoder, tokenize=None, assets=(), options=None):
            super().__init__()
            self.encoder = encoder
            spec = tf.TensorSpec([None, None], tf.int32)
            self.embed_token_ids = tf.function(
                lambda input_ids, attention_mask: {
                    "embeddings": encoder(
                        {"input_ids": input_ids, "attention_mask": attention_mask}
                    )
                },
                input_signature=[spec, spec],
            )

    path = tmp_path / "tiny.tflite"
    path.write_bytes(b"previous file")
    monkeypatch.setattr(litert_module, "EmbeddingModule", HoldsTheKerasModel)
    with pytest.raises(RuntimeError, match="does not reproduce the Keras model"):
        tflite(tiny, path)
    assert path.read_bytes() == b"previous file"
    assert [p.name for p in tmp_path.iterdir()] == ["tiny.tflite"]


def test_every_pooling_mode_and_a_projection_export(tiny_vocab_folder, tmp_path):
    """All six pooling modes concatenated, then a Dense projection, no normalisation: builtin-only
    TFLite that matches, and a serving signature that takes an empty batch."""
    projection = DenseProjection(8, activation="tanh")
    projection.build((None, 16 * len(POOLING_MODES)))
    encoder = make_tiny_encoder(
        tiny_vocab_folder, modes=tuple(POOLING_MODES), normalize=False, projections=[projection]
    )
    tokens = encoder.tokenizer(TEXTS)
    runner = tflite_interpreter(tflite(encoder, tmp_path / "modes.tflite")).get_signature_runner()
    np.testing.assert_allclose(runner(**tokens)["embeddings"], encoder(tokens), atol=1e-5)
    serve = load_saved_model(saved_model(encoder, tmp_path / "base")).signatures["serving_default"]
    assert serve(sentences=tf.constant([], dtype=tf.string))["embeddings"].shape == (0, 8)


def test_tflite_rejects_an_unknown_quantization(tiny, tmp_path):
    with pytest.raises(ValueError, match="quantize must be one of"):
        tflite(tiny, tmp_path / "x.tflite", quantize="int4")


def test_an_encoder_without_tokenizer_is_refused(tiny, tmp_path):
    untokenized = SentenceEncoder(tiny.backbone, tiny.pooling)
    for export in (saved_model, tflite):
        with pytest.raises(ValueError, match="no tokenizer"):
            export(untokenized, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


# -- command line --------------------------------------------------------------------------------


def run_cli(*argv: str) -> None:
    parser = argparse.ArgumentParser()
    export_cli.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["export", *argv])
    args.run(args)


def test_cli_exports_both_formats(tiny_model_folder, tmp_path, capsys):
    run_cli("saved-model", str(tiny_model_folder), str(tmp_path / "base"), "--version", "3")
    run_cli("tflite", str(tiny_model_folder), str(tmp_path / "m.tflite"), "--quantize", "float16")
    printed = capsys.readouterr().out
    assert f"wrote {tmp_path / 'base' / '3'}" in printed and "m.tflite" in printed
    assert model_versions(tmp_path / "base") == [3]
    with pytest.raises(SystemExit):
        run_cli("tflite", str(tiny_model_folder), "x.tflite", "--quantize", "int4")


def test_tflite_export_and_use_print_no_litert_notice(tiny_model_folder, tmp_path):
    """LiteRT's "INFO: Created TensorFlow Lite XNNPACK delegate" read as a log line to users."""
    script = """
        import sys
        import keras_siamese as ks
        encoder = ks.SentenceEncoder.from_pretrained(sys.argv[1])
        path = ks.export.tflite(encoder, sys.argv[2])
        print(ks.export.TfliteEncoder(path).encode(["a man plays"]).shape)
    """
    result = run_isolated_python(script, str(tiny_model_folder), str(tmp_path / "t.tflite"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "(1, 16)"
    assert "XNNPACK" not in result.stderr and "INFO:" not in result.stderr, result.stderr


def test_exports_clean_their_own_stale_temporaries_and_nothing_else(tiny, tmp_path, monkeypatch):
    """Killed exports left ``keras-siamese-export-*`` folders in the system's temporary folder
    and hidden temporaries beside the output forever (issue 12, item 6)."""
    import tempfile

    system_tmp = tmp_path / "system-tmp"
    system_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system_tmp))
    base = tmp_path / "serving"
    base.mkdir()
    (base / ".1.tmp-0123abcd").mkdir()  # what a kill during version 1's export leaves
    (base / ".notes.tmp-0123abcd").write_text("someone else's")
    (tmp_path / ".t.tflite.tmp-89abcdef").write_bytes(b"half a model")
    assert saved_model(tiny, base) == base / "1"
    tflite(tiny, tmp_path / "t.tflite")
    assert sorted(p.name for p in base.iterdir()) == [".notes.tmp-0123abcd", "1"]
    assert not (tmp_path / ".t.tflite.tmp-89abcdef").exists()
    assert [p.name for p in system_tmp.iterdir() if p.name.startswith("keras-siamese")] == []
