"""Semantic search: the nearest corpus embeddings of each query by cosine similarity."""

import numpy as np

from keras_siamese.similarity import l2_normalize


def _as_matrix(embeddings: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(embeddings, dtype=np.float32)
    if array.ndim == 1:
        array = array[np.newaxis]
    if array.ndim != 2:
        raise ValueError(f"{name} must be [n, dim], got shape {array.shape}.")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinite values.")
    return l2_normalize(array, xp=np)


def semantic_search(
    query_embeddings: np.ndarray,
    corpus_embeddings: np.ndarray,
    top_k: int = 10,
    query_chunk_size: int = 100,
    corpus_chunk_size: int = 100_000,
) -> list[list[dict[str, float | int]]]:
    """For each query, the ``top_k`` corpus entries by cosine similarity, best first.

    Works in chunks of queries x corpus so memory stays bounded by
    ``query_chunk_size * corpus_chunk_size`` scores. Returns, as sentence-transformers does, one
    list per query of ``{"corpus_id": int, "score": float}``.

    >>> corpus = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> [hit["corpus_id"] for hit in semantic_search(np.array([[1.0, 0.1]]), corpus, top_k=2)[0]]
    [0, 2]
    """
    queries = _as_matrix(query_embeddings, "query_embeddings")
    corpus = _as_matrix(corpus_embeddings, "corpus_embeddings")
    if queries.shape[1] != corpus.shape[1]:
        raise ValueError(
            f"Embedding sizes differ: queries have {queries.shape[1]}, corpus {corpus.shape[1]}."
        )
    if top_k < 1:
        raise ValueError(f"top_k must be positive, got {top_k}.")
    top_k = min(top_k, len(corpus))
    results: list[list[dict[str, float | int]]] = []
    for q_start in range(0, len(queries), query_chunk_size):
        q_chunk = queries[q_start : q_start + query_chunk_size]
        best_scores, best_ids = empty_top_k(len(q_chunk))
        for c_start in range(0, len(corpus), corpus_chunk_size):
            scores = q_chunk @ corpus[c_start : c_start + corpus_chunk_size].T
            best_scores, best_ids = merge_top_k(best_scores, best_ids, scores, c_start, top_k)
        results.extend(
            [{"corpus_id": int(i), "score": float(s)} for i, s in zip(ids_row, row, strict=True)]
            for ids_row, row in zip(best_ids, best_scores, strict=True)
        )
    return results


def empty_top_k(rows: int) -> tuple[np.ndarray, np.ndarray]:
    """A running top-k for ``rows`` queries before any chunk: no scores, no ids."""
    return np.full((rows, 0), -np.inf, dtype=np.float32), np.zeros((rows, 0), dtype=np.int64)


def merge_top_k(
    best_scores: np.ndarray, best_ids: np.ndarray, scores: np.ndarray, offset: int, top_k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The running top-k of each row, updated with one chunk of ``scores`` whose column ``j`` is
    corpus id ``offset + j``: (scores, ids), best first, equal scores by lower id.

    Chunks may come in any order and any size: the result is that of one pass over all columns
    (up to which of several equal scores at the ``top_k``-th place is kept), so an exact search
    over a corpus too large for memory goes one chunk at a time.

    >>> best = empty_top_k(1)
    >>> best = merge_top_k(*best, np.array([[0.1, 0.9]]), 0, 2)
    >>> best = merge_top_k(*best, np.array([[0.5]]), 2, 2)
    >>> best[1].tolist()
    [[1, 2]]
    """
    k = min(top_k, scores.shape[1])
    if k < 1:
        return best_scores, best_ids
    ids = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    all_scores = np.concatenate([best_scores, np.take_along_axis(scores, ids, 1)], 1)
    all_ids = np.concatenate([best_ids, ids + offset], 1)
    keep = np.lexsort((all_ids, -all_scores), axis=1)[:, :top_k]
    return np.take_along_axis(all_scores, keep, 1), np.take_along_axis(all_ids, keep, 1)
