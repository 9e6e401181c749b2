"""Similarity of embeddings, defined as sentence-transformers does (distances are negated)."""

from typing import Literal

import numpy as np

SimilarityName = Literal["cosine", "euclidean", "manhattan", "dot"]
SIMILARITIES: tuple[SimilarityName, ...] = ("cosine", "euclidean", "manhattan", "dot")


def normalize(embeddings: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (rows of zeros stay zero)."""
    norms = np.linalg.norm(embeddings, axis=-1, keepdims=True)
    return embeddings / np.maximum(norms, 1e-12)


def pairwise_similarity(a: np.ndarray, b: np.ndarray, name: SimilarityName) -> np.ndarray:
    """Similarity of each row of `a` with the same row of `b`: [N, D] x [N, D] -> [N].

    Example:
        >>> pairwise_similarity(np.array([[3.0, 4.0]]), np.array([[0.0, 0.0]]), "euclidean")
        array([-5.])
    """
    if name == "cosine":
        return np.sum(normalize(a) * normalize(b), axis=-1)
    if name == "euclidean":
        return -np.linalg.norm(a - b, axis=-1)
    if name == "manhattan":
        return -np.sum(np.abs(a - b), axis=-1)
    if name == "dot":
        return np.sum(a * b, axis=-1)
    raise ValueError(f"unknown similarity {name!r}; expected one of {SIMILARITIES}")


def cosine_similarity_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of every row of `a` with every row of `b`: [N, D] x [M, D] -> [N, M]."""
    return normalize(a) @ normalize(b).T
