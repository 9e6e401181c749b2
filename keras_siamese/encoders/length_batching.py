"""Embedding many inputs in batches of similar length, so each batch pads little."""

from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np

from keras_siamese.progress import Progress

Item = TypeVar("Item", str, np.ndarray)


def embed_by_length(
    items: Sequence[Item],
    embed_batch: Callable[[list[Item]], np.ndarray],
    embedding_dim: int,
    batch_size: int = 32,
    show_progress_bar: bool | None = None,
) -> np.ndarray:
    """``embed_batch`` over batches of items (texts, or token ids: then each batch pads to
    almost nothing) sorted by length, longest first; the rows come back in input order.

    Progress (``keras_siamese.progress``, one bar or plain lines in a log) counts batches:
    ``show_progress_bar=None`` shows it once the work takes more than two seconds.

    >>> embed_by_length(["bb", "a", "ccc"], lambda b: np.array([[len(t)] for t in b]), 1, 2)
    array([[2.],
           [1.],
           [3.]], dtype=float32)
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}.")
    order = np.argsort([-len(item) for item in items], kind="stable")
    starts = range(0, len(items), batch_size)
    embeddings = np.empty((len(items), embedding_dim), dtype=np.float32)
    with Progress(len(starts), "Batches", "batches", show=show_progress_bar) as bar:
        for start in starts:
            index = order[start : start + batch_size]
            embeddings[index] = embed_batch([items[i] for i in index])
            bar.update()
    return embeddings
