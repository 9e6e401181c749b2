"""`TripletEvaluator`: how often an anchor is closer to its positive than to its negative."""

from collections.abc import Sequence

import numpy as np

from keras_siamese.data.examples import Examples
from keras_siamese.evaluation.evaluator import Encoder, Evaluator, columns_of
from keras_siamese.similarity import cosine_similarity


class TripletEvaluator(Evaluator):
    """The fraction of triplets with cosine(anchor, positive) > cosine(anchor, negative), as
    sentence-transformers' TripletEvaluator computes it: `{name}_cosine_accuracy`.

    Example:
        >>> triplets = ks.data.from_lists(
        ...     anchor=["a dog runs"], positive=["a dog is running"], negative=["the car is red"])
        >>> TripletEvaluator.from_examples(triplets, name="sick")(tiny_encoder)
        {'sick_cosine_accuracy': ...}
    """

    primary = "cosine_accuracy"

    def __init__(
        self,
        anchors: Sequence[str],
        positives: Sequence[str],
        negatives: Sequence[str],
        name: str = "triplet",
        encoder: Encoder | None = None,
        batch_size: int = 32,
        every_n_steps: int | None = None,
    ) -> None:
        super().__init__(name, encoder, batch_size, every_n_steps)
        columns = {"anchor": anchors, "positive": positives, "negative": negatives}
        self.examples = Examples({role: list(texts) for role, texts in columns.items()})

    @classmethod
    def from_examples(cls, examples: Examples, **kwargs) -> "TripletEvaluator":
        """The evaluator of (`anchor`, `positive`, `negative`) triplets (see `sick_triplets`)."""
        return cls(*columns_of(examples, "anchor", "positive", "negative"), **kwargs)

    def compute(self, encoder: Encoder) -> dict[str, float]:
        anchors, positives, negatives = self.embed(encoder, *self.examples.columns.values())
        closer = cosine_similarity(anchors, positives, xp=np) > cosine_similarity(
            anchors, negatives, xp=np
        )
        return {"cosine_accuracy": float(np.mean(closer))}
