"""`InformationRetrievalEvaluator`: how well queries retrieve their relevant documents."""

from collections.abc import Callable, Collection, Mapping, Sequence

import numpy as np

from keras_siamese.data.examples import Examples
from keras_siamese.evaluation.evaluator import Encoder, Evaluator
from keras_siamese.similarity import SIMILARITIES

ScoreFunction = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""Scores of every (query, document) pair: float [queries, documents], higher = more relevant."""

_SCORES_PER_CHUNK = 1 << 22  # query x document scores computed at once


class InformationRetrievalEvaluator(Evaluator):
    """Ranking metrics of the corpus documents sorted by score against each query, as
    sentence-transformers' InformationRetrievalEvaluator computes them (ties are ranked by
    ascending document id; queries without relevant documents are left out; fractions in [0, 1]):
    `{name}_{score}_accuracy@k`, `_precision@k`, `_recall@k`, `_ndcg@k`, `_mrr@k` and `_map@k`
    for each score function (`cosine`, `dot`, `euclidean`, `manhattan`, or named callables).

    The primary metric is `{main_score_function}_ndcg@{max(ndcg_at_k)}`, fixed when the
    evaluator is made so that callbacks can monitor it (sentence-transformers picks the best
    score function at the first evaluation when there are several and none is named; here
    `main_score_function` defaults to the first). The corpus is embedded and scored
    `corpus_chunk_size` documents at a time, keeping each query's best documents, so a big
    corpus never needs its embeddings, or all its scores, in memory at once.

    Example:
        >>> ir = InformationRetrievalEvaluator(
        ...     queries={"q1": "What do cats eat?"},
        ...     corpus={"d1": "Cats eat fish.", "d2": "Paris is in France."},
        ...     relevant_docs={"q1": {"d1"}}, name="ir", score_functions=("cosine", "dot"))
        >>> metrics = ir(tiny_encoder)
        >>> round(metrics["ir_cosine_ndcg@10"], 2), ir.primary_metric  # random: d1 ranks second
        (0.63, 'ir_cosine_ndcg@10')
        >>> sorted(metrics)[:2]
        ['ir_cosine_accuracy@1', 'ir_cosine_accuracy@10']
    """

    def __init__(
        self,
        queries: Mapping[str, str],
        corpus: Mapping[str, str],
        relevant_docs: Mapping[str, Collection[str]],
        name: str = "ir",
        encoder: Encoder | None = None,
        batch_size: int = 32,
        every_n_steps: int | None = None,
        accuracy_at_k: Sequence[int] = (1, 3, 5, 10),
        precision_recall_at_k: Sequence[int] = (1, 3, 5, 10),
        mrr_at_k: Sequence[int] = (10,),
        ndcg_at_k: Sequence[int] = (10,),
        map_at_k: Sequence[int] = (100,),
        score_functions: Sequence[str] | Mapping[str, ScoreFunction] = ("cosine",),
        main_score_function: str | None = None,
        corpus_chunk_size: int = 50_000,
    ) -> None:
        super().__init__(name, encoder, batch_size, every_n_steps)
        query_ids = [query_id for query_id in queries if relevant_docs.get(query_id)]
        if not query_ids:
            raise ValueError("no query has relevant documents")
        if not corpus:
            raise ValueError("the corpus has no documents")
        if corpus_chunk_size < 1:
            raise ValueError(f"corpus_chunk_size must be positive, got {corpus_chunk_size}")
        self.query_ids = query_ids
        self.query_texts = Examples({"query": [queries[i] for i in query_ids]}).columns["query"]
        self.corpus_ids = list(corpus)
        self.corpus_texts = Examples({"document": list(corpus.values())}).columns["document"]
        self.corpus_chunk_size = corpus_chunk_size
        position = {document: row for row, document in enumerate(self.corpus_ids)}
        self.relevant = [set(relevant_docs[query_id]) for query_id in query_ids]
        # Relevant documents missing from the corpus still count in recall, nDCG and MAP.
        self._relevant_rows = [
            {position[document] for document in documents if document in position}
            for documents in self.relevant
        ]
        self._relevant_counts = np.array([len(relevant) for relevant in self.relevant])
        order = sorted(range(len(self.corpus_ids)), key=self.corpus_ids.__getitem__)
        self._id_ranks = np.empty(len(order), np.int64)
        self._id_ranks[order] = np.arange(len(order))
        self.cutoffs = {
            "accuracy": tuple(accuracy_at_k),
            "precision": tuple(precision_recall_at_k),
            "recall": tuple(precision_recall_at_k),
            "ndcg": tuple(ndcg_at_k),
            "mrr": tuple(mrr_at_k),
            "map": tuple(map_at_k),
        }
        if any(not cutoffs for cutoffs in self.cutoffs.values()):
            raise ValueError("every metric needs at least one k")
        if any(k < 1 for cutoffs in self.cutoffs.values() for k in cutoffs):
            raise ValueError("every k must be positive")
        self.score_functions = _score_functions(score_functions)
        main = main_score_function or next(iter(self.score_functions))
        if main not in self.score_functions:
            raise ValueError(
                f"main_score_function {main!r} is not one of the score functions "
                f"{list(self.score_functions)}"
            )
        self.main_score_function = main
        self.primary = f"{main}_ndcg@{max(ndcg_at_k)}"

    def compute(self, encoder: Encoder) -> dict[str, float]:
        (queries,) = self.embed(encoder, self.query_texts, kind="query")
        ranked = self.rank(encoder, queries)
        metrics = {}
        for score, top in ranked.items():
            hits = np.zeros(top.shape, bool)
            for row, (documents, relevant) in enumerate(zip(top, self._relevant_rows, strict=True)):
                hits[row] = [document in relevant for document in documents.tolist()]
            for metric, cutoffs in self.cutoffs.items():
                for k in cutoffs:
                    value = _METRICS[metric](hits[:, :k], self._relevant_counts, k)
                    metrics[f"{score}_{metric}@{k}"] = value
        return metrics

    def rank(self, encoder: Encoder, queries: np.ndarray) -> dict[str, np.ndarray]:
        """The corpus rows of each query's best documents, best first, by score function: int
        [queries, max k] (-1 past the end of a corpus smaller than k)."""
        depth = max(k for cutoffs in self.cutoffs.values() for k in cutoffs)
        size = len(self.corpus_ids)
        best = {
            score: (np.full((len(queries), 0), -np.inf), np.full((len(queries), 0), -1))
            for score in self.score_functions
        }
        for start in range(0, size, self.corpus_chunk_size):
            texts = self.corpus_texts[start : start + self.corpus_chunk_size]
            (documents,) = self.embed(encoder, texts, kind="document")
            rows = max(1, _SCORES_PER_CHUNK // len(documents))
            for score, function in self.score_functions.items():
                chunk_best = [
                    self._top(
                        _scores(function, queries[first : first + rows], documents), start, depth
                    )
                    for first in range(0, len(queries), rows)
                ]
                new_scores = np.concatenate([s for s, _ in chunk_best], axis=0)
                new_rows = np.concatenate([r for _, r in chunk_best], axis=0)
                best[score] = self._merge(best[score], (new_scores, new_rows), depth)
        ranked = {}
        for score, (_, top) in best.items():
            padded = np.full((len(queries), depth), -1)
            padded[:, : top.shape[1]] = top
            ranked[score] = padded
        return ranked

    def _top(self, scores: np.ndarray, start: int, depth: int) -> tuple[np.ndarray, np.ndarray]:
        """The best `depth` documents of each row of `scores` (a chunk of the corpus from row
        `start`) under the order (-score, document id): (scores, corpus rows), unsorted."""
        scores = np.asarray(scores)
        k = min(depth, scores.shape[1])
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        top_scores = np.take_along_axis(scores, top, axis=1)
        cutoff = top_scores.min(axis=1, keepdims=True)
        # Where scores tie at the cutoff, argpartition picked among them at random: choose by id.
        for row in np.flatnonzero((scores >= cutoff).sum(axis=1) > k):
            candidates = np.flatnonzero(scores[row] >= cutoff[row])
            ids = self._id_ranks[start + candidates]
            top[row] = candidates[np.lexsort((ids, -scores[row, candidates]))[:k]]
            top_scores[row] = scores[row, top[row]]
        return top_scores, top + start

    def _merge(
        self,
        first: tuple[np.ndarray, np.ndarray],
        second: tuple[np.ndarray, np.ndarray],
        depth: int,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The best `depth` of two candidate sets, sorted by (-score, document id)."""
        scores = np.concatenate([first[0], second[0]], axis=1)
        rows = np.concatenate([first[1], second[1]], axis=1)
        ids = np.where(rows >= 0, self._id_ranks[np.maximum(rows, 0)], len(self._id_ranks))
        order = np.lexsort((ids, -scores), axis=-1)[:, :depth]
        return np.take_along_axis(scores, order, axis=1), np.take_along_axis(rows, order, axis=1)


def _scores(function: ScoreFunction, queries: np.ndarray, documents: np.ndarray) -> np.ndarray:
    """Float32 scores computed in float64: equal embeddings score exactly alike whatever the
    chunk they fall in (float32 matrix products round differently for different shapes)."""
    scores = function(queries.astype(np.float64), documents.astype(np.float64))
    return np.asarray(scores).astype(np.float32)


def _score_functions(
    score_functions: Sequence[str] | Mapping[str, ScoreFunction],
) -> dict[str, ScoreFunction]:
    if isinstance(score_functions, Mapping):
        functions = dict(score_functions)
    elif isinstance(score_functions, str):
        raise ValueError(f"score_functions is a list of names, got the string {score_functions!r}")
    else:
        unknown = [name for name in score_functions if name not in SIMILARITIES]
        if unknown:
            choices = list(SIMILARITIES)
            raise ValueError(f"unknown score function(s) {unknown}; choose from {choices}")
        functions = {name: _numpy_matrix(SIMILARITIES[name].matrix) for name in score_functions}
    if not functions:
        raise ValueError("give at least one score function")
    return functions


def _numpy_matrix(matrix: Callable) -> ScoreFunction:
    return lambda a, b: np.asarray(matrix(a, b, xp=np))


def _accuracy(hits: np.ndarray, relevant: np.ndarray, k: int) -> float:
    return float(np.mean(hits.any(axis=1)))


def _precision(hits: np.ndarray, relevant: np.ndarray, k: int) -> float:
    return float(np.mean(hits.sum(axis=1) / k))


def _recall(hits: np.ndarray, relevant: np.ndarray, k: int) -> float:
    return float(np.mean(hits.sum(axis=1) / relevant))


def _ndcg(hits: np.ndarray, relevant: np.ndarray, k: int) -> float:
    discounts = 1.0 / np.log2(np.arange(k) + 2.0)
    ideal = np.cumsum(discounts)[np.minimum(relevant, k) - 1]
    return float(np.mean(hits @ discounts[: hits.shape[1]] / ideal))


def _mrr(hits: np.ndarray, relevant: np.ndarray, k: int) -> float:
    first = np.argmax(hits, axis=1)
    return float(np.mean(np.where(hits.any(axis=1), 1.0 / (first + 1), 0.0)))


def _map(hits: np.ndarray, relevant: np.ndarray, k: int) -> float:
    precision_at_hits = hits * np.cumsum(hits, axis=1) / np.arange(1, hits.shape[1] + 1)
    return float(np.mean(precision_at_hits.sum(axis=1) / np.minimum(relevant, k)))


_METRICS = {
    "accuracy": _accuracy,
    "precision": _precision,
    "recall": _recall,
    "ndcg": _ndcg,
    "mrr": _mrr,
    "map": _map,
}
