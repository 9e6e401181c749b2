"""`RerankingEvaluator`: how well each query's candidate documents are ordered by similarity."""

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from keras_siamese.evaluation.binary_classification import average_precision
from keras_siamese.evaluation.evaluator import Encoder, Evaluator
from keras_siamese.similarity import SIMILARITIES


class RerankingEvaluator(Evaluator):
    """Mean average precision, MRR@k and nDCG@k of each query's positive and negative documents
    ranked by similarity, as sentence-transformers' RerankingEvaluator computes them (tied scores
    share their gain, as scikit-learn's `ndcg_score` and `average_precision_score` do; MRR takes
    tied documents in their given order, positives first):
    `{name}_map`, `{name}_mrr@{at_k}` and `{name}_ndcg@{at_k}` (the primary metric).

    `samples` are mappings with a `query` text and `positive` and `negative` texts (one text
    or a list); samples without a positive or without a negative are left out. Queries are
    encoded with the encoder's `encode_query` and documents with `encode_document` where it
    has them. `similarity` is a name of `keras_siamese.similarity.SIMILARITIES`.

    Example:
        >>> samples = [{"query": "What do cats eat?", "positive": ["Cats eat fish."],
        ...             "negative": ["Paris is in France.", "Dogs bark."]}]
        >>> rerank = RerankingEvaluator(samples, name="rerank", at_k=10)
        >>> sorted(rerank(tiny_encoder)), rerank.primary_metric
        (['rerank_map', 'rerank_mrr@10', 'rerank_ndcg@10'], 'rerank_ndcg@10')
    """

    def __init__(
        self,
        samples: Iterable[Mapping[str, str | Sequence[str]]],
        name: str = "reranking",
        encoder: Encoder | None = None,
        batch_size: int = 32,
        every_n_steps: int | None = None,
        at_k: int = 10,
        similarity: str = "cosine",
    ) -> None:
        super().__init__(name, encoder, batch_size, every_n_steps)
        if at_k < 1:
            raise ValueError(f"at_k must be positive, got {at_k}")
        if similarity not in SIMILARITIES:
            raise ValueError(f"unknown similarity {similarity!r}; choose from {list(SIMILARITIES)}")
        self.at_k, self.similarity = at_k, similarity
        self.samples = []
        for number, sample in enumerate(samples):
            missing = {"query", "positive", "negative"} - set(sample)
            if missing:
                raise ValueError(f"sample {number} lacks {sorted(missing)}")
            texts = {key: _texts(sample[key]) for key in ("positive", "negative")}
            if texts["positive"] and texts["negative"]:
                self.samples.append({"query": sample["query"], **texts})
        if not self.samples:
            raise ValueError("no sample has both a positive and a negative document")
        self.primary = f"ndcg@{at_k}"

    def compute(self, encoder: Encoder) -> dict[str, float]:
        (queries,) = self.embed(encoder, [sample["query"] for sample in self.samples], kind="query")
        documents = [text for s in self.samples for text in s["positive"] + s["negative"]]
        (documents,) = self.embed(encoder, documents, kind="document")
        score = SIMILARITIES[self.similarity].matrix
        mrr, ndcg, ap, start = [], [], [], 0
        for query, sample in zip(queries, self.samples, strict=True):
            positives, count = len(sample["positive"]), len(sample["positive"] + sample["negative"])
            candidates = documents[start : start + count].astype(np.float64)
            # In float64, then float32: equal documents tie exactly (float32 products may not).
            scores = np.asarray(score(query[None].astype(np.float64), candidates, xp=np))[0]
            scores = scores.astype(np.float32)
            start += count
            relevant = np.arange(count) < positives
            ranked = relevant[np.argsort(-scores, kind="stable")][: self.at_k]
            mrr.append(1.0 / (np.argmax(ranked) + 1) if ranked.any() else 0.0)
            ndcg.append(tie_averaged_ndcg(scores, relevant, self.at_k))
            ap.append(average_precision(scores, relevant.astype(np.int64)))
        return {"map": np.mean(ap), f"mrr@{self.at_k}": np.mean(mrr), self.primary: np.mean(ndcg)}


def tie_averaged_ndcg(scores: np.ndarray, relevant: np.ndarray, k: int) -> float:
    """nDCG@k of binary relevances ranked by score, tied scores sharing their gain (as
    scikit-learn's `ndcg_score`).

    Example:
        >>> tie_averaged_ndcg(np.array([0.9, 0.5, 0.5]), np.array([False, True, False]), k=3)
        0.5...
    """
    discounts = 1.0 / np.log2(np.arange(len(scores)) + 2.0)
    discounts[k:] = 0.0
    cumulative = np.cumsum(discounts)
    _, groups, counts = np.unique(-scores, return_inverse=True, return_counts=True)
    gains = np.bincount(groups.ravel(), weights=relevant.astype(np.float64)) / counts
    group_discounts = np.diff(cumulative[np.cumsum(counts) - 1], prepend=0.0)
    ideal = cumulative[min(int(relevant.sum()), len(scores)) - 1] if relevant.any() else 0.0
    return float(np.sum(gains * group_discounts) / ideal) if ideal else 0.0


def _texts(value: str | Sequence[str]) -> list[str]:
    texts = [value] if isinstance(value, str) else list(value)
    for text in texts:
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"documents must be non-empty texts, got {text!r}")
    return texts
