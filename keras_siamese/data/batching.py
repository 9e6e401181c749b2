"""`BatchPlan`: the rows of each batch of each epoch (shuffled, length-bucketed, deduplicated)."""

import itertools

import numpy as np

from keras_siamese.data.examples import Examples

BUCKET_BATCHES = 50


class BatchPlan:
    """The row indices of every batch of an epoch, reproducible from `(seed, epoch)`.

    - `shuffle`: a fresh permutation each epoch (else the rows keep their order).
    - `length_bucketing`: rows are sorted by text length within chunks of `BUCKET_BATCHES`
      batches, so batches hold texts of similar length and pad little; the batches are then
      shuffled (when `shuffle`). Defaults to `shuffle`, so unshuffled data keeps its order.
    - `no_duplicates`: like sentence-transformers' NoDuplicatesBatchSampler, a row joins a batch
      only when none of its texts already appears in any column of that batch; rows that clash
      wait for a later batch. Needed when other rows of a batch serve as negatives.
    - `drop_remainder`: drop incomplete batches (with `no_duplicates`, every incomplete one).

    Example:
        >>> plan = BatchPlan(Examples({"text": ["a", "b", "c"]}), batch_size=2, shuffle=False)
        >>> [batch.tolist() for batch in plan.batches(epoch=0)]
        [[0, 1], [2]]
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
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        if drop_remainder and len(examples) < batch_size:
            raise ValueError(f"{len(examples)} rows make no full batch of {batch_size}")
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = int(np.random.SeedSequence().entropy) if seed is None else seed
        self.drop_remainder = drop_remainder
        self.length_bucketing = shuffle if length_bucketing is None else length_bucketing
        columns = list(examples.columns.values())
        self._lengths = np.sum([[len(text) for text in texts] for texts in columns], axis=0)
        self._row_texts = list(zip(*columns, strict=True)) if no_duplicates else None

    @property
    def num_batches(self) -> int | None:
        """Batches per epoch; None with `no_duplicates`, where it depends on the shuffle."""
        if self._row_texts is not None:
            return None
        rows = len(self._lengths)
        return rows // self.batch_size if self.drop_remainder else -(-rows // self.batch_size)

    def batches(self, epoch: int) -> list[np.ndarray]:
        """The batches (arrays of row indices) of epoch `epoch`."""
        rng = np.random.default_rng([self.seed, epoch])
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
