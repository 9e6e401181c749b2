"""The `Examples` container: normalisation and the errors that name what is wrong."""

import numpy as np
import pytest

from keras_siamese.data import Examples, from_lists


def test_columns_roles_and_label_dtypes():
    scores = Examples({"text_a": ("a", "b"), "text_b": ["c", "d"]}, [0.5, 1])
    assert scores.roles == ("text_a", "text_b")
    assert len(scores) == 2
    assert scores.columns["text_a"] == ["a", "b"]
    assert scores.labels.dtype == np.float32
    classes = Examples({"text": ["a", "b"]}, np.array([2, 0], np.int64))
    assert classes.labels.dtype == np.int32
    names = Examples({"text": ["a", "b"]}, [b"yes", "no"])
    assert names.labels.tolist() == ["yes", "no"]
    assert Examples({"text": ["a"]}).labels is None


def test_from_lists_takes_roles_as_keywords():
    examples = from_lists(anchor=["q"], positive=["p"], labels=[1.0], label_range=(0, 1))
    assert examples.columns == {"anchor": ["q"], "positive": ["p"]}
    assert examples.labels.tolist() == [1.0]


@pytest.mark.parametrize(
    ("columns", "labels", "label_range", "message"),
    [
        ({}, None, None, "at least one column"),
        ({"text": []}, None, None, "no rows"),
        ({"text_a": ["a", " "]}, None, None, "column 'text_a' row 1 is empty"),
        ({"text_a": ["a", 3]}, None, None, "column 'text_a' row 1 is int, not str"),
        ({"text_a": ["a"], "text_b": ["b", "c"]}, None, None, "'text_a': 1, 'text_b': 2"),
        ({"text a": ["a"]}, None, None, "'text a' is not a Python identifier"),
        ({"text": ["a", "b"]}, [0.1], None, r"shape \(1,\), expected \(2,\)"),
        ({"text": ["a", "b"]}, [0.1, float("nan")], None, "row 1 is nan"),
        ({"text": ["a", "b"]}, [0.1, None], None, "row 1 is nan"),
        ({"text": ["a", "b"]}, ["yes", None], None, "row 1 is None"),
        ({"text": ["a", "b"]}, ["yes", ""], None, "row 1 is ''"),
        ({"text": ["a", "b"]}, [0.5, 5.5], (0, 5), r"row 1 is 5.5, outside \[0, 5\]"),
    ],
)
def test_invalid_examples_name_the_problem(columns, labels, label_range, message):
    with pytest.raises(ValueError, match=message):
        Examples(columns, labels, label_range)


def test_select_and_relabel():
    nli = Examples(
        {"text_a": ["a", "b", "c"], "text_b": ["d", "e", "f"]},
        ["ENTAILMENT", "NEUTRAL", "CONTRADICTION"],
    )
    assert nli.select([2, 0]).columns["text_b"] == ["f", "d"]
    assert nli.select([2, 0]).labels.tolist() == ["CONTRADICTION", "ENTAILMENT"]
    binary = nli.relabel({"ENTAILMENT": 1, "CONTRADICTION": 0})
    assert binary.columns == {"text_a": ["a", "c"], "text_b": ["d", "f"]}
    assert binary.labels.tolist() == [1, 0]
    with pytest.raises(ValueError, match="no rows"):
        nli.relabel({"OTHER": 1})
    with pytest.raises(ValueError, match="string labels"):
        binary.relabel({"1": 1})
