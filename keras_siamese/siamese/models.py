"""Siamese functional models: every text input goes through the SAME encoder instance.

The encoder is a ``keras.Model`` called on ``{"input_ids", "attention_mask"}`` (int32 ``[B, T]``)
that returns ``[B, D]`` embeddings. Model inputs are flat: ``{role}_input_ids`` and
``{role}_attention_mask`` for each role, so a ``tf.data`` pipeline can feed them by name. The
models own no weights besides the encoder's.

>>> import keras_siamese, keras
>>> ids = keras.Input((None,), dtype="int32", name="input_ids")
>>> mask = keras.Input((None,), dtype="int32", name="attention_mask")
>>> pooled = keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(100, 8)(ids), mask)
>>> encoder = keras.Model({"input_ids": ids, "attention_mask": mask}, pooled)
>>> pair_model(encoder).output.shape, triplet_model(encoder).output.shape
((None,), (None, 2))
>>> sorted(in_batch_model(encoder, num_negatives=1).input)[:2]
['anchor_attention_mask', 'anchor_input_ids']
"""

from collections.abc import Sequence
from typing import Literal

import keras
from keras import ops

from keras_siamese.siamese.distances import Distance, get_distance

PAIR_ROLES = ("text_a", "text_b")
TRIPLET_ROLES = ("anchor", "positive", "negative")
SINGLE_ROLES = ("text",)
MODEL_KINDS = ("pair", "triplet", "in_batch", "single_text")


@keras.saving.register_keras_serializable(package="keras_siamese")
class Stack(keras.layers.Layer):
    """Stacks same-shaped tensors along a new ``axis``: n times ``[B, D]`` -> ``[B, n, D]``."""

    def __init__(self, axis: int = 1, **kwargs) -> None:
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, inputs):
        return ops.stack(inputs, axis=self.axis)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape[0])
        axis = self.axis if self.axis >= 0 else len(shape) + 1 + self.axis
        shape.insert(axis, len(input_shape))
        return tuple(shape)

    def get_config(self) -> dict:
        return {**super().get_config(), "axis": self.axis}


def in_batch_roles(num_negatives: int = 0) -> tuple[str, ...]:
    """Roles of the in-batch model: anchor, positive, negative_1 ... negative_k."""
    return ("anchor", "positive", *(f"negative_{i}" for i in range(1, num_negatives + 1)))


def text_inputs(roles: Sequence[str]) -> dict[str, keras.KerasTensor]:
    """One ``{role}_input_ids`` and ``{role}_attention_mask`` int32 ``[B, T]`` input per role."""
    return {
        f"{role}_{field}": keras.Input(shape=(None,), dtype="int32", name=f"{role}_{field}")
        for role in roles
        for field in ("input_ids", "attention_mask")
    }


def _encode(encoder: keras.Model, inputs: dict, roles: Sequence[str]) -> list:
    return [
        encoder(
            {
                "input_ids": inputs[f"{role}_input_ids"],
                "attention_mask": inputs[f"{role}_attention_mask"],
            }
        )
        for role in roles
    ]


def _distance_layer(distance: str | Distance) -> Distance:
    return distance if isinstance(distance, Distance) else get_distance(distance)()


def pair_model(
    encoder: keras.Model,
    distance: str | Distance = "cosine",
    output: Literal["score", "embeddings"] = "score",
    name: str = "pair_model",
) -> keras.Model:
    """``text_a``/``text_b`` -> score ``[B]`` under ``distance``, or embeddings ``[B, 2, D]``."""
    inputs = text_inputs(PAIR_ROLES)
    a, b = _encode(encoder, inputs, PAIR_ROLES)
    if output == "score":
        outputs = _distance_layer(distance)([a, b])
    elif output == "embeddings":
        outputs = Stack(name="embeddings")([a, b])
    else:
        raise ValueError(f"output must be 'score' or 'embeddings', got {output!r}.")
    return keras.Model(inputs, outputs, name=name)


def triplet_model(
    encoder: keras.Model,
    distance: str | Distance = "euclidean",
    output: Literal["distances", "embeddings"] = "distances",
    name: str = "triplet_model",
) -> keras.Model:
    """``anchor``/``positive``/``negative`` -> ``[B, 2]`` (d(a, p), d(a, n)) or ``[B, 3, D]``."""
    inputs = text_inputs(TRIPLET_ROLES)
    anchor, positive, negative = embeddings = _encode(encoder, inputs, TRIPLET_ROLES)
    if output == "distances":
        layer = _distance_layer(distance)
        outputs = Stack(name="distances")([layer([anchor, positive]), layer([anchor, negative])])
    elif output == "embeddings":
        outputs = Stack(name="embeddings")(embeddings)
    else:
        raise ValueError(f"output must be 'distances' or 'embeddings', got {output!r}.")
    return keras.Model(inputs, outputs, name=name)


def in_batch_model(
    encoder: keras.Model, num_negatives: int = 0, name: str = "in_batch_model"
) -> keras.Model:
    """``anchor``/``positive``/``negative_1..k`` -> stacked embeddings ``[B, 2 + k, D]``."""
    roles = in_batch_roles(num_negatives)
    inputs = text_inputs(roles)
    outputs = Stack(name="embeddings")(_encode(encoder, inputs, roles))
    return keras.Model(inputs, outputs, name=name)


def single_text_model(encoder: keras.Model, name: str = "single_text_model") -> keras.Model:
    """``text`` -> embeddings ``[B, D]`` (for the label-based batch triplet losses)."""
    inputs = text_inputs(SINGLE_ROLES)
    (outputs,) = _encode(encoder, inputs, SINGLE_ROLES)
    return keras.Model(inputs, outputs, name=name)


def build_model(encoder: keras.Model, kind: str, num_negatives: int = 0) -> keras.Model:
    """The training model of a ``kind`` in ``MODEL_KINDS``, always outputting embeddings.

    With embeddings as ``y_pred`` each loss scores them with its own ``distance`` (and
    ``MatryoshkaLoss`` can truncate them); ``kind`` comes from ``keras_siamese.losses.LOSSES``.
    """
    if kind == "pair":
        return pair_model(encoder, output="embeddings")
    if kind == "triplet":
        return triplet_model(encoder, output="embeddings")
    if kind == "in_batch":
        return in_batch_model(encoder, num_negatives)
    if kind == "single_text":
        return single_text_model(encoder)
    raise ValueError(f"Unknown model kind {kind!r}; expected one of {MODEL_KINDS}.")
