"""Distillation: vector labels through `Examples`, `BatchPlan` and `make_dataset`, the teacher
helpers (`with_teacher_embeddings`, `with_teacher_scores`), and `fit` training a tiny student on a
tiny teacher's embeddings (`MSELoss`) and scores (`MarginMSELoss`)."""

import numpy as np
import pytest
import tensorflow as tf

import keras_siamese as ks
from keras_siamese.data import (
    BatchPlan,
    Examples,
    make_dataset,
    with_teacher_embeddings,
    with_teacher_scores,
)
from keras_siamese.testing import make_tiny_encoder

SUBJECTS = [
    "a man",
    "a woman",
    "the dog",
    "the cat",
    "a big car",
    "the red piano",
    "a girl",
    "a boy",
]
ACTIONS = ["plays guitar", "runs in the park", "eats food", "is happy", "is sad", "on the street"]


class FakeTeacher:
    """An encoder whose embedding of a text is a fixed function of it; counts the texts encoded."""

    def __init__(self, dim: int = 4):
        self.dim, self.encoded = dim, []

    def encode(self, texts, batch_size=32, show_progress_bar=None):
        self.encoded += list(texts)
        return np.array([[len(t), t.count("a"), t.count(" "), 1.0][: self.dim] for t in texts])


def _sentences(count: int, shift: int = 0) -> list[str]:
    return [
        f"{SUBJECTS[row % len(SUBJECTS)]} {ACTIONS[(row + shift) % len(ACTIONS)]}"
        for row in range(count)
    ]


# -- vector labels ------------------------------------------------------------------------------


def test_examples_take_a_vector_label_per_row():
    examples = Examples({"text": ["a", "b", "c"]}, np.arange(6, dtype="float64").reshape(3, 2))
    assert examples.labels.shape == (3, 2) and examples.labels.dtype == np.float32
    assert examples.select([2, 0]).labels.tolist() == [[4.0, 5.0], [0.0, 1.0]]
    with pytest.raises(ValueError, match=r"label in row 1 .* must be finite"):
        Examples({"text": ["a", "b"]}, [[0.0, 1.0], [np.nan, 1.0]])
    with pytest.raises(ValueError, match=r"expected \(2,\) like the columns"):
        Examples({"text": ["a", "b"]}, np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"expected \(2,\)"):
        Examples({"text": ["a", "b"]}, [["x", "y"], ["z", "w"]])  # names are one per row


def test_group_by_label_refuses_vector_labels():
    examples = Examples({"text": list("abcdefgh")}, np.zeros((8, 2)))
    with pytest.raises(ValueError, match="one class label per row"):
        BatchPlan(examples, 4, seed=0, group_by_label=True)


def test_make_dataset_batches_vector_labels_with_their_rows(tiny_vocab_folder):
    encoder = make_tiny_encoder(tiny_vocab_folder)
    labels = np.arange(24, dtype="float32").reshape(8, 3)
    examples = Examples({"text": _sentences(8)}, labels)
    dataset = make_dataset(examples, encoder.in_graph_tokenizer(), 3, seed=0)
    assert dataset.element_spec[1] == tf.TensorSpec([None, 3], tf.float32)
    plan = BatchPlan(examples, 3, seed=0)
    for rows, (_, batch) in zip(plan.batches(0), dataset, strict=True):
        np.testing.assert_array_equal(batch.numpy(), labels[rows])


# -- the teacher helpers ------------------------------------------------------------------------


def test_with_teacher_embeddings_encodes_each_distinct_text_once():
    teacher = FakeTeacher()
    parallel = Examples({"english": ["a man", "a cat", "a man"], "german": ["x", "y", "z"]})
    labelled = with_teacher_embeddings(parallel, teacher)  # the first column
    assert labelled.roles == parallel.roles and labelled.labels.shape == (3, 4)
    np.testing.assert_array_equal(
        labelled.labels, FakeTeacher().encode(parallel.columns["english"])
    )
    assert teacher.encoded == ["a man", "a cat"]
    per_column = with_teacher_embeddings(parallel, FakeTeacher(), ["english", "german"])
    assert per_column.labels.shape == (3, 2, 4)
    np.testing.assert_array_equal(per_column.labels[:, 1], FakeTeacher().encode(["x", "y", "z"]))
    with pytest.raises(ValueError, match="no column 'french'"):
        with_teacher_embeddings(parallel, teacher, "french")


def test_with_teacher_scores_from_an_encoder_or_a_pair_scorer():
    texts = {"anchor": ["a man", "the cat"], "positive": ["a guy", "a cat"], "negative_1": ["x y"]}
    texts["negative_1"] *= 2
    examples = Examples(texts)
    teacher = FakeTeacher()
    scores = with_teacher_scores(examples, teacher, similarity="dot").labels
    vectors = {
        t: v for t, v in zip(teacher.encoded, FakeTeacher().encode(teacher.encoded), strict=True)
    }
    expected = [
        [vectors[q] @ vectors[p], vectors[q] @ vectors[n]]
        for q, p, n in zip(*texts.values(), strict=True)
    ]
    np.testing.assert_allclose(scores, expected, rtol=1e-6)
    assert len(teacher.encoded) == len(set(teacher.encoded))  # "x y" encoded once
    margins = with_teacher_scores(examples, FakeTeacher(), similarity="dot", margins=True).labels
    np.testing.assert_allclose(margins[:, 0], scores[:, 0] - scores[:, 1], rtol=1e-6)

    def overlap(queries, documents):
        return [
            len(set(q.split()) & set(d.split())) for q, d in zip(queries, documents, strict=True)
        ]

    assert with_teacher_scores(examples, overlap).labels.tolist() == [[1.0, 0.0], [1.0, 0.0]]
    with pytest.raises(ValueError, match="candidate column"):
        with_teacher_scores(Examples({"anchor": ["a"]}), overlap)


# -- training a student on a teacher ------------------------------------------------------------


def _fit(student, examples, loss, epochs, **options):
    config = ks.TrainingConfig(
        loss=loss,
        loss_options=options or None,
        epochs=epochs,
        batch_size=8,
        learning_rate=5e-3,
        warmup_ratio=0.0,
        weight_decay=0.0,
    )
    return ks.fit(student, examples, config, verbose=0)


def test_fit_distils_a_student_on_teacher_embeddings(tiny_vocab_folder):
    """MSELoss on two columns (a sentence and a paraphrase standing in for its translation), both
    regressed on the teacher's embedding of the sentence: the error goes down."""
    teacher = make_tiny_encoder(tiny_vocab_folder, seed=1)
    student = make_tiny_encoder(tiny_vocab_folder, seed=0)
    parallel = Examples({"english": _sentences(16), "french": _sentences(16, shift=1)})
    train = with_teacher_embeddings(parallel, teacher, "english")

    def error():
        return float(np.mean((student.encode(parallel.columns["english"]) - train.labels) ** 2))

    before = error()
    history = _fit(student, train, "mse", 6, columns=["english", "french"])
    losses = history.history["loss"]
    assert np.all(np.isfinite(losses)) and losses[-1] < 0.8 * losses[0], losses
    assert error() < 0.8 * before


def test_fit_distils_a_student_on_teacher_margins(tiny_vocab_folder):
    teacher = make_tiny_encoder(tiny_vocab_folder, seed=1)
    student = make_tiny_encoder(tiny_vocab_folder, seed=0)
    texts = {
        "anchor": _sentences(16),
        "positive": _sentences(16, shift=1),
        "negative_1": _sentences(16, shift=3)[::-1],
    }
    train = with_teacher_scores(Examples(texts), teacher, margins=True, similarity="dot")
    assert train.labels.shape == (16, 1)
    history = _fit(student, train, "margin-mse", 6)
    losses = history.history["loss"]
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0], losses


def test_teacher_targets_read_from_jsonl_lists(tmp_path):
    from keras_siamese.training.recipes import load_training_examples

    path = tmp_path / "distil.jsonl"
    path.write_text('{"s": "a man", "t": [0.5, 1]}\n{"s": "a cat", "t": [2, -1.5]}\n')
    examples = load_training_examples(path, "jsonl", "mse", columns={"text": "s"}, label="t")
    assert examples.labels.tolist() == [[0.5, 1.0], [2.0, -1.5]]
    path.write_text('{"s": "a man", "t": [0.5, 1]}\n{"s": "a cat", "t": [2]}\n')
    with pytest.raises(ValueError, match="all of one length"):
        load_training_examples(path, "jsonl", "mse", columns={"text": "s"}, label="t")
    with pytest.raises(ValueError, match="learns a teacher's scores, which sick does not have"):
        load_training_examples(path, "sick", "margin-mse")
