"""The two building blocks of a BERT-family encoder: embeddings and a transformer block."""

import math

import keras
from keras import ops

from keras_siamese import backend as _backend  # noqa: F401

PADDING_SCORE = -10000.0  # added to the attention scores of padding keys; fits float16 too

_ACTIVATIONS = {
    "gelu": lambda x: keras.activations.gelu(x, approximate=False),
    "gelu_new": lambda x: keras.activations.gelu(x, approximate=True),
    "gelu_pytorch_tanh": lambda x: keras.activations.gelu(x, approximate=True),
    "relu": keras.activations.relu,
}


@keras.saving.register_keras_serializable(package="keras_siamese")
class LayerNorm(keras.layers.LayerNormalization):
    """``LayerNormalization`` over the last axis in fewer full-size ops than Keras' own
    (centre once, scale once): about a third faster on the CPU, same result.

    >>> norm = LayerNorm(epsilon=1e-12)
    >>> keras.ops.convert_to_numpy(norm(keras.ops.array([[1.0, 3.0]]))).tolist()
    [[-1.0, 1.0]]
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        if self.axis not in (-1, [-1]) or not (self.center and self.scale) or self.rms_scaling:
            raise ValueError(
                "LayerNorm normalises the last axis with centre and scale only; use "
                "keras.layers.LayerNormalization for other settings."
            )

    def call(self, inputs):
        x = ops.cast(inputs, "float32")
        centred = x - ops.mean(x, axis=-1, keepdims=True)
        variance = ops.mean(ops.square(centred), axis=-1, keepdims=True)
        normalised = centred * ops.rsqrt(variance + self.epsilon) * self.gamma + self.beta
        return ops.cast(normalised, self.compute_dtype)


def checked_token_ids(input_ids, vocab_size: int):
    """``input_ids``, checked to lie in ``[0, vocab_size)``: an ``InvalidArgumentError`` otherwise,
    eagerly, in ``tf.function``, in a SavedModel (TF Serving answers INVALID_ARGUMENT) and, as
    LiteRT's bounds-checked gather, in TFLite; never the silent wrap-around of a negative index.

    >>> checked_token_ids(keras.ops.array([[0, 9]], dtype="int32"), 10).shape
    TensorShape([1, 2])
    >>> checked_token_ids(keras.ops.array([[-1]], dtype="int32"), 10)
    Traceback (most recent call last):
    ...
    tensorflow.python.framework.errors_impl.InvalidArgumentError: ...
    """
    import tensorflow as tf

    ids = tf.convert_to_tensor(input_ids)
    message = f"input_ids must lie in [0, {vocab_size}), the vocabulary's ids"
    limit = tf.cast(vocab_size, ids.dtype)
    with tf.control_dependencies(
        [
            tf.debugging.assert_non_negative(ids, message=message),
            tf.debugging.assert_less(ids, limit, message=message),
        ]
    ):
        # The LiteRT converter drops assertions; a negative id made out of range instead makes
        # LiteRT's gather fail there too ("gather index out of bounds") rather than wrap around.
        return tf.where(ids < 0, limit, ids)


@keras.saving.register_keras_serializable(package="keras_siamese")
class TransformerEmbeddings(keras.layers.Layer):
    """Word + absolute position + token-type embeddings, then LayerNorm and dropout.

    ``token_types=False``: no token-type embedding (MPNet, DistilBERT). ``padding_idx``: position
    ids counted past the padding index, skipping padding tokens, as RoBERTa and MPNet do
    (``cumsum(ids != padding_idx) * (ids != padding_idx) + padding_idx``); ``None``: ``0..n-1``.

    >>> layer = TransformerEmbeddings(vocab_size=10, hidden_size=4, max_position_embeddings=8)
    >>> tuple(layer(keras.ops.ones((2, 3), dtype="int32")).shape)
    (2, 3, 4)
    """

    def __init__(
        self,
        vocab_size: int,
        hidden_size: int,
        max_position_embeddings: int,
        type_vocab_size: int = 2,
        layer_norm_eps: float = 1e-12,
        dropout: float = 0.0,
        token_types: bool = True,
        padding_idx: int | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.max_position_embeddings = max_position_embeddings
        self.type_vocab_size = type_vocab_size
        self.layer_norm_eps = layer_norm_eps
        self.dropout_rate = dropout
        self.token_types = token_types
        self.padding_idx = padding_idx
        init = keras.initializers.TruncatedNormal(stddev=0.02)
        self.word_embeddings = keras.layers.Embedding(
            vocab_size, hidden_size, embeddings_initializer=init, name="word_embeddings"
        )
        self.position_embeddings = keras.layers.Embedding(
            max_position_embeddings,
            hidden_size,
            embeddings_initializer=init,
            name="position_embeddings",
        )
        self.token_type_embeddings = (
            keras.layers.Embedding(
                type_vocab_size,
                hidden_size,
                embeddings_initializer=init,
                name="token_type_embeddings",
            )
            if token_types
            else None
        )
        self.norm = LayerNorm(epsilon=layer_norm_eps, name="norm")
        self.dropout = keras.layers.Dropout(dropout)

    def build(self, input_shape) -> None:
        self.word_embeddings.build(input_shape)
        self.position_embeddings.build((None,))
        if self.token_type_embeddings is not None:
            self.token_type_embeddings.build((None,))
        self.norm.build((*input_shape, self.hidden_size))

    def call(self, input_ids, training=None):
        x = self.word_embeddings(checked_token_ids(input_ids, self.vocab_size))
        if self.padding_idx is None:
            positions = ops.arange(ops.shape(input_ids)[1], dtype="int32")
            x = x + ops.expand_dims(self.position_embeddings(positions), 0)
        else:
            tokens = ops.cast(ops.not_equal(input_ids, self.padding_idx), "int32")
            positions = ops.cumsum(tokens, axis=1) * tokens + self.padding_idx
            x = x + self.position_embeddings(positions)
        if self.token_type_embeddings is not None:
            # Sentence embeddings use a single segment: token type 0 everywhere.
            x = x + self.token_type_embeddings(ops.zeros((1, 1), dtype="int32"))
        return self.dropout(self.norm(x), training=training)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "hidden_size": self.hidden_size,
            "max_position_embeddings": self.max_position_embeddings,
            "type_vocab_size": self.type_vocab_size,
            "layer_norm_eps": self.layer_norm_eps,
            "dropout": self.dropout_rate,
            "token_types": self.token_types,
            "padding_idx": self.padding_idx,
        }


def relative_position_bucket(relative_position, num_buckets: int = 32, max_distance: int = 128):
    """MPNet's (T5's bidirectional) bucket of each ``key - query`` distance, as Hugging Face
    computes it (float32 logarithm, truncated): exact below ``num_buckets // 4``, logarithmic up to
    ``max_distance``, one sign bit.

    >>> distances = keras.ops.array([-200, -20, -1, 0, 1, 20, 200])
    >>> keras.ops.convert_to_numpy(relative_position_bucket(distances)).tolist()
    [15, 10, 1, 0, 17, 26, 31]
    """
    n = -relative_position
    half = num_buckets // 2
    bucket = ops.cast(n < 0, "int32") * half
    n = ops.abs(n)
    max_exact = half // 2
    scaled = (
        ops.log(ops.cast(ops.maximum(n, 1), "float32") / max_exact)
        / math.log(max_distance / max_exact)
        * (half - max_exact)
    )
    large = ops.minimum(max_exact + ops.cast(scaled, "int32"), half - 1)
    return bucket + ops.where(n < max_exact, n, large)


@keras.saving.register_keras_serializable(package="keras_siamese")
class RelativePositionBias(keras.layers.Layer):
    """MPNet's relative position bias: token ids ``[batch, length]`` in (only the length is
    read), the bias every layer adds to its attention scores out, ``[1, heads, length, length]``.

    >>> layer = RelativePositionBias(num_buckets=32, num_heads=2)
    >>> tuple(layer(keras.ops.ones((3, 5), dtype="int32")).shape)
    (1, 2, 5, 5)
    """

    def __init__(self, num_buckets: int, num_heads: int, max_distance: int = 128, **kwargs) -> None:
        super().__init__(**kwargs)
        self.num_buckets = num_buckets
        self.num_heads = num_heads
        self.max_distance = max_distance
        self.relative_attention_bias = keras.layers.Embedding(
            num_buckets,
            num_heads,
            embeddings_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
            name="relative_attention_bias",
        )

    def build(self, input_shape=None) -> None:
        self.relative_attention_bias.build((None, None))

    def call(self, input_ids):
        positions = ops.arange(ops.shape(input_ids)[1], dtype="int32")
        distance = ops.expand_dims(positions, 0) - ops.expand_dims(positions, 1)  # key - query
        buckets = relative_position_bucket(distance, self.num_buckets, self.max_distance)
        bias = self.relative_attention_bias(buckets)  # [query, key, heads]
        return ops.expand_dims(ops.transpose(bias, (2, 0, 1)), 0)

    def compute_output_shape(self, input_shape):
        return (1, self.num_heads, input_shape[1], input_shape[1])

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "num_buckets": self.num_buckets,
            "num_heads": self.num_heads,
            "max_distance": self.max_distance,
        }


@keras.saving.register_keras_serializable(package="keras_siamese")
class TransformerBlock(keras.layers.Layer):
    """Post-LayerNorm transformer encoder block (BERT): self-attention, then a feed-forward net.

    Queries, keys and values come from one fused projection (one matmul instead of three).
    ``position_bias`` (MPNet's ``RelativePositionBias``), when given, is added to the attention
    scores.

    >>> block = TransformerBlock(hidden_size=8, num_heads=2, intermediate_size=16)
    >>> x, mask = keras.ops.ones((2, 5, 8)), keras.ops.ones((2, 5), dtype="int32")
    >>> tuple(block(x, mask).shape)
    (2, 5, 8)
    """

    def __init__(
        self,
        hidden_size: int,
        num_heads: int,
        intermediate_size: int,
        activation: str = "gelu",
        layer_norm_eps: float = 1e-12,
        dropout: float = 0.0,
        attention_dropout: float = 0.0,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.num_heads = num_heads
        self.head_size = hidden_size // num_heads
        self.intermediate_size = intermediate_size
        self.activation = activation
        self.layer_norm_eps = layer_norm_eps
        self.dropout_rate = dropout
        self.attention_dropout_rate = attention_dropout
        init = keras.initializers.TruncatedNormal(stddev=0.02)

        def dense(units: int, name: str) -> keras.layers.Dense:
            return keras.layers.Dense(units, kernel_initializer=init, name=name)

        self.qkv = dense(3 * hidden_size, "qkv")
        self.attention_output = dense(hidden_size, "attention_output")
        self.attention_norm = LayerNorm(epsilon=layer_norm_eps, name="attention_norm")
        self.intermediate = dense(intermediate_size, "intermediate")
        self.output_dense = dense(hidden_size, "output")
        self.output_norm = LayerNorm(epsilon=layer_norm_eps, name="output_norm")
        self.attention_dropout = keras.layers.Dropout(attention_dropout)
        self.dropout = keras.layers.Dropout(dropout)
        self._activation = _ACTIVATIONS[activation]

    def build(self, x_shape, attention_mask_shape=None, position_bias_shape=None) -> None:
        # The argument names follow ``call``'s: Keras builds on first call by matching them.
        self.qkv.build(x_shape)
        self.attention_output.build(x_shape)
        self.attention_norm.build(x_shape)
        self.intermediate.build(x_shape)
        self.output_dense.build((*x_shape[:-1], self.intermediate_size))
        self.output_norm.build(x_shape)

    def call(self, x, attention_mask, position_bias=None, training=None):
        # Dense layers and norms run on [batch * length, hidden]: a 2-D matmul lets oneDNN
        # fuse the bias (and GELU) into it, which a batched 3-D matmul does not.
        batch, length = ops.shape(x)[0], ops.shape(x)[1]
        x = ops.reshape(x, (-1, self.hidden_size))
        qkv = ops.reshape(self.qkv(x), (batch, length, 3, self.num_heads, self.head_size))
        qkv = ops.transpose(qkv, (2, 0, 3, 1, 4))
        # split, not slices (whose gradients are three full-size zero-padded tensors summed) nor
        # unstack (LiteRT's UNPACK fails on an empty batch)
        q, k, v = (ops.squeeze(part, 0) for part in ops.split(qkv, 3, axis=0))
        scores = ops.matmul(q, ops.transpose(k, (0, 1, 3, 2))) / math.sqrt(self.head_size)
        if position_bias is not None:  # MPNet: [1, heads, length, length], shared by the layers
            scores = scores + position_bias
        # Padding keys get a large negative score (one add, as BERT does; exp() makes it 0).
        padding = 1 - ops.cast(ops.expand_dims(attention_mask, (1, 2)), scores.dtype)
        probs = ops.softmax(scores + padding * PADDING_SCORE, axis=-1)
        probs = self.attention_dropout(probs, training=training)
        context = ops.reshape(ops.transpose(ops.matmul(probs, v), (0, 2, 1, 3)), ops.shape(x))
        attended = self.dropout(self.attention_output(context), training=training)
        x = self.attention_norm(x + attended)
        hidden = self.output_dense(self._activation(self.intermediate(x)))
        x = self.output_norm(x + self.dropout(hidden, training=training))
        return ops.reshape(x, (batch, length, self.hidden_size))

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "hidden_size": self.hidden_size,
            "num_heads": self.num_heads,
            "intermediate_size": self.intermediate_size,
            "activation": self.activation,
            "layer_norm_eps": self.layer_norm_eps,
            "dropout": self.dropout_rate,
            "attention_dropout": self.attention_dropout_rate,
        }
