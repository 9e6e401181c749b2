"""Matryoshka loss (Kusupati et al., "Matryoshka Representation Learning", NeurIPS 2022), as
sentence-transformers' ``MatryoshkaLoss``: an inner loss on nested prefixes of the embeddings."""

from collections.abc import Callable, Sequence

import keras

from keras_siamese.similarity import l2_normalize


def matryoshka_loss(
    y_true,
    y_pred,
    loss_fn: Callable,
    dims: Sequence[int],
    weights: Sequence[float] | None = None,
    normalize: bool = True,
):
    """``sum_k weights[k] * loss_fn(y_true, y_pred[..., :dims[k]])``.

    ``y_pred``: embeddings (stacked ``[B, n, D]``, or ``[B, D]`` for the batch triplet losses),
    each prefix L2-normalised first when ``normalize`` (as sentence-transformers does).
    """
    width = y_pred.shape[-1] if len(y_pred.shape) >= 2 else None
    if width is None or max(dims) > width:
        raise ValueError(
            f"matryoshka_loss needs embeddings at least {max(dims)} wide; got {y_pred.shape}."
        )
    weights = weights if weights is not None else [1.0] * len(dims)
    total = 0.0
    for dim, weight in zip(dims, weights, strict=True):
        prefix = y_pred[..., :dim]
        total = total + weight * loss_fn(y_true, l2_normalize(prefix) if normalize else prefix)
    return total


@keras.saving.register_keras_serializable(package="keras_siamese")
class MatryoshkaLoss(keras.losses.Loss):
    """Trains embeddings whose prefixes (``dims``) work on their own, e.g. 384 -> 128 -> 64.

    Wraps any loss of this package (an instance or its registry name); it consumes what the
    inner loss consumes, and the reduction is the inner loss's.

    >>> import numpy as np
    >>> loss = MatryoshkaLoss("cosent", dims=[4, 2])
    >>> loss.roles, loss.label_kind
    (('text_a', 'text_b'), 'score')
    >>> embeddings = np.array([[[1.0, 0, 0, 0], [1, 0, 0, 1]], [[1, 0, 0, 0], [0, 1, 0, 0]]])
    >>> round(float(loss(np.array([1.0, 0.0]), embeddings)), 4)  # [B=2, pair, D=4]
    0.0
    """

    registry_name = "matryoshka"

    def __init__(
        self,
        loss: keras.losses.Loss | str,
        dims: Sequence[int],
        weights: Sequence[float] | None = None,
        normalize: bool = True,
        name: str = "matryoshka_loss",
        dtype=None,
    ) -> None:
        if not dims or min(dims) <= 0:
            raise ValueError(f"dims must be positive sizes; got {dims}.")
        if weights is not None and len(weights) != len(dims):
            raise ValueError(f"weights ({len(weights)}) must match dims ({len(dims)}).")
        if isinstance(loss, str):
            from keras_siamese.losses.registry import get_loss

            loss = get_loss(loss)
        super().__init__(name=name, reduction=loss.reduction, dtype=dtype)
        self.loss = loss
        self.dims = [int(dim) for dim in dims]
        self.weights = None if weights is None else [float(weight) for weight in weights]
        self.normalize = normalize

    @property
    def roles(self) -> tuple[str, ...]:
        """The inner loss's roles."""
        return self.loss.roles

    @property
    def label_kind(self) -> str:
        """The inner loss's label kind."""
        return self.loss.label_kind

    @property
    def takes_negatives(self) -> bool:
        """Whether the inner loss takes extra negatives."""
        return getattr(self.loss, "takes_negatives", False)

    def call(self, y_true, y_pred):
        return matryoshka_loss(
            y_true, y_pred, self.loss.call, self.dims, self.weights, self.normalize
        )

    def get_config(self) -> dict:
        return {
            "loss": keras.losses.serialize(self.loss),
            "dims": self.dims,
            "weights": self.weights,
            "normalize": self.normalize,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config: dict) -> "MatryoshkaLoss":
        return cls(**{**config, "loss": keras.losses.deserialize(config["loss"])})
