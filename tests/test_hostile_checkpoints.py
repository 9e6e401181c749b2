"""Hostile checkpoints (issue 12, items 7, 10, 12): each is one clear error naming the file,
never a traceback, a silent wrong model, or a file read from outside the checkpoint."""

import json
import shutil

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from keras_siamese.cli.main import main
from keras_siamese.encoders import SentenceEncoder


@pytest.fixture
def copy(tiny_model_folder, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(tiny_model_folder, folder)
    return folder


def _modules(folder):
    return json.loads((folder / "modules.json").read_text())


def _write_modules(folder, modules):
    (folder / "modules.json").write_text(json.dumps(modules))


def test_a_garbage_tokenizer_names_its_file(copy):
    (copy / "tokenizer.json").write_bytes(b"\xff\xfe not json")
    with pytest.raises(ValueError, match=r"tokenizer\.json: not a tokenizer"):
        SentenceEncoder.from_pretrained(copy)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda modules: [{k: v for k, v in m.items() if k != "type"} for m in modules],
            'module 0 has no "type" string',
        ),
        (lambda modules: {"not": "a list"}, "expected a list of modules, got dict"),
        (lambda modules: [{**m, "idx": "0"} for m in modules], 'module 0 has a non-integer "idx"'),
        (
            lambda modules: [{**modules[0], "path": "../outside_model"}, *modules[1:]],
            "the path '../outside_model' leads outside",
        ),
    ],
)
def test_a_bad_modules_json_names_its_file(copy, change, message):
    _write_modules(copy, change(_modules(copy)))
    with pytest.raises(ValueError, match="modules.json: " + message.replace("(", r"\(")):
        SentenceEncoder.from_pretrained(copy)


def test_a_shard_outside_the_checkpoint_is_never_opened(copy):
    index = {"weight_map": {"embeddings.word_embeddings.weight": "../../../../etc/passwd"}}
    (copy / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(ValueError, match=r"index\.json: the path '../../../../etc/passwd' leads"):
        SentenceEncoder.from_pretrained(copy)


def test_non_finite_weights_are_refused(copy):
    weights = copy / "model.safetensors"
    tensors = load_file(str(weights))
    key = sorted(tensors)[0]
    tensors[key] = tensors[key].copy()
    tensors[key].flat[0] = np.nan
    save_file(tensors, str(weights))
    with pytest.raises(ValueError, match=rf"weight {key!r} holds NaN or infinite values"):
        SentenceEncoder.from_pretrained(copy)


def test_the_cli_reports_a_hostile_checkpoint_in_one_line(copy, tmp_path, capsys):
    (copy / "tokenizer.json").write_text("{")
    (tmp_path / "in.txt").write_text("a dog\n")
    args = ["encode", str(copy), str(tmp_path / "in.txt"), "-o", str(tmp_path / "o.npy")]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "tokenizer.json: not a tokenizer" in err, err


def _edit_json(name: str, change):
    def edit(folder):
        path = folder / name
        path.write_text(json.dumps(change(json.loads(path.read_text()))))

    return edit


def _edit_weights(change):
    def edit(folder):
        path = folder / "model.safetensors"
        save_file(change(load_file(str(path))), str(path))

    return edit


def _set_config(**values):
    return _edit_json("config.json", lambda config: {**config, **values})


def _nan_weight(tensors):
    key = sorted(tensors)[0]
    return {**tensors, key: np.full_like(tensors[key], np.nan)}


def _without_last_layer(tensors):
    return {k: v for k, v in tensors.items() if ".layer.1." not in k}


HOSTILE = {
    "corrupt weights": lambda f: (f / "model.safetensors").write_bytes(b"\x08" + b"\0" * 64),
    "truncated weights": lambda f: (f / "model.safetensors").write_bytes(
        (f / "model.safetensors").read_bytes()[:5000]
    ),
    "NaN weights": _edit_weights(_nan_weight),
    "a missing layer": _edit_weights(_without_last_layer),
    "fewer layers in config": _set_config(num_hidden_layers=1),
    "vocab_size 2**31": _set_config(vocab_size=2**31),
    "num_hidden_layers 100000": _set_config(num_hidden_layers=100_000),
    "hidden_size as text": _set_config(hidden_size="16"),
    "garbage config": lambda f: (f / "config.json").write_bytes(b"\x00\xffgarbage"),
    "garbage tokenizer": lambda f: (f / "tokenizer.json").write_text("[1, 2]"),
    "garbage pooling config": lambda f: (f / "1_Pooling" / "config.json").write_text("{"),
    "module outside": _edit_json("modules.json", lambda m: [{**m[0], "path": "../x"}, *m[1:]]),
    "shard outside": lambda f: (f / "model.safetensors.index.json").write_text(
        json.dumps({"weight_map": {"a": "../../../../etc/passwd"}})
    ),
    "pickle only": lambda f: (f / "model.safetensors").rename(f / "pytorch_model.bin"),
}

_LOAD_EACH = """
import json, resource, sys, time
from keras_siamese.encoders import SentenceEncoder
results = {}
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
for folder in sys.argv[1:]:
    start = time.perf_counter()
    try:
        SentenceEncoder.from_pretrained(folder)
        error = None
    except (ValueError, OSError) as err:
        error = f"{type(err).__name__}: {err}"
    results[folder] = {"error": error, "seconds": time.perf_counter() - start}
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"results": results, "extra_mib": (peak - base) / 1024}))
"""


def test_every_hostile_checkpoint_is_one_line_naming_its_file_fast_and_small(
    tiny_model_folder, tmp_path
):
    """The whole hostile set in a fresh process: each a one-line error naming the checkpoint,
    each in under 5 s, and all of them together under 500 MB above the process's import peak."""
    import subprocess
    import sys

    folders = {}
    for name, spoil in HOSTILE.items():
        folder = tmp_path / name.replace(" ", "_").replace("*", "")
        shutil.copytree(tiny_model_folder, folder)
        spoil(folder)
        folders[str(folder)] = name
    run = subprocess.run(
        [sys.executable, "-c", _LOAD_EACH, *folders], capture_output=True, text=True, check=True
    )
    report = json.loads(run.stdout.strip().splitlines()[-1])
    for folder, result in report["results"].items():
        name, error = folders[folder], result["error"]
        assert error is not None, f"{name}: loaded without an error"
        assert folder in error and len(error.splitlines()) == 1, f"{name}: {error}"
        assert result["seconds"] < 5, f"{name}: {result['seconds']:.1f} s"
    assert report["extra_mib"] < 500, report
