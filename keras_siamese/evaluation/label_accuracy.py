"""`LabelAccuracyEvaluator`: the accuracy of a classifier on pair features (SoftmaxLoss's)."""

from collections.abc import Callable, Sequence

import keras
import numpy as np

from keras_siamese.data.examples import Examples
from keras_siamese.evaluation.evaluator import Encoder, Evaluator, columns_of

Classifier = Callable[[np.ndarray], object]
"""Pair features float32 [N, 3 * D] in, logits [N, classes] out (a Keras layer, a model, a
function returning NumPy or a tensor)."""

_ROWS_PER_CALL = 1024


class LabelAccuracyEvaluator(Evaluator):
    """The fraction of pairs whose class, the argmax of `classifier`'s logits for the features
    (u, v, |u - v|) of their embeddings u and v (concatenated in that order, as
    sentence-transformers' SoftmaxLoss builds them), is their label:
    `{name}_accuracy`, as sentence-transformers' LabelAccuracyEvaluator computes it.

    The classifier is the one trained with the encoder (for example a SoftmaxLoss's Dense
    head); it is called as is, in batches of up to 1024 pairs. Labels are class ids 0, 1, ...

    Example:
        >>> head = keras.layers.Dense(3)  # random: maps (u, v, |u - v|) to 3 logits
        >>> pairs = ks.data.from_lists(text_a=["a dog runs", "a man sings"],
        ...                            text_b=["a dog is running", "a cat eats"], labels=[0, 2])
        >>> nli = LabelAccuracyEvaluator.from_examples(pairs, classifier=head, name="nli")
        >>> list(nli(tiny_encoder))
        ['nli_accuracy']
    """

    primary = "accuracy"

    def __init__(
        self,
        sentences1: Sequence[str],
        sentences2: Sequence[str],
        labels: Sequence[int] | np.ndarray,
        classifier: Classifier,
        name: str = "label",
        encoder: Encoder | None = None,
        batch_size: int = 32,
        every_n_steps: int | None = None,
    ) -> None:
        super().__init__(name, encoder, batch_size, every_n_steps)
        self.examples = Examples({"text_a": list(sentences1), "text_b": list(sentences2)}, labels)
        labels = self.examples.labels
        if labels is None or labels.dtype.kind not in "iu" or (labels < 0).any():
            raise ValueError("labels must be class ids: integers 0, 1, ...")
        if not callable(classifier):
            raise TypeError(f"the classifier must be callable, got {type(classifier).__name__}")
        self.classifier = classifier

    @classmethod
    def from_examples(
        cls, examples: Examples, classifier: Classifier, **kwargs
    ) -> "LabelAccuracyEvaluator":
        """The evaluator of (`text_a`, `text_b`) pairs labelled with class ids."""
        return cls(*columns_of(examples, "text_a", "text_b"), examples.labels, classifier, **kwargs)

    def compute(self, encoder: Encoder) -> dict[str, float]:
        first, second = self.embed(encoder, *self.examples.columns.values())
        features = np.concatenate([first, second, np.abs(first - second)], axis=1)
        predicted = []
        for start in range(0, len(features), _ROWS_PER_CALL):
            logits = keras.ops.convert_to_numpy(
                self.classifier(features[start : start + _ROWS_PER_CALL])
            )
            if logits.ndim != 2:
                raise ValueError(f"the classifier gave logits of shape {logits.shape}, not 2-D")
            predicted.append(np.argmax(logits, axis=1))
        return {"accuracy": float(np.mean(np.concatenate(predicted) == self.examples.labels))}
