"""`STSEvaluator`: how well embedding similarity ranks sentence pairs like human scores do."""

from collections.abc import Sequence

import numpy as np

from keras_siamese.data.examples import Examples
from keras_siamese.evaluation.evaluator import Encoder, Evaluator, columns_of
from keras_siamese.similarity import SIMILARITIES


class STSEvaluator(Evaluator):
    """Pearson and Spearman correlations (x100) of gold scores with the embeddings' cosine,
    negated euclidean and manhattan distances, and dot product, as sentence-transformers'
    EmbeddingSimilarityEvaluator computes them: `{name}_spearman_cosine`, `{name}_pearson_dot`...

    Example:
        >>> dev = STSEvaluator.from_examples(tiny_examples, name="sts_dev")  # 4 scored pairs
        >>> sorted(dev(tiny_encoder))[:3]  # as a callback: model.fit(..., callbacks=[dev])
        ['sts_dev_pearson_cosine', 'sts_dev_pearson_dot', 'sts_dev_pearson_euclidean']
    """

    primary = "spearman_cosine"

    def __init__(
        self,
        sentences1: Sequence[str],
        sentences2: Sequence[str],
        scores: Sequence[float] | np.ndarray,
        name: str = "sts",
        encoder: Encoder | None = None,
        batch_size: int = 32,
        every_n_steps: int | None = None,
    ) -> None:
        super().__init__(name, encoder, batch_size, every_n_steps)
        self.examples = Examples({"text_a": list(sentences1), "text_b": list(sentences2)}, scores)
        if self.examples.labels is None or self.examples.labels.dtype.kind not in "fi":
            raise ValueError("STS scores must be numbers")
        if len(self.examples) < 2 or np.ptp(self.examples.labels) == 0:
            raise ValueError(
                f"{name}: the gold scores need two different values (correlations with "
                f"{len(self.examples)} pair(s) of equal scores are undefined)"
            )

    @classmethod
    def from_examples(cls, examples: Examples, **kwargs) -> "STSEvaluator":
        """The evaluator of scored (`text_a`, `text_b`) pairs, e.g. from `read_sts`."""
        return cls(*columns_of(examples, "text_a", "text_b"), examples.labels, **kwargs)

    def compute(self, encoder: Encoder) -> dict[str, float]:
        from scipy.stats import pearsonr, spearmanr  # loaded on first evaluation

        first, second = self.embed(encoder, *self.examples.columns.values())
        gold = self.examples.labels
        metrics = {}
        for similarity in SIMILARITIES:
            predicted = SIMILARITIES[similarity].rowwise(first, second, xp=np)
            metrics[f"pearson_{similarity}"] = 100 * pearsonr(gold, predicted).statistic
            metrics[f"spearman_{similarity}"] = 100 * spearmanr(gold, predicted).statistic
        return metrics
