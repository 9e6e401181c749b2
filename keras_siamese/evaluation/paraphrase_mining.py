"""`ParaphraseMiningEvaluator`: how well the most similar pairs of a set of texts are its
paraphrases."""

from collections.abc import Iterable, Mapping

import numpy as np

from keras_siamese.data.examples import Examples
from keras_siamese.evaluation.evaluator import Encoder, Evaluator
from keras_siamese.similarity import cosine_similarity_matrix


class ParaphraseMiningEvaluator(Evaluator):
    """Mines the most similar pairs of `sentences` by cosine, as sentence-transformers'
    `paraphrase_mining` does (each text's `top_k` nearest others, at most `max_pairs` pairs, best
    first), and scores that ranking against the known paraphrase pairs, as its
    ParaphraseMiningEvaluator does: `{name}_average_precision` (the primary metric), and the
    best `_f1` with its `_precision`, `_recall` and cosine `_threshold` (fractions in [0, 1]).

    `duplicates` are pairs of ids of `sentences`; pairs naming an unknown id are left out (as
    sentence-transformers does). `add_transitive_closure` also counts every pair of texts linked
    through other paraphrases. Scores are computed `chunk_size` x `chunk_size` texts at a time.

    Example:
        >>> sentences = {"1": "How old are you?", "2": "What is your age?", "3": "Where is Rome?"}
        >>> mining = ParaphraseMiningEvaluator(sentences, [("1", "2")], name="quora")
        >>> sorted(mining(tiny_encoder))  # as a callback: model.fit(..., callbacks=[mining])
        ['quora_average_precision', 'quora_f1', 'quora_precision', 'quora_recall',
         'quora_threshold']
    """

    primary = "average_precision"

    def __init__(
        self,
        sentences: Mapping[str, str],
        duplicates: Iterable[tuple[str, str]],
        name: str = "paraphrase",
        encoder: Encoder | None = None,
        batch_size: int = 32,
        every_n_steps: int | None = None,
        add_transitive_closure: bool = False,
        top_k: int = 100,
        max_pairs: int = 500_000,
        chunk_size: int = 5000,
    ) -> None:
        super().__init__(name, encoder, batch_size, every_n_steps)
        if top_k < 1 or max_pairs < 1 or chunk_size < 1:
            raise ValueError("top_k, max_pairs and chunk_size must be positive")
        self.ids = list(sentences)
        self.texts = Examples({"text": list(sentences.values())}).columns["text"]
        if len(self.ids) < 2:
            raise ValueError("paraphrase mining needs at least two texts")
        self.top_k, self.max_pairs, self.chunk_size = top_k, max_pairs, chunk_size
        row = {sentence_id: position for position, sentence_id in enumerate(self.ids)}
        pairs = {
            (min(row[a], row[b]), max(row[a], row[b]))
            for a, b in duplicates
            if a in row and b in row and a != b
        }
        if add_transitive_closure:
            pairs = _transitive_closure(pairs, len(self.ids))
        self.duplicates = pairs

    def compute(self, encoder: Encoder) -> dict[str, float]:
        (embeddings,) = self.embed(encoder, self.texts)
        scores, first, second = mine_pairs(embeddings, self.top_k, self.max_pairs, self.chunk_size)
        pairs = zip(first.tolist(), second.tolist(), strict=True)
        correct = np.array([pair in self.duplicates for pair in pairs], bool)
        return ranking_metrics(scores, correct, len(self.duplicates))


def mine_pairs(
    embeddings: np.ndarray, top_k: int = 100, max_pairs: int = 500_000, chunk_size: int = 5000
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The most similar pairs (i < j) by cosine among each text's `top_k` nearest others, at most
    `max_pairs`, best first: (scores, i, j).

    Example:
        >>> vectors = np.array([[1, 0], [1, 0.1], [0, 1]], np.float32)
        >>> scores, first, second = mine_pairs(vectors, top_k=1)
        >>> first.tolist(), second.tolist()
        ([0, 1], [1, 2])
    """
    size = len(embeddings)
    k = min(top_k, size - 1)
    found_scores, found_first, found_second = [], [], []
    for start in range(0, size, chunk_size):
        queries = embeddings[start : start + chunk_size]
        best_scores = np.full((len(queries), 0), -np.inf, np.float32)
        best_rows = np.full((len(queries), 0), -1)
        for corpus_start in range(0, size, chunk_size):
            scores = cosine_similarity_matrix(
                queries, embeddings[corpus_start : corpus_start + chunk_size], xp=np
            ).astype(np.float32)
            rows = np.arange(len(queries)) + start - corpus_start
            inside = (rows >= 0) & (rows < scores.shape[1])
            scores[np.flatnonzero(inside), rows[inside]] = -np.inf  # a text is not its paraphrase
            take = min(k, scores.shape[1])
            top = np.argpartition(-scores, take - 1, axis=1)[:, :take]
            all_scores = np.concatenate([best_scores, np.take_along_axis(scores, top, 1)], 1)
            all_rows = np.concatenate([best_rows, top + corpus_start], axis=1)
            keep = np.argsort(-all_scores, axis=1, kind="stable")[:, :k]
            best_scores = np.take_along_axis(all_scores, keep, 1)
            best_rows = np.take_along_axis(all_rows, keep, 1)
        query_rows = np.repeat(np.arange(start, start + len(queries)), k)
        found_scores.append(best_scores.ravel())
        found_first.append(np.minimum(query_rows, best_rows.ravel()))
        found_second.append(np.maximum(query_rows, best_rows.ravel()))
    scores = np.concatenate(found_scores)
    first, second = np.concatenate(found_first), np.concatenate(found_second)
    # Each pair once (both of its texts may have found it), best first, at most max_pairs.
    _, unique = np.unique(first * size + second, return_index=True)
    order = unique[np.argsort(-scores[unique], kind="stable")][:max_pairs]
    return scores[order], first[order], second[order]


def ranking_metrics(scores: np.ndarray, correct: np.ndarray, total: int) -> dict[str, float]:
    """Average precision, and the best F1 with its precision, recall and threshold, of calling
    the pairs scoring at least a threshold paraphrases (`scores` sorted best first; `total`
    known paraphrase pairs), as sentence-transformers' ParaphraseMiningEvaluator computes them.

    Example:
        >>> metrics = ranking_metrics(np.array([0.9, 0.8, 0.5]), np.array([1, 0, 1]), total=3)
        >>> {key: round(value, 3) for key, value in metrics.items()}  # best F1: all three pairs
        {'average_precision': 0.556, 'f1': 0.667, 'precision': 0.667, 'recall': 0.667,
         'threshold': 0.5}
    """
    metrics = dict.fromkeys(("average_precision", "f1", "precision", "recall", "threshold"), 0.0)
    if not len(scores):
        return metrics
    ends = np.flatnonzero(np.append(scores[1:] != scores[:-1], True))  # tied scores act as one
    found = np.cumsum(correct)[ends]
    gained = np.diff(found, prepend=0) > 0
    ends, found, gain = ends[gained], found[gained], np.diff(found[gained], prepend=0)
    if not len(ends):
        return metrics
    precision = found / (ends + 1)
    recall = found / total if total else np.zeros(len(found))
    f1 = 2 * precision * recall / (precision + recall)
    best = int(np.argmax(f1))
    following = scores[min(ends[best] + 1, len(scores) - 1)]
    return {
        "average_precision": float(np.sum(precision * gain) / total) if total else 0.0,
        "f1": float(f1[best]),
        "precision": float(precision[best]),
        "recall": float(recall[best]),
        "threshold": float((float(scores[ends[best]]) + float(following)) / 2),
    }


def _transitive_closure(pairs: set[tuple[int, int]], size: int) -> set[tuple[int, int]]:
    """Every pair of rows connected through `pairs`."""
    parent = list(range(size))

    def root(row: int) -> int:
        while parent[row] != row:
            parent[row] = parent[parent[row]]
            row = parent[row]
        return row

    for a, b in pairs:
        parent[root(a)] = root(b)
    groups: dict[int, list[int]] = {}
    for row in sorted({row for pair in pairs for row in pair}):
        groups.setdefault(root(row), []).append(row)
    return {(a, b) for rows in groups.values() for i, a in enumerate(rows) for b in rows[i + 1 :]}
