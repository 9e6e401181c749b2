"""Label-grouped batch plans (`BatchPlan(group_by_label=True)`), against sentence-transformers'
GroupByLabelBatchSampler and on class labels derived from SICK."""

import numpy as np
import pytest

from keras_siamese.data import BATCH_SAMPLERS, BatchPlan, Examples, read_sick
from keras_siamese.data.batching import group_by_label_batches, label_groups

RNG = np.random.default_rng(5)
LABELS = RNG.integers(0, 7, size=203)
LABELS[:3] = [40, 41, 41]  # 40 has a single row: never used


def labelled(labels) -> Examples:
    return Examples({"text": [f"text {row}" for row in range(len(labels))]}, np.asarray(labels))


def grouped(labels=LABELS, batch_size=8, **options) -> BatchPlan:
    return BatchPlan(labelled(labels), batch_size, group_by_label=True, **options)


def assert_label_grouped(batches, labels):
    for batch in batches:
        values, counts = np.unique(labels[batch], return_counts=True)
        assert counts.min() >= 2 and len(values) >= 2, labels[batch]


@pytest.mark.parametrize("batch_size", [4, 8, 16])
@pytest.mark.parametrize("drop_remainder", [False, True])
def test_every_batch_holds_two_or_more_of_each_of_its_labels(batch_size, drop_remainder):
    plan = grouped(batch_size=batch_size, seed=0, drop_remainder=drop_remainder)
    for epoch in range(3):
        batches = plan.batches(epoch)
        assert len(batches) == plan.num_batches
        assert_label_grouped(batches, LABELS)
        rows = np.concatenate(batches)
        assert len(set(rows.tolist())) == len(rows)  # no row twice in an epoch
        assert 0 not in rows  # the label with a single row
        sizes = [len(batch) for batch in batches]
        assert all(size == batch_size for size in sizes[:-1])
        assert sizes[-1] == batch_size or (not drop_remainder and sizes[-1] >= 4)


def test_deterministic_for_a_seed_and_different_per_epoch():
    def epochs(plan):
        return [[batch.tolist() for batch in plan.batches(epoch)] for epoch in range(3)]

    first = epochs(grouped(seed=3))
    assert first == epochs(grouped(seed=3))  # a resumed run replans the same batches
    assert first[0] != first[1] != first[2]
    assert first != epochs(grouped(seed=4))
    # The same rows each epoch (the label-balanced stream), in another order.
    assert sorted(map(sorted, first[0])) != sorted(map(sorted, first[1]))


def test_batch_count_matches_sentence_transformers():
    sampler = pytest.importorskip("sentence_transformers.base.sampler")

    class Dataset:  # the little of a datasets.Dataset the sampler reads
        column_names = ("text", "label")

        def __init__(self, labels):
            self.labels = labels.tolist()

        def __getitem__(self, column):
            return self.labels

        def __len__(self):
            return len(self.labels)

    skewed = np.repeat(np.arange(6), [2, 3, 5, 9, 30, 70])
    for labels in (LABELS, skewed):
        for batch_size in (4, 8, 10):
            for drop in (False, True):
                theirs = sampler.GroupByLabelBatchSampler(
                    Dataset(labels), batch_size, drop, valid_label_columns=["label"], seed=0
                )
                ours = grouped(labels, batch_size, seed=0, drop_remainder=drop)
                assert ours.num_batches == len(theirs) == len(list(theirs))
                assert sorted(map(len, ours.batches(0))) == sorted(map(len, theirs))


def test_the_dominant_label_tail_is_left_out():
    labels = np.repeat([0, 1], [4, 20])  # 2 pairs of 0: two rounds, then label 1 alone
    batches = group_by_label_batches(label_groups(labels), 4, False, np.random.default_rng(0))
    assert [len(batch) for batch in batches] == [4, 4]
    assert_label_grouped(batches, labels)


@pytest.mark.parametrize(
    ("examples", "options", "message"),
    [
        (Examples({"text": list("abcd")}), {}, "needs labelled examples"),
        (labelled(LABELS), {"batch_size": 6 + 1}, "even batch_size >= 4"),
        (labelled(LABELS), {"batch_size": 2}, "even batch_size >= 4"),
        (labelled([0, 0, 1, 2]), {}, "at least 2 labels with at least 2 rows"),
        (labelled(LABELS), {"no_duplicates": True}, "neither no_duplicates"),
        (labelled(LABELS), {"length_bucketing": True}, "neither no_duplicates"),
        (labelled(LABELS), {"shuffle": False}, "always shuffled"),
        (labelled([0, 0, 1, 1]), {"drop_remainder": True}, "no full batch of 8"),
    ],
)
def test_refuses_what_it_cannot_group(examples, options, message):
    options = {"batch_size": 8, **options}
    with pytest.raises(ValueError, match=message):
        BatchPlan(examples, options.pop("batch_size"), group_by_label=True, **options)


def test_batch_samplers_name_the_plan_options():
    assert set(BATCH_SAMPLERS) == {"batch_sampler", "no_duplicates", "group_by_label"}
    plan = BatchPlan(labelled(LABELS), 8, seed=0, **BATCH_SAMPLERS["group_by_label"])
    assert plan.group_by_label
    assert BatchPlan(labelled(LABELS), 8, **BATCH_SAMPLERS["no_duplicates"]).num_batches is None


def sick_classes(path) -> Examples:
    """SICK TRAIN sentences labelled by paraphrase class: the connected components of its
    ENTAILMENT pairs (each sentence once)."""
    pairs = read_sick(path, "TRAIN", label="entailment")
    parent: dict[str, str] = {}

    def root(text: str) -> str:
        while parent.setdefault(text, text) != text:
            parent[text] = parent[parent[text]]
            text = parent[text]
        return text

    columns = (pairs.columns["text_a"], pairs.columns["text_b"], pairs.labels)
    for first, second, label in zip(*columns, strict=True):
        if label == "ENTAILMENT":
            parent[root(first)] = root(second)
    texts = sorted(parent)
    classes = {name: i for i, name in enumerate(dict.fromkeys(root(text) for text in texts))}
    return Examples({"text": texts}, [classes[root(text)] for text in texts])


def test_every_sick_batch_holds_a_positive_pair(shared_data):
    examples = sick_classes(shared_data / "sick" / "SICK_train_trial.txt")
    assert len(examples) > 2000 and len(set(examples.labels.tolist())) > 800

    def with_positive_pair(plan: BatchPlan) -> float:
        batches = plan.batches(0)
        return np.mean([len(set(examples.labels[b].tolist())) < len(b) for b in batches])

    plan = BatchPlan(examples, 16, seed=0, group_by_label=True)
    for epoch in range(2):
        assert_label_grouped(plan.batches(epoch), examples.labels)
    assert with_positive_pair(plan) == 1.0
    assert plan.num_batches * 16 > 0.9 * len(examples)  # nearly every sentence, every epoch
    # Plain shuffled batches mostly hold no positive pair: the batch triplet losses see nothing.
    assert with_positive_pair(BatchPlan(examples, 16, seed=0)) < 0.5
