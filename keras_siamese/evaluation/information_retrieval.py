"""`InformationRetrievalEvaluator`: how well queries retrieve their relevant documents by cosine."""

from collections.abc import Collection, Mapping, Sequence

import numpy as np

from keras_siamese.data.examples import Examples
from keras_siamese.evaluation.evaluator import Encoder, Evaluator
from keras_siamese.similarity import cosine_similarity_matrix

_SCORES_PER_CHUNK = 1 << 22  # query x document similarities computed at once


class InformationRetrievalEvaluator(Evaluator):
    """Ranking metrics of the corpus documents sorted by cosine similarity to each query, as
    sentence-transformers' InformationRetrievalEvaluator computes them (ties are ranked by
    ascending document id; queries without relevant documents are left out; fractions in [0, 1]):
    `{name}_cosine_accuracy@k`, `_precision@k`, `_recall@k`, `_ndcg@k`, `_mrr@k`, `_map@k`.

    Example:
        >>> ir = InformationRetrievalEvaluator(
        ...     queries={"q1": "What do cats eat?"},
        ...     corpus={"d1": "Cats eat fish.", "d2": "Paris is in France."},
        ...     relevant_docs={"q1": {"d1"}}, name="ir")
        >>> round(ir(tiny_encoder)["ir_cosine_ndcg@10"], 2)  # a random encoder: d1 ranks second
        0.63
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
    ) -> None:
        super().__init__(name, encoder, batch_size, every_n_steps)
        query_ids = [query_id for query_id in queries if relevant_docs.get(query_id)]
        if not query_ids:
            raise ValueError("no query has relevant documents")
        texts = Examples({"query": [queries[query_id] for query_id in query_ids]})
        self.query_texts = texts.columns["query"]
        self.relevant = [set(relevant_docs[query_id]) for query_id in query_ids]
        self._relevant_counts = np.array([len(relevant) for relevant in self.relevant])
        self.corpus_ids = list(corpus)
        self.corpus_texts = Examples({"document": list(corpus.values())}).columns["document"]
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
        self.primary = f"cosine_ndcg@{max(ndcg_at_k)}"

    def compute(self, encoder: Encoder) -> dict[str, float]:
        queries, documents = self.embed(encoder, self.query_texts, self.corpus_texts)
        hits = self._hits(queries, documents)
        return {
            f"cosine_{metric}@{k}": _METRICS[metric](hits[:, :k], self._relevant_counts, k)
            for metric, cutoffs in self.cutoffs.items()
            for k in cutoffs
        }

    def _hits(self, queries: np.ndarray, documents: np.ndarray) -> np.ndarray:
        """Whether the i-th ranked document of each query is relevant: bool [queries, max k]."""
        depth = max(k for cutoffs in self.cutoffs.values() for k in cutoffs)
        hits = np.zeros((len(queries), depth), bool)
        kth = min(depth, len(documents))
        chunk = max(1, _SCORES_PER_CHUNK // len(documents))
        for start in range(0, len(queries), chunk):
            scores = cosine_similarity_matrix(queries[start : start + chunk], documents, xp=np)
            # Only documents scoring at least the kth best (ties included) can rank in the top k.
            cutoffs = np.partition(scores, -kth, axis=1)[:, -kth]
            for row, (query_scores, cutoff) in enumerate(zip(scores, cutoffs, strict=True), start):
                candidates = np.flatnonzero(query_scores >= cutoff)
                order = np.lexsort((self._id_ranks[candidates], -query_scores[candidates]))
                ranked = [self.corpus_ids[document] for document in candidates[order[:depth]]]
                hits[row, : len(ranked)] = [document in self.relevant[row] for document in ranked]
        return hits


def _accuracy(hits: np.ndarray, relevant: np.ndarray, k: int) -> float:
    return float(np.mean(hits.any(axis=1)))


def _precision(hits: np.ndarray, relevant: np.ndarray, k: int) -> float:
    return float(np.mean(hits.sum(axis=1) / k))


def _recall(hits: np.ndarray, relevant: np.ndarray, k: int) -> float:
    return float(np.mean(hits.sum(axis=1) / relevant))


def _ndcg(hits: np.ndarray, relevant: np.ndarray, k: int) -> float:
    discounts = 1.0 / np.log2(np.arange(k) + 2.0)
    ideal = np.cumsum(discounts)[np.minimum(relevant, k) - 1]
    return float(np.mean(hits @ discounts / ideal))


def _mrr(hits: np.ndarray, relevant: np.ndarray, k: int) -> float:
    first = np.argmax(hits, axis=1)
    return float(np.mean(np.where(hits.any(axis=1), 1.0 / (first + 1), 0.0)))


def _map(hits: np.ndarray, relevant: np.ndarray, k: int) -> float:
    precision_at_hits = hits * np.cumsum(hits, axis=1) / np.arange(1, k + 1)
    return float(np.mean(precision_at_hits.sum(axis=1) / np.minimum(relevant, k)))


_METRICS = {
    "accuracy": _accuracy,
    "precision": _precision,
    "recall": _recall,
    "ndcg": _ndcg,
    "mrr": _mrr,
    "map": _map,
}
