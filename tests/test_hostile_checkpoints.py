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
