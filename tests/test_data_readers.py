"""Readers: STS, SICK (and its binary pairs and triplets), tables and TensorFlow Datasets."""

import json

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from keras_siamese.data import (
    read_sick,
    read_sts,
    read_table,
    read_tfds,
    sick_binary_pairs,
    sick_triplets,
)

STS_LINES = [
    'main-captions\tMSRvid\t2012test\t0001\t5.000\tA "quoted" man.\tA man "quoted".',
    "main-news\theadlines\t2016\t0012\t2.5\tDriver backs up\tDriver drives off\tsource\tsource",
]
SICK_HEADER = (
    "pair_ID\tsentence_A\tsentence_B\tentailment_label\trelatedness_score\tentailment_AB\t"
    "entailment_BA\tsentence_A_original\tsentence_B_original\tsentence_A_dataset\t"
    "sentence_B_dataset\tSemEval_set"
)
SICK_ROWS = [
    ("A dog runs", "A dog is running", "ENTAILMENT", "5", "TRAIN"),
    ("A dog runs", "A cat sleeps", "NEUTRAL", "1", "TRAIN"),
    ("A dog runs", "No dog runs", "CONTRADICTION", "2", "TRAIN"),
    ("A dog runs", "An animal runs", "ENTAILMENT", "4.5", "TRAIN"),
    ("A man sings", "A man is singing", "ENTAILMENT", "4.8", "TRIAL"),
    ("A man sings", "No man sings", "CONTRADICTION", "3", "TRIAL"),
    ("A man is singing", "Nobody sings", "CONTRADICTION", "3", "TRIAL"),
]


@pytest.fixture
def sts_file(tmp_path):
    path = tmp_path / "sts.csv"
    path.write_text("\n".join(STS_LINES) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def sick_file(tmp_path):
    lines = [SICK_HEADER]
    for pair_id, (first, second, entailment, score, split) in enumerate(SICK_ROWS, 1):
        lines.append(
            "\t".join([str(pair_id), first, second, entailment, score, "x", "x", first, second])
            + f"\tFLICKR\tFLICKR\t{split}"
        )
    path = tmp_path / "SICK.txt"
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode())
    return path


def test_read_sts_keeps_quotes_and_ignores_extra_fields(sts_file):
    examples = read_sts(sts_file)
    assert examples.columns == {
        "text_a": ['A "quoted" man.', "Driver backs up"],
        "text_b": ['A man "quoted".', "Driver drives off"],
    }
    assert examples.labels.tolist() == [1.0, 0.5]
    assert read_sts(sts_file, normalize_scores=False).labels.tolist() == [5.0, 2.5]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("g\tf\ty\t1\t4.0\tonly one sentence", "line 2 has 6 fields, expected at least 7"),
        ("g\tf\ty\t1\tfive\ta\tb", "line 2: score 'five' is not a number"),
        ("g\tf\ty\t1\t5.5\ta\tb", r"row 1 is 1.1, outside \[0.0, 1.0\]"),
        ("g\tf\ty\t1\t4.0\ta\t ", "column 'text_b' row 1 is empty"),
    ],
)
def test_read_sts_errors_name_file_and_line(tmp_path, line, message):
    path = tmp_path / "bad.csv"
    path.write_text(STS_LINES[0] + "\n" + line + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=message) as error:
        read_sts(path)
    assert str(path) in str(error.value)


def test_read_sick_relatedness_by_split(sick_file):
    everything = read_sick(sick_file)
    assert len(everything) == 7
    train = read_sick(sick_file, split="TRAIN")
    assert train.columns["text_b"] == [
        "A dog is running",
        "A cat sleeps",
        "No dog runs",
        "An animal runs",
    ]
    np.testing.assert_allclose(train.labels, [1.0, 0.0, 0.25, 0.875])
    trial = read_sick(sick_file, "TRIAL", label="entailment")
    assert trial.roles == ("text_a", "text_b")
    assert trial.labels.tolist() == ["ENTAILMENT", "CONTRADICTION", "CONTRADICTION"]
    with pytest.raises(ValueError, match="no rows in split 'TEST'"):
        read_sick(sick_file, "TEST")
    with pytest.raises(ValueError, match="label must be one of"):
        read_sick(sick_file, label="similarity")


def test_sick_binary_pairs_and_triplets(sick_file):
    nli = read_sick(sick_file, label="entailment")
    binary = sick_binary_pairs(nli)
    assert binary.labels.tolist() == [1, 0, 1, 1, 0, 0]
    assert binary.labels.dtype == np.int32

    triplets = sick_triplets(nli, seed=3)
    assert triplets.roles == ("anchor", "positive", "negative")
    assert triplets.columns["anchor"] == ["A dog runs", "A man sings"]
    assert triplets.columns["negative"] == ["No dog runs", "No man sings"]
    assert triplets.columns["positive"][0] in ("A dog is running", "An animal runs")
    assert triplets.columns["positive"][1] == "A man is singing"
    assert sick_triplets(nli, seed=3).columns == triplets.columns

    backwards = sick_triplets(nli, both_directions=True)
    assert "A man is singing" in backwards.columns["anchor"]  # entailed by "A man sings"
    with pytest.raises(ValueError, match="entailment labels"):
        sick_triplets(read_sick(sick_file))


def test_read_table_formats(tmp_path):
    csv_file = tmp_path / "pairs.csv"
    csv_file.write_text('question,answer,score\n"Hi, you?","Say ""hi""",0.5\nWhy,Because,1\n')
    examples = read_table(csv_file, {"text_a": "question", "text_b": "answer"}, label="score")
    assert examples.columns == {"text_a": ["Hi, you?", "Why"], "text_b": ['Say "hi"', "Because"]}
    assert examples.labels.tolist() == [0.5, 1.0]

    tsv_file = tmp_path / "pairs.tsv"
    tsv_file.write_text('q\ta\tclass\n"Hi\tyou"\tnews\nHo\tme\tsport\n')
    examples = read_table(tsv_file, {"text": "a"}, label="class")
    assert examples.columns == {"text": ['you"', "me"]}
    assert examples.labels.tolist() == ["news", "sport"]

    jsonl_file = tmp_path / "triplets.data"
    rows = [{"a": "q1", "p": "d1", "n": "d2", "y": 1}, {"a": "q2", "p": "d2", "n": "d1", "y": 0}]
    jsonl_file.write_text("\n".join(json.dumps(row) for row in rows) + "\n\n")
    examples = read_table(
        jsonl_file, {"anchor": "a", "positive": "p", "negative": "n"}, label="y", format="jsonl"
    )
    assert examples.columns["negative"] == ["d2", "d1"]
    assert examples.labels.tolist() == [1, 0]
    assert examples.labels.dtype == np.int32


@pytest.mark.parametrize(
    ("content", "label", "message"),
    [
        ("a,b\nx,y\n", None, r"line 2 lacks column\(s\) \['q'\]"),
        ("a,q,s\nx,y,0.5\nx,y,\n", "s", "label in row 1 is nan"),
        ("a,q,s\nx,y,0.5\nx,,1\n", "s", "column 'text_b' row 1 is empty"),
    ],
)
def test_read_table_errors(tmp_path, content, label, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(ValueError, match=message) as error:
        read_table(path, {"text_a": "a", "text_b": "q"}, label=label)
    assert str(path) in str(error.value)


def test_read_table_needs_a_known_format(tmp_path):
    path = tmp_path / "pairs.txt"
    path.write_text("a\nb\n")
    with pytest.raises(ValueError, match="say format="):
        read_table(path, {"text": "a"})
    assert read_table(path, {"text": "a"}, format="tsv").columns == {"text": ["b"]}


def test_read_tfds_offline_with_mock_data():
    rows = [("A man eats.", "Someone eats.", 4.5), ("A cat.", "A dog.", 0.5)]

    def as_dataset(self, *args, **kwargs):
        return tf.data.Dataset.from_tensor_slices(
            {
                "sentence1": [first for first, _, _ in rows],
                "sentence2": [second for _, second, _ in rows],
                "label": np.array([score for _, _, score in rows], np.float32),
                "idx": np.arange(len(rows), dtype=np.int32),
            }
        )

    columns = {"text_a": "sentence1", "text_b": "sentence2"}
    with tfds.testing.mock_data(as_dataset_fn=as_dataset):
        examples = read_tfds("glue/stsb", "validation", columns, label="label")
        assert examples.columns == {
            "text_a": ["A man eats.", "A cat."],
            "text_b": ["Someone eats.", "A dog."],
        }
        assert examples.labels.tolist() == [4.5, 0.5]
        with pytest.raises(ValueError, match=r"glue/stsb\[train\]: .*outside \[0, 1\]"):
            read_tfds("glue/stsb", "train", columns, label="label", label_range=(0, 1))
        with pytest.raises(ValueError, match=r"no feature\(s\) \['question'\]"):
            read_tfds("glue/stsb", "train", {"text": "question"})


@pytest.mark.integration
def test_real_sts_and_sick(shared_data):
    train = read_sts(shared_data / "stsb" / "sts-train.csv")
    dev = read_sts(shared_data / "stsb" / "sts-dev.csv")
    assert (len(train), len(dev)) == (5749, 1500)
    assert dev.labels.min() == 0.0 and dev.labels.max() == 1.0
    assert dev.columns["text_a"][0] == "A man with a hard hat is dancing."

    sick_path = shared_data / "sick" / "SICK_train_trial.txt"
    assert (len(read_sick(sick_path, "TRAIN")), len(read_sick(sick_path, "TRIAL"))) == (4439, 495)
    nli = read_sick(sick_path, label="entailment")
    assert not any(text.endswith("\r") for text in nli.columns["text_b"])
    binary = sick_binary_pairs(nli)
    assert (int(binary.labels.sum()), len(binary)) == (1274 + 143, 1274 + 143 + 641 + 71)
    triplets = sick_triplets(nli)
    assert len(triplets) > 100
    assert len(sick_triplets(nli, both_directions=True)) > len(triplets)
