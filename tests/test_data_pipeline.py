"""Batch plans (shuffling, length buckets, no duplicates) and the tf.data pipeline built on them."""

import numpy as np
import pytest
import tensorflow as tf
from test_data_standins import WordTokenizer

from keras_siamese.data import BatchPlan, Examples, from_lists, make_dataset
from keras_siamese.data.batching import no_duplicate_batches
from keras_siamese.testing import make_tiny_encoder

WORDS = ["a", "man", "woman", "dog", "cat", "eats", "runs", "sleeps", "in", "the", "park"]


def random_examples(rows: int, roles=("text_a", "text_b"), labels=None, seed=0) -> Examples:
    rng = np.random.default_rng(seed)

    def sentence() -> str:
        return " ".join(rng.choice(WORDS, size=rng.integers(1, 12)))

    return Examples({role: [sentence() for _ in range(rows)] for role in roles}, labels)


def as_lists(batches: list[np.ndarray]) -> list[list[int]]:
    return [batch.tolist() for batch in batches]


def test_plan_covers_every_row_once_and_reshuffles_each_epoch():
    plan = BatchPlan(random_examples(103), batch_size=10, seed=7)
    first, second = plan.batches(0), plan.batches(1)
    for batches in (first, second):
        assert sorted(np.concatenate(batches).tolist()) == list(range(103))
        assert sorted(len(batch) for batch in batches) == [3] + [10] * 10
    assert as_lists(first) != as_lists(second)
    assert plan.num_batches == 11
    again = BatchPlan(random_examples(103), batch_size=10, seed=7)
    assert as_lists(again.batches(1)) == as_lists(second)


def test_plan_drop_remainder_and_unshuffled_order():
    examples = random_examples(25)
    dropped = BatchPlan(examples, 10, seed=0, drop_remainder=True)
    assert dropped.num_batches == 2
    assert [len(batch) for batch in dropped.batches(0)] == [10, 10]
    with pytest.raises(ValueError, match="25 rows make no full batch of 32"):
        BatchPlan(examples, 32, drop_remainder=True)
    in_order = BatchPlan(examples, 10, shuffle=False)
    assert np.concatenate(in_order.batches(3)).tolist() == list(range(25))


def test_length_bucketing_groups_similar_lengths():
    examples = random_examples(2000)
    lengths = np.array([len(a) + len(b) for a, b in zip(*examples.columns.values(), strict=True)])

    def mean_spread(plan: BatchPlan) -> float:
        return np.mean([np.ptp(lengths[batch]) for batch in plan.batches(0)])

    bucketed = BatchPlan(examples, 16, seed=0)
    assert mean_spread(bucketed) < 0.2 * mean_spread(
        BatchPlan(examples, 16, seed=0, length_bucketing=False)
    )
    assert mean_spread(BatchPlan(examples, 16, shuffle=False, length_bucketing=True)) < 10
    sizes = [len(batch) for batch in bucketed.batches(0)]
    assert sizes.count(16) == 2000 // 16  # one short batch, anywhere in the shuffled order


def test_no_duplicates_in_any_column_of_a_batch():
    rng = np.random.default_rng(0)
    pool = [f"text {i}" for i in range(40)]
    anchor_ids = rng.integers(0, 40, 300)
    anchors = [pool[i] for i in anchor_ids]
    positives = [
        pool[(i + j) % 40] for i, j in zip(anchor_ids, rng.integers(1, 40, 300), strict=True)
    ]
    examples = from_lists(anchor=anchors, positive=positives)
    plan = BatchPlan(examples, 8, seed=1, no_duplicates=True)
    assert plan.num_batches is None
    for epoch in range(2):
        batches = plan.batches(epoch)
        assert sorted(np.concatenate(batches).tolist()) == list(range(300))
        for batch in batches:
            texts = [anchors[row] for row in batch] + [positives[row] for row in batch]
            assert len(set(texts)) == len(texts)
    full_only = BatchPlan(examples, 8, seed=1, no_duplicates=True, drop_remainder=True)
    assert {len(batch) for batch in full_only.batches(0)} == {8}


def test_no_duplicate_batches_defers_clashing_rows_in_order():
    rows = [("a", "b"), ("a", "c"), ("b", "d"), ("e", "f"), ("g", "a"), ("h", "i")]
    assert as_lists(no_duplicate_batches(np.arange(6), rows, 3, False)) == [
        [0, 3, 5],
        [1, 2],
        [4],
    ]
    assert as_lists(no_duplicate_batches(np.arange(6), rows, 2, False)) == [
        [0, 3],
        [1, 2],
        [4, 5],
    ]
    assert as_lists(no_duplicate_batches(np.arange(6), rows, 4, True)) == []


@pytest.mark.reference
def test_no_duplicate_batches_match_sentence_transformers():
    torch = pytest.importorskip("torch")
    sampler_module = pytest.importorskip("sentence_transformers.base.sampler")

    class Rows:
        def __init__(self, rows):
            self.rows = rows
            self.column_names = ["anchor", "positive"]

        def __len__(self):
            return len(self.rows)

        def __getitem__(self, index):
            return dict(zip(self.column_names, self.rows[index], strict=True))

    rng = np.random.default_rng(3)
    rows = [(f"q{a}", f"d{b}") for a, b in rng.integers(0, 30, (200, 2))]
    sampler = sampler_module.NoDuplicatesBatchSampler(
        Rows(rows), batch_size=16, drop_last=False, generator=torch.Generator(), seed=5
    )
    expected = list(sampler)
    order = torch.randperm(len(rows), generator=torch.Generator().manual_seed(5)).numpy()
    assert as_lists(no_duplicate_batches(order, rows, 16, False)) == expected


def test_make_dataset_tokenises_each_role_padded_per_batch():
    examples = Examples(
        {"text_a": ["a man", "a dog runs in the park", "cat"], "text_b": ["dog", "a b", "c"]},
        [0.5, 1.0, 0.0],
    )
    tokenizer = WordTokenizer(WORDS)
    dataset = make_dataset(examples, tokenizer, batch_size=2, shuffle=False)
    assert dataset.cardinality().numpy() == 2
    features, labels = next(iter(dataset))
    assert sorted(features) == [
        "text_a_attention_mask",
        "text_a_input_ids",
        "text_b_attention_mask",
        "text_b_input_ids",
    ]
    assert features["text_a_input_ids"].dtype == tf.int32
    assert features["text_a_input_ids"].shape == (2, 6)  # longest text_a of the batch
    assert features["text_b_input_ids"].shape == (2, 2)
    np.testing.assert_array_equal(features["text_a_attention_mask"][0], [1, 1, 0, 0, 0, 0])
    np.testing.assert_array_equal(
        features["text_a_input_ids"][0], [WORDS.index("a") + 2, WORDS.index("man") + 2, 0, 0, 0, 0]
    )
    assert labels.dtype == tf.float32
    np.testing.assert_allclose(labels, [0.5, 1.0])


def test_make_dataset_calls_the_tokenizer_once_for_all_roles(tiny_vocab_folder):
    """One tokenizer call (one trace of its graph) per batch, whatever the number of roles; each
    role equals its own call, padded to its own longest text."""
    tokenizer = make_tiny_encoder(tiny_vocab_folder).in_graph_tokenizer()
    calls = []

    def counting(texts: tf.Tensor) -> dict[str, tf.Tensor]:
        calls.append(texts)
        return tokenizer(texts)

    examples = Examples(
        {
            "anchor": ["a man plays guitar", "a dog", "the cat is happy and sad"],
            "positive": ["a man", "the dog runs in the park", "cat"],
            "negative": ["red car", "blue", "a small woman eats food"],
        }
    )
    features, _ = next(iter(make_dataset(examples, counting, 3, shuffle=False)))
    assert len(calls) == 1
    for role, texts in examples.columns.items():
        expected = tokenizer(tf.constant(texts))
        for key in ("input_ids", "attention_mask"):
            np.testing.assert_array_equal(features[f"{role}_{key}"], expected[key])


def test_make_dataset_from_a_text_tokenizer_equals_the_in_graph_one(tiny_vocab_folder):
    """``fit``'s batches: every text tokenised once, up front, by the Rust tokenizer; the same
    batches, ids and masks as the in-graph tokenizer's, each role padded to its own longest."""
    encoder = make_tiny_encoder(tiny_vocab_folder)
    examples = Examples(
        {
            "anchor": ["a man plays guitar", "a", "the cat is happy and sad", "a dog", "red"],
            "positive": ["a man", "the dog runs in the park", "cat", "b", "a small woman eats"],
        },
        [0.1, 0.2, 0.3, 0.4, 0.5],
    )
    batches = [
        list(make_dataset(examples, tokenizer, 2, seed=3, prefetch=False))
        for tokenizer in (encoder.tokenizer, encoder.in_graph_tokenizer())
    ]
    assert len(batches[0]) == len(batches[1]) == 3
    for (features, labels), (expected, expected_labels) in zip(*batches, strict=True):
        assert sorted(features) == sorted(expected)
        for key, value in features.items():
            assert value.dtype == tf.int32
            np.testing.assert_array_equal(value, expected[key], err_msg=key)
        np.testing.assert_array_equal(labels, expected_labels)


def test_make_dataset_labels_int_or_dummy_zeros_and_rejects_class_names():
    tokenizer = WordTokenizer(WORDS)
    classes = random_examples(5, roles=("text",), labels=[0, 2, 1, 1, 0])
    _, labels = next(iter(make_dataset(classes, tokenizer, 5, shuffle=False)))
    assert labels.dtype == tf.int32 and labels.numpy().tolist() == [0, 2, 1, 1, 0]
    unlabelled = random_examples(5, roles=("anchor", "positive"))
    _, labels = next(iter(make_dataset(unlabelled, tokenizer, 5, no_duplicates=True, seed=0)))
    assert labels.dtype == tf.float32 and not labels.numpy().any()
    with pytest.raises(ValueError, match="relabel"):
        make_dataset(random_examples(2, labels=["yes", "no"]), tokenizer, 2)


def test_make_dataset_reshuffles_each_pass_reproducibly():
    examples = random_examples(40, labels=np.arange(40, dtype=np.float32))
    tokenizer = WordTokenizer(WORDS)

    def epochs(dataset: tf.data.Dataset, count: int) -> list[list[float]]:
        return [np.concatenate([y.numpy() for _, y in dataset]).tolist() for _ in range(count)]

    first = epochs(make_dataset(examples, tokenizer, 8, seed=11, prefetch=False), 2)
    assert first[0] != first[1]
    assert sorted(first[0]) == sorted(first[1]) == list(range(40))
    assert epochs(make_dataset(examples, tokenizer, 8, seed=11), 2) == first
    plan = BatchPlan(examples, 8, seed=11)
    assert first[1] == np.concatenate(plan.batches(1)).tolist()
