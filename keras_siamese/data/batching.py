"""`BatchPlan`: the rows of each batch of each epoch (shuffled, length-bucketed, deduplicated, or
grouped by label)."""

import itertools
from collections import deque

import numpy as np

from keras_siamese.data.examples import Examples

BUCKET_BATCHES = 50
# sentence-transformers' `BatchSamplers` names -> the `BatchPlan` options that give them.
BATCH_SAMPLERS: dict[str, dict[str, bool]] = {
    "batch_sampler": {},
    "no_duplicates": {"no_duplicates": True},
    "group_by_label": {"group_by_label": True},
}


class BatchPlan:
    """The row indices of every batch of an epoch, reproducible from `(seed, epoch)`.

    - `shuffle`: a fresh permutation each epoch (else the rows keep their order).
    - `length_bucketing`: rows are sorted by text length within chunks of `BUCKET_BATCHES`
      batches, so batches hold texts of similar length and pad little; the batches are then
      shuffled (when `shuffle`). Defaults to `shuffle`, so unshuffled data keeps its order.
    - `no_duplicates`: like sentence-transformers' NoDuplicatesBatchSampler, a row joins a batch
      only when none of its texts already appears in any column of that batch; rows that clash
      wait for a later batch. Needed when other rows of a batch serve as negatives.
    - `group_by_label`: like sentence-transformers' GroupByLabelBatchSampler (`BatchSamplers.
      GROUP_BY_LABEL`), for the batch triplet losses: every batch holds at least two rows of each
      label it contains, and at least two labels. See `group_by_label_batches`; it needs labels
      and an even `batch_size` >= 4, always shuffles (each epoch anew) and takes neither
      `no_duplicates` nor `length_bucketing`. Labels with a single row are never used, and
      each epoch leaves out the rows that do not fit in the label-balanced stream.
    - `drop_remainder`: drop incomplete batches (with `no_duplicates`, every incomplete one).

    Example:
        >>> plan = BatchPlan(Examples({"text": ["a", "b", "c"]}), batch_size=2, shuffle=False)
        >>> [batch.tolist() for batch in plan.batches(epoch=0)]
        [[0, 1], [2]]
        >>> labels = np.array([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 7])  # 7 has one row: never used
        >>> texts = Examples({"text": list("abcdefghijk")}, labels)
        >>> grouped = BatchPlan(texts, batch_size=4, seed=0, group_by_label=True)
        >>> grouped.num_batches, [len(batch) for batch in grouped.batches(epoch=0)]
        (2, [4, 4])
        >>> all(min(np.unique(labels[batch], return_counts=True)[1]) >= 2
        ...     for batch in grouped.batches(epoch=0))
        True
    """

    def __init__(
        self,
        examples: Examples,
        batch_size: int,
        *,
        shuffle: bool = True,
        seed: int | None = None,
        drop_remainder: bool = False,
        no_duplicates: bool = False,
        length_bucketing: bool | None = None,
        group_by_label: bool = False,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self._groups = None
        if group_by_label:
            _check_group_by_label(examples, batch_size, shuffle, no_duplicates, length_bucketing)
            self._groups = label_groups(examples.labels)
            length_bucketing = False
            rows = _group_stream_length(self._groups)
        else:
            rows = len(examples)
        if drop_remainder and rows < batch_size:
            raise ValueError(f"{rows} rows make no full batch of {batch_size}")
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = int(np.random.SeedSequence().entropy) if seed is None else seed
        self.drop_remainder = drop_remainder
        self.length_bucketing = shuffle if length_bucketing is None else length_bucketing
        self.group_by_label = group_by_label
        columns = list(examples.columns.values())
        self._lengths = np.sum([[len(text) for text in texts] for texts in columns], axis=0)
        self._row_texts = list(zip(*columns, strict=True)) if no_duplicates else None

    @property
    def num_batches(self) -> int | None:
        """Batches per epoch; None with `no_duplicates`, where it depends on the shuffle."""
        if self._groups is not None:
            stream = _group_stream_length(self._groups)
            last = 0 if self.drop_remainder or stream % self.batch_size < 4 else 1
            return stream // self.batch_size + last
        if self._row_texts is not None:
            return None
        rows = len(self._lengths)
        return rows // self.batch_size if self.drop_remainder else -(-rows // self.batch_size)

    def batches(self, epoch: int) -> list[np.ndarray]:
        """The batches (arrays of row indices) of epoch `epoch`."""
        rng = np.random.default_rng([self.seed, epoch])
        if self._groups is not None:
            return group_by_label_batches(self._groups, self.batch_size, self.drop_remainder, rng)
        rows = len(self._lengths)
        order = rng.permutation(rows) if self.shuffle else np.arange(rows)
        if self.length_bucketing:
            chunk = BUCKET_BATCHES * self.batch_size
            order = np.concatenate(
                [
                    part[np.argsort(self._lengths[part], kind="stable")]
                    for part in np.split(order, range(chunk, rows, chunk))
                ]
            )
        if self._row_texts is None:
            batches = np.split(order, range(self.batch_size, rows, self.batch_size))
            if self.drop_remainder and len(batches[-1]) < self.batch_size:
                batches.pop()
        else:
            batches = no_duplicate_batches(
                order, self._row_texts, self.batch_size, self.drop_remainder
            )
        if self.shuffle:
            rng.shuffle(batches)
        return batches


def no_duplicate_batches(
    order: np.ndarray, row_texts: list[tuple[str, ...]], batch_size: int, drop_remainder: bool
) -> list[np.ndarray]:
    """Batches taken greedily along `order` with no text twice per batch: a row clashing with its
    batch is deferred, and the next batch first takes the deferred rows (in order), then goes on
    along `order` (sentence-transformers' NoDuplicatesBatchSampler, given the same order).

    Example:
        >>> rows = [("a", "b"), ("a", "c"), ("d", "e")]
        >>> [batch.tolist() for batch in no_duplicate_batches(np.arange(3), rows, 2, False)]
        [[0, 2], [1]]
    """
    batches = []
    fresh = iter(order.tolist())
    deferred: list[int] = []
    while True:
        batch: list[int] = []
        seen: set[str] = set()
        still_deferred: list[int] = []
        visited = 0
        for row in itertools.chain(deferred, fresh):
            visited += 1
            if seen.isdisjoint(row_texts[row]):
                batch.append(row)
                seen.update(row_texts[row])
                if len(batch) == batch_size:
                    break
            else:
                still_deferred.append(row)
        deferred = still_deferred + deferred[visited:]
        if not batch:
            return batches
        if len(batch) == batch_size or not drop_remainder:
            batches.append(np.array(batch))


def _check_group_by_label(
    examples: Examples,
    batch_size: int,
    shuffle: bool,
    no_duplicates: bool,
    length_bucketing: bool | None,
) -> None:
    if examples.labels is None:
        raise ValueError("group_by_label needs labelled examples (class labels)")
    if examples.labels.ndim != 1:
        raise ValueError(
            f"group_by_label needs one class label per row, got labels of shape "
            f"{examples.labels.shape}"
        )
    if batch_size < 4 or batch_size % 2:
        raise ValueError(f"group_by_label needs an even batch_size >= 4, got {batch_size}")
    if not shuffle:
        raise ValueError("group_by_label batches are always shuffled: it takes no shuffle=False")
    if no_duplicates or length_bucketing:
        raise ValueError("group_by_label takes neither no_duplicates nor length_bucketing")


def label_groups(labels: np.ndarray) -> list[np.ndarray]:
    """The rows of each label with at least two rows, labels in order of first appearance.

    Example:
        >>> [group.tolist() for group in label_groups(np.array([3, 1, 3, 2, 1, 3]))]
        [[0, 2, 5], [1, 4]]
    """
    rows: dict[object, list[int]] = {}
    for row, label in enumerate(labels.tolist()):
        rows.setdefault(label, []).append(row)
    groups = [np.array(group) for group in rows.values() if len(group) >= 2]
    if len(groups) < 2:
        raise ValueError(
            "group_by_label needs at least 2 labels with at least 2 rows each, "
            f"but {len(groups)} label(s) qualified"
        )
    return groups


def _group_stream_length(groups: list[np.ndarray]) -> int:
    """Rows per epoch of `group_by_label_batches` before batching: each label gives whole pairs
    until fewer than two labels are left, i.e. for as many rounds as the second-largest label."""
    pairs = sorted((len(group) // 2 for group in groups), reverse=True)
    return 2 * sum(min(count, pairs[1]) for count in pairs)


def group_by_label_batches(
    groups: list[np.ndarray], batch_size: int, drop_remainder: bool, rng: np.random.Generator
) -> list[np.ndarray]:
    """Label-grouped batches, as sentence-transformers' GroupByLabelBatchSampler builds them.

    Each label's rows are shuffled and cut to an even count; then, round after round, every label
    still holding rows gives its next two, the labels in a fresh random order each round (a round
    never starts with the label that ended the previous one, so two consecutive pairs never share
    a label); the rounds stop when fewer than two labels are left. The stream is cut into batches
    of `batch_size` (even, so whole pairs): each holds >= 2 rows of each of its labels and >= 2
    labels. A last incomplete batch is kept (unless `drop_remainder`) when it has >= 4 rows.

    Example:
        >>> groups = [np.array([0, 1, 2, 3]), np.array([4, 5])]
        >>> batches = group_by_label_batches(groups, 4, False, np.random.default_rng(0))
        >>> [sorted(batch.tolist())[2:] for batch in batches]  # one round: then label 1 is spent
        [[4, 5]]
    """
    queues = [deque(group[rng.permutation(len(group))][: len(group) // 2 * 2]) for group in groups]
    remaining = list(range(len(queues)))
    stream: list[int] = []
    last = None
    while len(remaining) >= 2:
        remaining = [remaining[i] for i in rng.permutation(len(remaining))]
        if stream and remaining[0] == last:
            remaining[0], remaining[1] = remaining[1], remaining[0]
        for label in remaining:
            stream += [queues[label].popleft(), queues[label].popleft()]
        last = remaining[-1]
        remaining = [label for label in remaining if queues[label]]
    batches = [
        np.array(stream[start : start + batch_size], dtype=np.int64)
        for start in range(0, len(stream), batch_size)
    ]
    if batches and (drop_remainder or len(batches[-1]) < 4) and len(batches[-1]) < batch_size:
        batches.pop()
    return batches
