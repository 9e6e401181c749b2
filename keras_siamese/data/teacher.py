"""Teacher targets for the distillation losses, computed once at data-preparation time:
`with_teacher_embeddings` (for `MSELoss`) and `with_teacher_scores` (for `MarginMSELoss` and
`DistillKLDivLoss`). The teacher is any encoder with sentence-transformers' `encode(texts,
batch_size=..., show_progress_bar=...)` (a `SentenceEncoder`, or a `SentenceTransformer`); for
scores it may instead be a function scoring (query, document) pairs, e.g. a cross-encoder's."""

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from keras_siamese import similarity as metrics
from keras_siamese.data.examples import Examples


class Encoder(Protocol):
    def encode(self, texts: list[str], batch_size: int = ..., show_progress_bar=...): ...


PairScorer = Callable[[list[str], list[str]], Sequence[float] | np.ndarray]


def _encode(teacher: Encoder, texts: list[str], batch_size: int, progress: bool | None):
    """The teacher's embeddings of `texts`, each distinct text encoded once."""
    distinct = list(dict.fromkeys(texts))
    vectors = np.asarray(
        teacher.encode(distinct, batch_size=batch_size, show_progress_bar=progress),
        dtype=np.float32,
    )
    if vectors.ndim != 2 or len(vectors) != len(distinct):
        raise ValueError(
            f"the teacher's encode gave shape {vectors.shape} for {len(distinct)} texts; "
            "expected one vector per text"
        )
    row = {text: i for i, text in enumerate(distinct)}
    return vectors[[row[text] for text in texts]]


def _roles(examples: Examples, roles: Sequence[str]) -> list[str]:
    missing = [role for role in roles if role not in examples.columns]
    if missing:
        raise ValueError(f"no column {missing[0]!r}: the examples have {examples.roles}")
    return list(roles)


def with_teacher_embeddings(
    examples: Examples,
    teacher: Encoder,
    column: str | Sequence[str] | None = None,
    batch_size: int = 32,
    show_progress_bar: bool | None = None,
) -> Examples:
    """`examples` labelled with the teacher's embeddings of `column`, `[rows, D]` float32, the
    labels of `MSELoss` (the default `column` is the first; a sequence of columns gives
    `[rows, n, D]`, one target per column). Every distinct text is encoded once. With
    `column=examples.roles` they are the guide embeddings of `GISTEmbedLoss`.

    Multilingual distillation, as sentence-transformers' recipe: the teacher embeds the English
    sentences, and the student learns to map both them and their translations there.

    Example:
        >>> parallel = Examples({"english": ["a man"], "german": ["ein mann"]})
        >>> labelled = with_teacher_embeddings(parallel, tiny_encoder, "english")
        >>> labelled.roles, labelled.labels.shape
        (('english', 'german'), (1, 16))
        >>> pairs = Examples({"anchor": ["a man"], "positive": ["a guy"]})
        >>> with_teacher_embeddings(pairs, tiny_encoder, pairs.roles).labels.shape  # a guide's
        (1, 2, 16)
    """
    if column is None or isinstance(column, str):
        (role,) = _roles(examples, [column or examples.roles[0]])
        labels = _encode(teacher, examples.columns[role], batch_size, show_progress_bar)
    else:
        roles = _roles(examples, column)
        texts = [text for role in roles for text in examples.columns[role]]
        vectors = _encode(teacher, texts, batch_size, show_progress_bar)
        labels = vectors.reshape(len(roles), len(examples), -1).transpose(1, 0, 2)
    return Examples(examples.columns, labels)


def with_teacher_scores(
    examples: Examples,
    teacher: Encoder | PairScorer,
    query: str | None = None,
    candidates: Sequence[str] | None = None,
    similarity: str = "cosine",
    margins: bool = False,
    batch_size: int = 32,
    show_progress_bar: bool | None = None,
) -> Examples:
    """`examples` labelled with the teacher's score of each (query, candidate) pair, `[rows, n]`
    float32 (the candidates in order: positive first), the labels of `DistillKLDivLoss` and
    `MarginMSELoss`; with `margins`, the positive's score minus each other's, `[rows, n - 1]`.

    `query` defaults to the first column and `candidates` to the others. An encoder teacher
    embeds every distinct text once and scores with `similarity` (a name of
    `keras_siamese.similarity.SIMILARITIES`; cosine, as most sentence-transformers models'
    `similarity_pairwise`); a callable teacher is given the queries and the candidates of one
    column (two lists of strings) and returns their scores, e.g. a cross-encoder's.

    Example:
        >>> texts = {"anchor": ["a man"], "positive": ["a guy"], "negative_1": ["a cat"]}
        >>> triplets = Examples(texts)
        >>> def overlap(queries, documents):  # a toy pair scorer: shared words
        ...     return [len(set(q.split()) & set(d.split())) for q, d in zip(queries, documents)]
        >>> with_teacher_scores(triplets, overlap).labels.tolist()
        [[1.0, 1.0]]
        >>> with_teacher_scores(triplets, overlap, margins=True).labels.tolist()
        [[0.0]]
    """
    query = query or examples.roles[0]
    if candidates is None:
        candidates = [role for role in examples.roles if role != query]
    (query,), candidates = _roles(examples, [query]), _roles(examples, candidates)
    if not candidates:
        raise ValueError(
            "with_teacher_scores needs at least one candidate column besides the query"
        )
    queries = examples.columns[query]
    if hasattr(teacher, "encode"):
        score = metrics.similarity(similarity).rowwise
        texts = queries + [text for role in candidates for text in examples.columns[role]]
        vectors = _encode(teacher, texts, batch_size, show_progress_bar)
        vectors = vectors.reshape(1 + len(candidates), len(examples), -1)
        scores = np.stack([score(vectors[0], other, xp=np) for other in vectors[1:]], axis=1)
    elif callable(teacher):
        scores = np.stack(
            [
                np.asarray(teacher(queries, examples.columns[role]), dtype=np.float64).reshape(-1)
                for role in candidates
            ],
            axis=1,
        )
    else:
        raise TypeError(
            f"the teacher must have an encode method or score pairs, got {type(teacher).__name__}"
        )
    if scores.shape != (len(examples), len(candidates)):
        raise ValueError(f"the teacher gave scores of shape {scores.shape}, expected one per pair")
    if margins:
        scores = scores[:, :1] - scores[:, 1:]
    return Examples(examples.columns, scores.astype(np.float32))
