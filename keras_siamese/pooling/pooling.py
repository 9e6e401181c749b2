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

    ``include_prompt=False`` leaves the first ``prompt_length`` tokens (``[CLS]`` and the
    prompt's tokens, as ``SentenceEncoder.encode`` counts them) out of every mode, as
    sentence-transformers does; ``prompt_length`` is a scalar (0: nothing left out).

    >>> pool = Pooling(embedding_dim=2, modes=("mean",))
    >>> x = keras.ops.array([[[1.0, 2.0], [3.0, 4.0], [9.0, 9.0]]])
    >>> keras.ops.convert_to_numpy(pool(x, keras.ops.array([[1, 1, 0]])))
    array([[2., 3.]], dtype=float32)
    """

    def __init__(
        self,
        embedding_dim: int,
        modes: tuple[str, ...] | list[str] = ("mean",),
        include_prompt: bool = True,
        **kwargs,
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
        self.include_prompt = bool(include_prompt)

    @property
    def output_dim(self) -> int:
        return self.embedding_dim * len(self.modes)

    def call(self, token_embeddings, attention_mask, prompt_length=None):
        exclude_prompt = not self.include_prompt and prompt_length is not None
        pooled_mask = attention_mask
        if exclude_prompt:  # right padding: the prompt is the first prompt_length tokens
            length = ops.shape(attention_mask)[1]
            after_prompt = ops.arange(length, dtype="int32") >= ops.cast(prompt_length, "int32")
            pooled_mask = attention_mask * ops.cast(after_prompt, attention_mask.dtype)[None, :]
        mask = ops.expand_dims(ops.cast(pooled_mask, token_embeddings.dtype), -1)
        counts = ops.sum(mask, axis=1)
        outputs = []
        for mode in self.modes:
            if mode == "cls" and exclude_prompt:  # the first pooled token, else token 0
                outputs.append(self._first_pooled(token_embeddings, mask))
            elif mode == "cls":  # a width-1 slice, so that an empty [0, 0] batch works too
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
                weights = weights * mask[..., 0]  # 0 when the prompt covers the whole text
                outputs.append(ops.sum(token_embeddings * ops.expand_dims(weights, -1), axis=1))
        return outputs[0] if len(outputs) == 1 else ops.concatenate(outputs, axis=-1)

    @staticmethod
    def _first_pooled(token_embeddings, mask):
        """The embedding of each row's first pooled token (token 0 when none is), as a one-hot
        weighted sum (no index into a [0, 0] batch)."""
        length = ops.shape(token_embeddings)[1]
        before_first = ops.cast(ops.cumsum(mask[..., 0], axis=1) == 0, "int32")
        leading = ops.sum(before_first, axis=1)
        first = ops.where(leading >= length, 0, leading)
        weights = ops.one_hot(first, length, dtype=token_embeddings.dtype)
        return ops.sum(token_embeddings * ops.expand_dims(weights, -1), axis=1)

    def compute_output_shape(self, token_embeddings_shape, attention_mask_shape=None):
        # The argument names follow ``call``'s: Keras matches them in the functional API.
        return (token_embeddings_shape[0], self.output_dim)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "embedding_dim": self.embedding_dim,
            "modes": self.modes,
            "include_prompt": self.include_prompt,
        }
