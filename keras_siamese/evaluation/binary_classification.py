"""`BinaryClassificationEvaluator`: how well a cosine threshold tells similar pairs apart."""

from collections.abc import Sequence

import numpy as np

from keras_siamese.data.examples import Examples
from keras_siamese.evaluation.evaluator import Encoder, Evaluator, columns_of
from keras_siamese.similarity import cosine_similarity


class BinaryClassificationEvaluator(Evaluator):
    """Accuracy and F1 (with precision and recall) at their best cosine thresholds, and average
    precision, of pairs labelled 1 (similar) or 0, as sentence-transformers'
    BinaryClassificationEvaluator computes them: `{name}_cosine_accuracy`, `{name}_cosine_f1`,
    `{name}_cosine_ap`, ... (fractions in [0, 1]), with `_accuracy_threshold` and `_f1_threshold`.

    Example:
        >>> pairs = ks.data.from_lists(text_a=["a dog runs", "a cat eats"],
        ...                            text_b=["a dog is running", "the car is red"], labels=[1, 0])
        >>> sick = BinaryClassificationEvaluator.from_examples(pairs, name="sick")
        >>> sick(tiny_encoder)  # a small random encoder here
        {'sick_cosine_accuracy': ..., 'sick_cosine_ap': ...}
    """

    primary = "cosine_ap"

    def __init__(
        self,
        sentences1: Sequence[str],
        sentences2: Sequence[str],
        labels: Sequence[int] | np.ndarray,
        name: str = "binary",
        encoder: Encoder | None = None,
        batch_size: int = 32,
        every_n_steps: int | None = None,
    ) -> None:
        super().__init__(name, encoder, batch_size, every_n_steps)
        self.examples = Examples({"text_a": list(sentences1), "text_b": list(sentences2)}, labels)
        labels = self.examples.labels
        if labels is None or labels.dtype.kind != "i" or not np.isin(labels, (0, 1)).all():
            raise ValueError("binary labels must be the integers 0 and 1")
        if not labels.any():
            raise ValueError("binary labels need at least one positive (1)")

    @classmethod
    def from_examples(cls, examples: Examples, **kwargs) -> "BinaryClassificationEvaluator":
        """The evaluator of (`text_a`, `text_b`) pairs labelled 0 or 1."""
        return cls(*columns_of(examples, "text_a", "text_b"), examples.labels, **kwargs)

    def compute(self, encoder: Encoder) -> dict[str, float]:
        first, second = self.embed(encoder, *self.examples.columns.values())
        scores = cosine_similarity(first, second, xp=np)
        labels = self.examples.labels
        accuracy, accuracy_threshold = best_accuracy(scores, labels)
        f1, precision, recall, f1_threshold = best_f1(scores, labels)
        return {
            "cosine_accuracy": accuracy,
            "cosine_accuracy_threshold": accuracy_threshold,
            "cosine_f1": f1,
            "cosine_precision": precision,
            "cosine_recall": recall,
            "cosine_f1_threshold": f1_threshold,
            "cosine_ap": average_precision(scores, labels),
        }


def best_accuracy(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """The best accuracy of predicting label 1 for `score >= threshold`, and that threshold.

    Example:
        >>> scores = np.array([0.9, 0.8, 0.3], np.float32)
        >>> best_accuracy(scores, np.array([1, 0, 0]))  # doctest: +ELLIPSIS
        (1.0, 0.85...)
    """
    ranked, ends, positives = _ranking(scores, labels)
    negatives = len(ranked) - positives[-1]
    # Calling the top `end + 1` similar gets their positives and the negatives below them right.
    accuracy = (positives + negatives - (ends + 1 - positives)) / len(ranked)
    best = int(np.argmax(accuracy))
    if accuracy[best] > negatives / len(ranked):
        return float(accuracy[best]), float(_threshold_below(ranked, ends[best]))
    return negatives / len(ranked), float(np.nextafter(ranked[0], ranked.dtype.type(np.inf)))


def best_f1(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float, float, float]:
    """The best F1 of predicting 1 for `score >= threshold`: (f1, precision, recall, threshold).

    Example:
        >>> scores = np.array([0.9, 0.8, 0.3], np.float32)
        >>> best_f1(scores, np.array([1, 0, 1]))  # doctest: +ELLIPSIS
        (0.8, 0.666..., 1.0, 0.3...)
    """
    ranked, ends, positives = _ranking(scores, labels)
    precision, recall = _precision_recall(ends, positives)
    if not positives[-1]:
        return 0.0, 0.0, 0.0, 0.0
    with np.errstate(invalid="ignore"):  # 0 / 0 before the first positive
        f1 = np.nan_to_num(2 * precision * recall / (precision + recall))
    best = int(np.argmax(f1))
    threshold = _threshold_below(ranked, ends[best])
    return float(f1[best]), float(precision[best]), float(recall[best]), float(threshold)


def average_precision(scores: np.ndarray, labels: np.ndarray) -> float:
    """Precision averaged over the recall steps of the ranking by score (as scikit-learn's).

    Example:
        >>> average_precision(np.array([0.9, 0.8, 0.3]), np.array([1, 0, 1]))  # doctest: +ELLIPSIS
        0.833...
    """
    _, ends, positives = _ranking(scores, labels)
    precision, recall = _precision_recall(ends, positives)
    return float(np.sum(np.diff(recall, prepend=0.0) * precision))


def _ranking(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores in decreasing order, the positions that end a run of tied scores (where thresholds
    fall), and the number of positives up to each of those positions."""
    order = np.argsort(-scores, kind="stable")
    ranked = scores[order]
    ends = np.flatnonzero(np.append(ranked[1:] != ranked[:-1], True))
    return ranked, ends, np.cumsum(labels[order] == 1)[ends]


def _precision_recall(ends: np.ndarray, positives: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Precision and recall of calling the top `end + 1` scores similar, for each end."""
    return positives / (ends + 1), positives / max(positives[-1], 1)


def _threshold_below(ranked: np.ndarray, end: int) -> np.floating:
    """Midway from `ranked[end]` to the next lower score (which it must stay above)."""
    if end == len(ranked) - 1:
        return ranked[end]
    middle = (ranked[end] + ranked[end + 1]) / 2
    return ranked[end] if middle == ranked[end + 1] else middle
