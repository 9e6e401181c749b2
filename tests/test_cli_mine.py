"""``keras-siamese mine``: end to end on tiny files with the tiny model, its outputs read back,
and its mistakes as one line naming the file and line (issue 10)."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from keras_siamese.cli.main import main
from keras_siamese.data import from_lists, read_table
from keras_siamese.encoders import SentenceEncoder
from keras_siamese.mining import mine_hard_negatives

REPO = Path(__file__).resolve().parent.parent
ANCHORS = ["a man plays a guitar", "a dog runs in the park", "the cat eats", "a woman cooks"]
POSITIVES = ["a man is playing music", "a dog is running", "a cat is eating", "someone cooks"]
CORPUS = ["a boy plays a violin", "a dog sleeps", "the cat drinks milk", "a man cooks rice"]


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    return err


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mine")
    with (folder / "pairs.csv").open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["id", "question", "answer"])
        writer.writerows([i, a, p] for i, (a, p) in enumerate(zip(ANCHORS, POSITIVES, strict=True)))
    rows = [{"anchor": a, "positive": p} for a, p in zip(ANCHORS, POSITIVES, strict=True)]
    (folder / "pairs.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    (folder / "corpus.txt").write_text("\r\n".join(CORPUS) + "\r\n")
    return folder


def test_mine_writes_what_the_library_mines(tiny_model_folder, files, tmp_path, capsys):
    out = tmp_path / "mined.jsonl"
    args = [
        "mine",
        str(tiny_model_folder),
        str(files / "pairs.csv"),
        "-o",
        str(out),
        "--columns",
        "anchor=question,positive=answer",
        "--corpus",
        str(files / "corpus.txt"),
        "--num-negatives",
        "2",
        "--range-max",
        "5",
    ]
    assert main(args) == 0
    expected = mine_hard_negatives(
        SentenceEncoder.from_pretrained(tiny_model_folder),
        from_lists(anchor=ANCHORS, positive=POSITIVES),
        CORPUS,
        num_negatives=2,
        range_max=5,
    )
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [tuple(row.values()) for row in rows] == list(
        zip(*expected.columns.values(), strict=True)
    )
    assert list(rows[0]) == ["anchor", "positive", "negative"]
    assert capsys.readouterr().out.strip() == (
        f"mined 8 negatives for 4 of 4 anchors; wrote 8 triplet rows to {out}"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mined.jsonl"]  # no temporary left


@pytest.mark.parametrize("output_format", ["n-tuple", "labeled-pair"])
def test_mine_writes_csv_that_read_table_reads_back(
    tiny_model_folder, files, tmp_path, output_format
):
    out = tmp_path / "mined.csv"
    args = ["mine", str(tiny_model_folder), str(files / "pairs.jsonl"), "-o", str(out)]
    options = ["--output-format", output_format, "--num-negatives", "2"]
    options += ["--sampling-strategy", "random", "--seed", "5"]
    assert main([*args, *options]) == 0
    first = out.read_text()
    assert main([*args, *options]) == 0
    assert out.read_text() == first  # the same for a seed
    if output_format == "n-tuple":
        roles = ("anchor", "positive", "negative_1", "negative_2")
        mined = read_table(out, {role: role for role in roles})
        assert mined.columns["anchor"] == ANCHORS  # 3 candidates each: all get 2
        assert all(n not in POSITIVES[i] for i, n in enumerate(mined.columns["negative_1"]))
    else:
        mined = read_table(out, {"text_a": "text_a", "text_b": "text_b"}, label="label")
        assert mined.labels.tolist() == [1, 0, 0] * 4


def test_mine_reports_bad_input_with_file_and_line(tiny_model_folder, files, tmp_path, capsys):
    model, out = str(tiny_model_folder), str(tmp_path / "out.csv")
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("anchor,positive\na dog,a dog runs\n,a cat\n")
    bad_json = tmp_path / "bad.jsonl"
    bad_json.write_text('{"anchor": "a", "positive": "b"}\n\n{"anchor": "a", positive}\n')
    cases = {
        f"{bad_csv}:3: column 'anchor' is empty": [str(bad_csv)],
        f"{bad_json}:3: not JSON": [str(bad_json)],
        f"{files / 'pairs.csv'}:2: no column 'anchor' (it has ['id', 'question', 'answer'])": [
            str(files / "pairs.csv")
        ],
        f"{files / 'pairs.jsonl'}:1: no column 'q'": [
            str(files / "pairs.jsonl"),
            "--columns",
            "positive=q",
        ],
    }
    for expected, argv in cases.items():
        assert main(["mine", model, *argv, "-o", out]) == 2, expected
        assert expected in _one_line_error(capsys)
    assert not (tmp_path / "out.csv").exists()


def test_mine_argument_mistakes_fail_before_tensorflow_loads(files, tmp_path):
    pairs, model = str(files / "pairs.csv"), str(files)
    cases = {
        "name a .csv or .jsonl file": ["mine", model, pairs, "-o", str(tmp_path / "x.txt")],
        "not anchor=COLUMN,positive=COLUMN": [
            "mine",
            model,
            pairs,
            "-o",
            "x.csv",
            "--columns",
            "query=q",
        ],
        "must be below --range-max": [
            *["mine", model, pairs, "-o", "x.csv"],
            *["--range-min", "4", "--range-max", "4"],
        ],
        "does not fit between": ["mine", model, pairs, "-o", "x.csv", "--range-max", "2"],
        "is not a finite number": ["mine", model, pairs, "-o", "x.csv", "--max-score", "nan"],
        "unknown suffix": ["mine", model, str(files / "corpus.txt"), "-o", "x.csv"],
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
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=300
    )
    assert result.returncode == 0, result.stderr
    results, tensorflow_loaded = json.loads(result.stdout)
    for expected, (status, err) in results.items():
        assert status == 2, (expected, err)
        assert err.count("\n") == 1 and expected in err, err
    assert not tensorflow_loaded
