"""`TranslationEvaluator`: how often a sentence's nearest translation is its own."""

from collections.abc import Sequence

import numpy as np

from keras_siamese.data.examples import Examples
from keras_siamese.evaluation.evaluator import Encoder, Evaluator
from keras_siamese.similarity import cosine_similarity_matrix

_SCORES_PER_CHUNK = 1 << 22  # source x target similarities computed at once


class TranslationEvaluator(Evaluator):
    """For parallel lists of sentences and their translations, the fraction of sources whose
    most cosine-similar target is their translation (or the same text), the same from the
    targets' side, and their mean, as sentence-transformers' TranslationEvaluator computes them:
    `{name}_src2trg_accuracy`, `{name}_trg2src_accuracy`, `{name}_mean_accuracy` (primary).

    Example:
        >>> evaluator = TranslationEvaluator(["a dog", "a cat"], ["ein Hund", "eine Katze"],
        ...                                  name="en-de")
        >>> sorted(evaluator(tiny_encoder))
        ['en-de_mean_accuracy', 'en-de_src2trg_accuracy', 'en-de_trg2src_accuracy']
    """

    primary = "mean_accuracy"

    def __init__(
        self,
        source_sentences: Sequence[str],
        target_sentences: Sequence[str],
        name: str = "translation",
        encoder: Encoder | None = None,
        batch_size: int = 32,
        every_n_steps: int | None = None,
    ) -> None:
        super().__init__(name, encoder, batch_size, every_n_steps)
        if len(source_sentences) != len(target_sentences):
            raise ValueError(
                f"{len(source_sentences)} source sentences but {len(target_sentences)} targets"
            )
        columns = {"source": list(source_sentences), "target": list(target_sentences)}
        self.examples = Examples(columns)

    def compute(self, encoder: Encoder) -> dict[str, float]:
        sources, targets = self.embed(encoder, *self.examples.columns.values())
        source_texts = np.array(self.examples.columns["source"], dtype=object)
        target_texts = np.array(self.examples.columns["target"], dtype=object)
        src2trg = _nearest_is_own(sources, targets, target_texts)
        trg2src = _nearest_is_own(targets, sources, source_texts)
        return {
            "src2trg_accuracy": src2trg,
            "trg2src_accuracy": trg2src,
            "mean_accuracy": (src2trg + trg2src) / 2,
        }


def _nearest_is_own(queries: np.ndarray, candidates: np.ndarray, texts: np.ndarray) -> float:
    """The fraction of rows i whose most similar candidate has the text of candidate i."""
    rows = max(1, _SCORES_PER_CHUNK // len(candidates))
    correct = 0
    for start in range(0, len(queries), rows):
        scores = cosine_similarity_matrix(queries[start : start + rows], candidates, xp=np)
        nearest = np.argmax(scores, axis=1)
        correct += int(np.sum(texts[nearest] == texts[start : start + len(nearest)]))
    return correct / len(queries)
