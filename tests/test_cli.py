"""The keras-siamese command line: encode, evaluate, search, train's settings, losses; clear
errors on bad input, before TensorFlow loads."""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from keras_siamese import __version__, backend
from keras_siamese.checkpoints import resolve_model_path
from keras_siamese.cli import common, export, train
from keras_siamese.cli.main import build_parser, main
from keras_siamese.data import BATCH_SAMPLERS
from keras_siamese.encoders import SentenceEncoder
from keras_siamese.export.litert import QUANTIZATIONS
from keras_siamese.losses import LOSSES, get_loss, loss_table
from keras_siamese.search import semantic_search
from keras_siamese.training import TrainingConfig
from keras_siamese.training.recipes import FORMATS

REPO = Path(__file__).resolve().parent.parent
TF_LOG_MARKS = ("I tensorflow", "E external", "oneDNN", "cuInit", "WARNING: All log messages")

CORPUS = ["a man plays the guitar", "a dog runs in the park", "the cat eats food", "a red car"]


def test_encode_writes_embeddings_in_line_order(tiny_model_folder, tmp_path):
    (tmp_path / "in.txt").write_text("\n".join(CORPUS) + "\n")
    out = tmp_path / "out.npy"
    args = ["encode", str(tiny_model_folder), str(tmp_path / "in.txt"), "-o", str(out)]
    assert main([*args, "--batch-size", "3"]) == 0
    expected = SentenceEncoder.from_pretrained(tiny_model_folder).encode(CORPUS)
    np.testing.assert_allclose(np.load(out), expected, atol=1e-5)


def test_encode_names_a_blank_line(tiny_model_folder, tmp_path, capsys):
    (tmp_path / "in.txt").write_text("one\n\nthree\n")
    args = ["encode", str(tiny_model_folder), str(tmp_path / "in.txt"), "-o", "x.npy"]
    assert main(args) == 2
    assert f"{tmp_path / 'in.txt'}:2: empty line" in capsys.readouterr().err


def test_missing_model_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "in.txt").write_text("one\n")
    args = ["encode", str(tmp_path / "no_model"), str(tmp_path / "in.txt"), "-o", "x.npy"]
    assert main(args) == 2
    assert "does not exist" in capsys.readouterr().err


def test_search_prints_ranked_hits(tiny_model_folder, tmp_path, capsys):
    (tmp_path / "corpus.txt").write_text("\n".join(CORPUS) + "\n")
    args = ["search", str(tiny_model_folder), str(tmp_path / "corpus.txt"), "a red car"]
    assert main([*args, "--top-k", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "query: a red car"
    assert len(lines) == 3 and lines[1].endswith("a red car")  # itself is the nearest


def test_semantic_search_chunks_agree_with_brute_force():
    rng = np.random.default_rng(0)
    queries, corpus = rng.normal(size=(7, 8)), rng.normal(size=(50, 8))
    hits = semantic_search(queries, corpus, top_k=5, query_chunk_size=3, corpus_chunk_size=11)
    scores = (queries / np.linalg.norm(queries, axis=1, keepdims=True)) @ (
        corpus / np.linalg.norm(corpus, axis=1, keepdims=True)
    ).T
    for row, query_hits in zip(scores, hits, strict=True):
        assert [h["corpus_id"] for h in query_hits] == list(np.argsort(-row)[:5])
        np.testing.assert_allclose(
            [h["score"] for h in query_hits], np.sort(row)[::-1][:5], rtol=1e-5
        )


def test_semantic_search_rejects_mismatched_sizes():
    with pytest.raises(ValueError, match="Embedding sizes differ"):
        semantic_search(np.ones((1, 4)), np.ones((3, 5)))
    with pytest.raises(ValueError, match="NaN"):
        semantic_search(np.full((1, 4), np.nan), np.ones((3, 4)))


@pytest.mark.integration
def test_evaluate_sts_prints_spearman_json(minilm_path, shared_data, capsys):
    stsb = shared_data / "stsb" / "sts-dev.csv"
    assert main(["evaluate", "sts", str(minilm_path), str(stsb), "--format", "stsb"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["pairs"] == 1500
    assert result["spearman"] == pytest.approx(86.72, abs=0.01)
    assert 80 < result["pearson"] < 95


@pytest.mark.integration
def test_evaluate_sick_trial(minilm_path, shared_data, capsys):
    sick = shared_data / "sick" / "SICK_train_trial.txt"
    args = ["evaluate", "sts", str(minilm_path), str(sick), "--format", "sick", "--split", "TRIAL"]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["pairs"] == 495 and 70 < result["spearman"] < 90


def run_python(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter, in the repository's root folder."""
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


def test_version_answers_without_importing_tensorflow():
    result = run_python(
        "import sys; from keras_siamese.cli.main import main; rc = main(['--version']); "
        "print('tensorflow' in sys.modules); sys.exit(rc)"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == [f"keras-siamese {__version__}", "False"]


def test_verbose_sets_the_backend_variable_as_it_is_parsed(monkeypatch):
    monkeypatch.setenv(backend.VERBOSE_ENV, "0")  # these two restored after the test
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    assert common.VERBOSE_ENV == backend.VERBOSE_ENV
    assert not build_parser().parse_args(["losses"]).verbose
    assert os.environ[backend.VERBOSE_ENV] == "0"
    assert build_parser().parse_args(["--verbose", "losses"]).verbose
    assert os.environ[backend.VERBOSE_ENV] == "1"


def test_tensorflow_is_quiet_unless_verbose():
    code = "import sys; from keras_siamese.cli.main import main; sys.exit(main(sys.argv[1:]))"
    env = {backend.VERBOSE_ENV: "", "TF_CPP_MIN_LOG_LEVEL": ""}
    quiet = subprocess.run(
        [sys.executable, "-c", code, "losses"],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=REPO,
        timeout=300,
    )
    loud = subprocess.run(
        [sys.executable, "-c", code, "--verbose", "losses"],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=REPO,
        timeout=300,
    )
    assert quiet.returncode == loud.returncode == 0
    assert quiet.stdout.strip() == loud.stdout.strip() == loss_table()
    assert not any(mark in quiet.stderr for mark in TF_LOG_MARKS), quiet.stderr
    assert any(mark in loud.stderr for mark in TF_LOG_MARKS), loud.stderr


@pytest.mark.parametrize(("setting", "enabled"), [(None, "True"), ("0", "False"), ("1", "True")])
def test_onednn_is_on_unless_the_environment_says_otherwise(setting, enabled, monkeypatch):
    if setting is None:
        monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    else:
        monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", setting)
    # TensorFlow's answer is not public API: the test reads the private one.
    result = run_python(
        "import keras_siamese as ks; ks.SentenceEncoder; "
        "from tensorflow.python.util import _pywrap_util_port as port; print(port.IsMklEnabled())"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == enabled


@pytest.mark.integration
def test_encode_with_the_default_model_leaves_stderr_free_of_tensorflow_log(minilm_path, tmp_path):
    env = {**os.environ, backend.VERBOSE_ENV: "", "TF_CPP_MIN_LOG_LEVEL": ""}
    out = tmp_path / "out.npy"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "keras_siamese.cli.main",
            "encode",
            "all-MiniLM-L6-v2",
            "examples/corpus.txt",
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert not any(mark in result.stderr for mark in TF_LOG_MARKS), result.stderr
    lines = common.read_lines(REPO / "examples" / "corpus.txt")
    assert np.load(out).shape == (len(lines), 384)


def _subparsers(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()):
    """(command words, parser) for every parser below ``parser`` that has no sub-commands."""
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not actions:
        yield prefix, parser
    for action in actions:
        for name, child in action.choices.items():
            yield from _subparsers(child, (*prefix, name))


def test_every_option_help_states_its_default():
    commands = dict(_subparsers(build_parser()))
    assert {words[0] for words in commands} == {
        "encode",
        "evaluate",
        "search",
        "train",
        "export",
        "losses",
        "mine",
        "beam-encode",
    }
    for parser in commands.values():
        options = parser.format_help().split("\noptions:\n")[1].split("\n\n")[0]
        entries = [" ".join(entry.split()) for entry in options.split("\n  -")[1:]]
        optionals = [action for action in parser._actions[1:] if action.option_strings]
        for action, entry in zip(optionals, entries, strict=True):  # not -h
            assert "default" in entry or "(required)" in entry or action.required, entry


def test_losses_command_prints_the_registry_table(capsys):
    assert main(["losses"]) == 0
    assert capsys.readouterr().out.strip() == loss_table()


def test_train_loss_choices_and_help_come_from_the_registry():
    parser = build_parser()
    for name in LOSSES:
        assert parser.parse_args(["train", "--loss", name]).loss == name
    help_text = "".join(dict(_subparsers(parser))[("train",)].format_help().split())
    assert all(f"{name}," in help_text or f"{name}(" in help_text for name in LOSSES)
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "--loss", "no-such-loss"])


def train_settings(tmp_path, *flags: str) -> dict:
    """``train``'s resolved settings for STSb-like data in ``tmp_path``, plus ``flags``."""
    data = tmp_path / "pairs.csv"
    data.write_text("g\tf\ty\ti\t4.0\ta man plays\ta man plays guitar\n")
    args = build_parser().parse_args(
        ["train", "--model", "m", "--data", str(data), "--output", str(tmp_path / "o"), *flags]
    )
    return train.resolve_settings(args)


@pytest.mark.parametrize("name", list(LOSSES))
def test_every_registered_loss_is_reachable_by_name(name, tmp_path):
    options = {
        "matryoshka": ["--loss-option", "loss=cosent", "--loss-option", "dims=384,128"],
        "softmax": ["--loss-option", "num_labels=3"],
    }
    flags = ["--loss", name, *options.get(name, [])]
    config = train.training_config(train_settings(tmp_path, *flags))
    assert config.loss == name
    assert isinstance(get_loss(config.loss, config.loss_options), LOSSES[name])


def test_matryoshka_options_from_a_config_file(tmp_path):
    config_file = tmp_path / "train.yaml"
    config_file.write_text("loss: matryoshka\nloss_options: {loss: cosent, dims: [384, 128]}\n")
    settings = train_settings(tmp_path, "--config", str(config_file))
    loss = get_loss(settings["loss"], settings["loss_options"])
    assert (type(loss.loss).__name__, loss.dims) == ("CoSENTLoss", [384, 128])
    overridden = train_settings(
        tmp_path, "--config", str(config_file), "--loss-options", '{"loss": "cosine", "dims": [8]}'
    )
    assert overridden["loss_options"] == {"loss": "cosine", "dims": [8]}


def test_train_settings_cover_training_config():
    # the CLI trains on one dataset: several (and their sampler) are the Python API's
    fields = set(TrainingConfig.__dataclass_fields__) - {"multi_dataset_sampler"}
    assert {s.name for s in train.SETTINGS if s.training} == fields
    assert train.FORMATS == FORMATS
    assert tuple(BATCH_SAMPLERS) == train.BATCH_SAMPLERS
    assert export.QUANTIZATIONS == QUANTIZATIONS


def test_config_accepts_aliases_coerces_numbers_and_yields_to_flags(tmp_path):
    config_file = tmp_path / "train.yaml"
    config_file.write_text(
        "lr: 2e-5\nbatch-size: 8\nwarmup_ratio: 5e-2\nepochs: 2\nclipnorm: 1\nloss: CoSENT\n"
    )
    settings = train_settings(tmp_path, "--config", str(config_file), "--epochs", "3")
    config = train.training_config(settings)
    assert (config.learning_rate, config.batch_size, config.warmup_ratio) == (2e-5, 8, 0.05)
    assert (config.epochs, config.clipnorm, config.loss) == (3, 1.0, "cosent")
    assert isinstance(config.learning_rate, float) and isinstance(config.clipnorm, float)
    lr_flag = train_settings(tmp_path, "--config", str(config_file), "--lr", "1e-3")
    assert lr_flag["learning_rate"] == 1e-3


def test_length_bucketing_switch_from_flags_and_config(tmp_path):
    assert train.training_config(train_settings(tmp_path)).length_bucketing is True
    plain = train_settings(tmp_path, "--no-length-bucketing")
    assert train.training_config(plain).length_bucketing is False
    config_file = tmp_path / "train.yaml"
    config_file.write_text("length_bucketing: false\n")
    from_file = train_settings(tmp_path, "--config", str(config_file))
    assert train.training_config(from_file).length_bucketing is False
    flag_wins = train_settings(tmp_path, "--config", str(config_file), "--length-bucketing")
    assert train.training_config(flag_wins).length_bucketing is True
    config_file.write_text("length_bucketing: 0\n")
    with pytest.raises(common.UsageError, match="length_bucketing: expected true or false"):
        train_settings(tmp_path, "--config", str(config_file))


def test_example_train_yaml_is_a_valid_config():
    settings = train.read_config(str(REPO / "examples" / "train.yaml"))
    text = (REPO / "examples" / "train.yaml").read_text()
    keys = [line.split(":")[0] for line in text.split("\n") if line and line[0].isalpha()]
    assert all(key in train.BY_KEY for key in keys) and len(settings) == len(keys)
    config = train.training_config({s.name: settings.get(s.name) for s in train.SETTINGS})
    assert (config.loss, config.batch_size, config.learning_rate) == ("cosent", 16, 2e-5)
    assert settings["max_examples"] // config.batch_size <= 300  # a short demo


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("lr: 2e-5\nlearnin_rate: 1\n", ":2: unknown setting 'learnin_rate'; valid keys: "),
        ("epochs: two\n", ":1: epochs: 'two' is not a whole number"),
        ("loss: nope\n", ":1: loss: 'nope' is not one of cosent,"),
        ("lr: [1, 2]\n", ":1: learning_rate: unexpected value"),
        ("lr: 2e-5\n  bad: [\n", ":2: not YAML"),
        ("- lr\n", ": expected key: value settings"),
        ("lr: 1\nlearning_rate: 2\n", ":2: learning_rate is set twice"),
    ],
)
def test_config_mistakes_name_the_file_and_line(tmp_path, text, problem):
    config_file = tmp_path / "train.yaml"
    config_file.write_text(text)
    with pytest.raises(common.UsageError, match="^" + str(config_file)) as error:
        train.read_config(str(config_file))
    assert problem in str(error.value)
    if "valid keys" in problem:
        assert "learning_rate" in str(error.value) and "lr" in str(error.value)


def test_config_needs_the_yaml_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "yaml", None)  # import yaml fails
    (tmp_path / "train.yaml").write_text("lr: 1\n")
    with pytest.raises(common.UsageError, match=r"needs the 'yaml' extra: pip install "):
        train.read_config(str(tmp_path / "train.yaml"))
    (tmp_path / "train.json").write_text('{"lr": 0.001}')
    assert train.read_config(str(tmp_path / "train.json")) == {"learning_rate": 0.001}


def test_argument_mistakes_fail_before_tensorflow_loads(tmp_path):
    sick = tmp_path / "SICK.txt"
    sick.write_text("pair_ID\tsentence_A\tsentence_B\tentailment_label\trelatedness_score\n")
    text, folder, model = tmp_path / "in.txt", tmp_path / "folder", tmp_path / "model"
    text.write_text("one\n")
    (folder / "3").mkdir(parents=True)
    model.mkdir()
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("model: m\nbatchsize: 3\n")
    m, t, f, missing = str(model), str(text), str(folder), str(tmp_path / "none" / "x")
    train_args = ["train", "--model", m, "--data", t, "--output", str(tmp_path / "out")]
    cases = {
        "no such file": ["encode", m, str(tmp_path / "no.txt"), "-o", "x.npy"],
        "does not exist: create": ["encode", m, t, "-o", missing],
        "exists and is a folder": ["encode", m, t, "-o", f],
        "model folder": ["encode", "./no-model", t, "-o", "x.npy"],
        "unknown SICK split 'TEST'": [
            "evaluate",
            "sts",
            m,
            str(sick),
            "--format",
            "sick",
            "--split",
            "TEST",
        ],
        "invalid choice: 'sts'": ["evaluate", "sts", m, str(sick), "--format", "sts"],
        "add --format sick": ["evaluate", "sts", m, str(sick)],
        "is not positive": ["search", m, t, "query", "--top-k", "0"],
        "already exists; versions are never overwritten": [
            "export",
            "saved-model",
            m,
            f,
            "--version",
            "3",
        ],
        "the folder of": ["export", "tflite", m, missing],
        "no such file: ": ["train", "--model", m, "--data", "nope.csv", "--output", f],
        "unknown setting 'batchsize'": [*train_args, "--config", str(bad_yaml)],
        "--split applies to --format sick only": [*train_args, "--split", "TRAIN"],
        "needs --columns": [*train_args, "--format", "csv"],
        "invalid choice: 'xml'": [*train_args, "--format", "xml"],
        "exists and is not a folder": [*train_args[:-1], t],
        "missing required setting(s): --data": ["train", "--model", m, "--output", f],
    }
    code = f"""
import contextlib, io, json, sys
from keras_siamese.cli.main import main
results = {{}}
for expected, argv in {cases!r}.items():
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        results[expected] = [main(argv), err.getvalue()]
print(json.dumps([results, 'tensorflow' in sys.modules]))
"""
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    results, tensorflow_loaded = json.loads(result.stdout)
    for expected, (status, err) in results.items():
        assert status == 2, (expected, err)
        assert err.startswith("keras-siamese ") and err.count("\n") == 1, err
        assert expected in err, err
    assert not tensorflow_loaded


def test_unexpected_errors_are_one_line_unless_verbose(
    tiny_model_folder, tmp_path, monkeypatch, capsys
):
    def boom(args):
        raise RuntimeError("boom")

    monkeypatch.setattr("keras_siamese.cli.encode.run", boom)
    monkeypatch.setenv(backend.VERBOSE_ENV, "0")
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    (tmp_path / "in.txt").write_text("one\n")
    args = ["encode", str(tiny_model_folder), str(tmp_path / "in.txt"), "-o", "x.npy"]
    assert main(args) == 1
    assert capsys.readouterr().err == (
        "keras-siamese encode: error: RuntimeError: boom "
        "(an internal error: rerun with --verbose for the traceback)\n"
    )
    assert main(["--verbose", *args]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Traceback") and err.endswith("error: RuntimeError: boom\n")


def test_data_format_errors_name_the_file_and_line(tiny_model_folder, tmp_path, capsys):
    bad = tmp_path / "sts.csv"
    bad.write_text("g\tf\ty\ti\t4.0\ta\tb\ng\tf\ty\ti\tfour\ta\tb\n")
    assert main(["evaluate", "sts", str(tiny_model_folder), str(bad)]) == 2
    err = capsys.readouterr().err
    assert err == f"keras-siamese evaluate: error: {bad}: line 2: score 'four' is not a number\n"


def test_read_lines_splits_on_newlines_only(tmp_path):
    path = tmp_path / "in.txt"
    path.write_bytes("a\u2028b\r\nc\x0cd\re\n".encode())
    assert common.read_lines(path) == ["a\u2028b", "c\x0cd\re"]
    path.write_bytes(b"one\ntwo\n\xff\n")
    with pytest.raises(ValueError, match=r"in.txt:3: not UTF-8"):
        common.read_lines(path)
    path.write_bytes(b"one\n \n")
    with pytest.raises(ValueError, match=r"in.txt:2: empty line"):
        common.read_lines(path)


def test_known_model_names_ignore_letter_case(minilm_path):
    def no_download(name):
        raise AssertionError(f"would download {name}")

    folder = resolve_model_path("All-MiniLM-L6-v2", download=no_download)
    assert folder == resolve_model_path("all-minilm-l6-v2", download=no_download)
    assert folder.resolve() == Path(minilm_path).resolve()
