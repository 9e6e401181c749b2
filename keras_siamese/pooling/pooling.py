"""Pooling of token embeddings into a sentence embedding (sentence-transformers' ``Pooling``)."""

import keras
from keras import ops

from keras_siamese import backend as _backend  # noqa: F401

# The pooling modes, in the order in which sentence-transformers' older config format (before 6.x)
# concatenates several of them.
POOLING_MODES = ("cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken")


@keras.saving.register_keras_serializable(package="keras_siamese")
class Pooling(keras.layers.Layer):
    """Pools ``[batch, length, dim]`` token embeddings under a ``[batch, length]`` mask.

    Modes: ``cls``, ``max``, ``mean``, ``mean_sqrt_len_tokens``, ``weightedmean`` (weights 1..T),
    ``lasttoken`` (last unmasked token, right padding). Several modes are concatenated in the
    order given, so the output size is ``dim * len(modes)``.

    >>> pool = Pooling(embedding_dim=2, modes=("mean",))
    >>> x = keras.ops.array([[[1.0, 2.0], [3.0, 4.0], [9.0, 9.0]]])
    >>> keras.ops.convert_to_numpy(pool(x, keras.ops.array([[1, 1, 0]])))
    array([[2., 3.]], dtype=float32)
    """

    def __init__(
        self, embedding_dim: int, modes: tuple[str, ...] | list[str] = ("mean",), **kwargs
    ) -> None:
        super().__init__(**kwargs)
        modes = (modes,) if isinstance(modes, str) else tuple(modes)
        unknown = [m for m in modes if m not in POOLING_MODES]
        if unknown or not modes:
            raise ValueError(
                f"Unknown pooling mode(s) {unknown or modes!r}; choose from {list(POOLING_MODES)}."
            )
        self.embedding_dim = embedding_dim
        self.modes = modes

    @property
    def output_dim(self) -> int:
        return self.embedding_dim * len(self.modes)

    def call(self, token_embeddings, attention_mask):
        mask = ops.expand_dims(ops.cast(attention_mask, token_embeddings.dtype), -1)
        counts = ops.sum(mask, axis=1)
        outputs = []
        for mode in self.modes:
            if mode == "cls":  # a width-1 slice, so that an empty [0, 0] batch works too
                outputs.append(ops.sum(token_embeddings[:, :1], axis=1))
            elif mode == "max":
                masked = ops.where(mask > 0, token_embeddings, ops.cast(-1e9, mask.dtype))
                outputs.append(ops.max(masked, axis=1))
            elif mode == "mean":
                total = ops.sum(token_embeddings * mask, axis=1)
                outputs.append(total / ops.maximum(counts, 1e-9))
            elif mode == "mean_sqrt_len_tokens":
                total = ops.sum(token_embeddings * mask, axis=1)
                outputs.append(total / ops.sqrt(ops.maximum(counts, 1e-9)))
            elif mode == "weightedmean":
                length = ops.shape(token_embeddings)[1]
                positions = ops.arange(1, length + 1, dtype=mask.dtype)
                weights = mask * ops.expand_dims(ops.expand_dims(positions, 0), -1)
                total = ops.sum(token_embeddings * weights, axis=1)
                outputs.append(total / ops.maximum(ops.sum(weights, axis=1), 1e-9))
            else:  # lasttoken, as a one-hot weighted sum (no index into a [0, 0] batch)
                last = ops.cast(ops.sum(attention_mask, axis=1), "int32") - 1
                length = ops.shape(token_embeddings)[1]
                weights = ops.one_hot(ops.maximum(last, 0), length, dtype=mask.dtype)
                outputs.append(ops.sum(token_embeddings * ops.expand_dims(weights, -1), axis=1))
        return outputs[0] if len(outputs) == 1 else ops.concatenate(outputs, axis=-1)

    def compute_output_shape(self, token_embeddings_shape, attention_mask_shape=None):
        # The argument names follow ``call``'s: Keras matches them in the functional API.
        return (token_embeddings_shape[0], self.output_dim)

    def get_config(self) -> dict:
        return {**super().get_config(), "embedding_dim": self.embedding_dim, "modes": self.modes}
