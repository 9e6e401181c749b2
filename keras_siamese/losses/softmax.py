"""Softmax loss (Reimers & Gurevych, "Sentence-BERT", 2019), as sentence-transformers'
``SoftmaxLoss``: a linear classifier on the pair features (u, v, |u - v|), trained with the
encoder by cross-entropy on class labels (the SBERT NLI recipe)."""

import keras
from keras import ops

from keras_siamese.losses.base import SiameseLoss, flat, stacked


@keras.saving.register_keras_serializable(package="keras_siamese")
class PairFeatures(keras.layers.Layer):
    """Pair embeddings ``[B, 2, D]`` -> features ``[B, k * D]``: u and v (``rep``), |u - v|
    (``difference``) and u * v (``multiplication``), concatenated in that order."""

    def __init__(
        self,
        rep: bool = True,
        difference: bool = True,
        multiplication: bool = False,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if not (rep or difference or multiplication):
            raise ValueError("PairFeatures needs at least one of rep, difference, multiplication.")
        self.rep, self.difference, self.multiplication = rep, difference, multiplication

    def call(self, pairs):
        u, v = stacked(pairs, 2, "PairFeatures")
        parts = [u, v] if self.rep else []
        if self.difference:
            parts.append(ops.abs(u - v))
        if self.multiplication:
            parts.append(u * v)
        return ops.concatenate(parts, axis=-1)

    def compute_output_shape(self, input_shape):
        count = 2 * self.rep + self.difference + self.multiplication
        return (input_shape[0], count * input_shape[-1])

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "rep": self.rep,
            "difference": self.difference,
            "multiplication": self.multiplication,
        }


def softmax_loss(y_true, y_pred, **options):
    """Per pair cross-entropy of the classifier's logits ``y_pred`` ``[B, num_labels]`` with the
    class ids ``y_true`` ``[B]`` (``options``: the head's settings, unused here)."""
    return keras.losses.sparse_categorical_crossentropy(
        ops.cast(flat(y_true), "int32"), y_pred, from_logits=True
    )


@keras.saving.register_keras_serializable(package="keras_siamese")
class SoftmaxLoss(SiameseLoss):
    """Cross-entropy of a linear classifier over the pair features of two embeddings.

    The classifier is a ``head``: the training model applies it to the stacked pair embeddings,
    so its weights are trained with the encoder's (``fit`` and ``model.fit`` alike), and it is
    ``self.classifier`` (a ``Dense``) after training, for ``LabelAccuracyEvaluator`` (whose
    features are the default (u, v, |u - v|)). As in sentence-transformers it is not part of
    the saved model.

    Args:
        num_labels: the number of classes (3 for NLI: entailment, neutral, contradiction).
        concatenation_sent_rep: u and v in the features.
        concatenation_sent_difference: |u - v| in the features.
        concatenation_sent_multiplication: u * v in the features.

    References:
        Sentence-BERT: Sentence Embeddings using Siamese BERT-Networks,
        https://arxiv.org/abs/1908.10084

    Inputs:

    | Texts              | Labels (``y``)          | ``y_pred`` (the head's output) |
    |--------------------|-------------------------|--------------------------------|
    | (text_a, text_b)   | class id 0 ... n - 1    | logits ``[B, num_labels]``     |

    >>> loss = SoftmaxLoss(num_labels=3)
    >>> logits = loss.head(np.ones((2, 2, 4), "float32"))  # the classifier, built on use
    >>> tuple(logits.shape), tuple(loss.classifier.kernel.shape)
    ((2, 3), (12, 3))
    >>> round(float(loss(np.array([0, 2]), np.zeros((2, 3), "float32"))), 4)  # ln 3
    1.0986
    """

    registry_name = "softmax"
    roles = ("text_a", "text_b")
    label_kind = "class"

    def __init__(
        self,
        num_labels: int,
        concatenation_sent_rep: bool = True,
        concatenation_sent_difference: bool = True,
        concatenation_sent_multiplication: bool = False,
        reduction: str | None = "sum_over_batch_size",
        name: str = "softmax_loss",
        dtype=None,
    ) -> None:
        if not isinstance(num_labels, int) or num_labels < 1:
            raise ValueError(f"num_labels must be a positive integer, got {num_labels!r}.")
        super().__init__(
            softmax_loss,
            reduction=reduction,
            name=name,
            dtype=dtype,
            num_labels=num_labels,
            concatenation_sent_rep=concatenation_sent_rep,
            concatenation_sent_difference=concatenation_sent_difference,
            concatenation_sent_multiplication=concatenation_sent_multiplication,
        )
        self.features = PairFeatures(
            concatenation_sent_rep,
            concatenation_sent_difference,
            concatenation_sent_multiplication,
            name="pair_features",
        )
        self.classifier = keras.layers.Dense(num_labels, name="softmax_classifier")

    def head(self, pairs):
        """The classifier's logits ``[B, num_labels]`` for pair embeddings ``[B, 2, D]``."""
        return self.classifier(self.features(pairs))
