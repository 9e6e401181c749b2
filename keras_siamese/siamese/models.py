"""Siamese functional models: every text input goes through the SAME encoder instance, all
roles of a batch in one call (``JoinRoles``, ``SplitRoles``).

The encoder is a ``keras.Model`` called on ``{"input_ids", "attention_mask"}`` (int32 ``[B, T]``)
that returns ``[B, D]`` embeddings. Model inputs are flat: ``{role}_input_ids`` and
``{role}_attention_mask`` for each role, so a ``tf.data`` pipeline can feed them by name. The
models own no weights besides the encoder's. ``training_model`` builds what a loss consumes (its
``roles``); ``pair_model`` and ``triplet_model`` also give scores, for inference.

>>> import keras
>>> from keras_siamese.losses import TripletLoss
>>> ids = keras.Input((None,), dtype="int32", name="input_ids")
>>> mask = keras.Input((None,), dtype="int32", name="attention_mask")
>>> pooled = keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(100, 8)(ids), mask)
>>> encoder = keras.Model({"input_ids": ids, "attention_mask": mask}, pooled)
>>> pair_model(encoder).output.shape, training_model(encoder, TripletLoss()).output.shape
((None,), (None, 3, 8))
>>> sorted(in_batch_model(encoder, num_negatives=1).input)[:2]
['anchor_attention_mask', 'anchor_input_ids']
"""

from collections.abc import Sequence
from typing import Literal

from keras_siamese import backend  # noqa: F401  (selects the TensorFlow backend first)

# isort: split
import keras
from keras import ops

from keras_siamese.losses.base import negative_roles
from keras_siamese.losses.cached_multiple_negatives_ranking import (
    CachedMultipleNegativesRankingLoss,
)
from keras_siamese.siamese.distances import PairScore, score_layer
from keras_siamese.siamese.joined_roles import JoinRoles, SplitRoles


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


def text_inputs(roles: Sequence[str]) -> dict[str, keras.KerasTensor]:
    """One ``{role}_input_ids`` and ``{role}_attention_mask`` int32 ``[B, T]`` input per role."""
    return {
        f"{role}_{field}": keras.Input(shape=(None,), dtype="int32", name=f"{role}_{field}")
        for role in roles
        for field in ("input_ids", "attention_mask")
    }


def _encode(encoder: keras.Model, inputs: dict, roles: Sequence[str]) -> list:
    """Each role's embeddings ``[B, D]``, from one encoder call on all roles' rows."""
    ids = [inputs[f"{role}_input_ids"] for role in roles]
    masks = [inputs[f"{role}_attention_mask"] for role in roles]
    if len(roles) == 1:
        return [encoder({"input_ids": ids[0], "attention_mask": masks[0]})]
    return SplitRoles(len(roles))(encoder(JoinRoles()((ids, masks))))


def _score_layer(score: str | PairScore, kind: Literal["similarity", "distance"]) -> PairScore:
    return score if isinstance(score, PairScore) else score_layer(score, kind)


def _embeddings_model(encoder: keras.Model, roles: Sequence[str], name: str) -> keras.Model:
    inputs = text_inputs(roles)
    embeddings = _encode(encoder, inputs, roles)
    outputs = Stack(name="embeddings")(embeddings) if len(roles) > 1 else embeddings[0]
    return keras.Model(inputs, outputs, name=name)


def pair_model(
    encoder: keras.Model,
    similarity: str | PairScore = "cosine",
    output: Literal["score", "embeddings"] = "score",
    name: str = "pair_model",
) -> keras.Model:
    """``text_a``/``text_b`` -> ``similarity`` ``[B]``, or embeddings ``[B, 2, D]``."""
    if output == "embeddings":
        return _embeddings_model(encoder, ("text_a", "text_b"), name)
    if output != "score":
        raise ValueError(f"output must be 'score' or 'embeddings', got {output!r}.")
    inputs = text_inputs(("text_a", "text_b"))
    scores = _score_layer(similarity, "similarity")(_encode(encoder, inputs, ("text_a", "text_b")))
    return keras.Model(inputs, scores, name=name)


def triplet_model(
    encoder: keras.Model,
    distance: str | PairScore = "euclidean",
    output: Literal["distances", "embeddings"] = "distances",
    name: str = "triplet_model",
) -> keras.Model:
    """``anchor``/``positive``/``negative`` -> ``[B, 2]`` (d(a, p), d(a, n)) or ``[B, 3, D]``."""
    roles = ("anchor", "positive", "negative")
    if output == "embeddings":
        return _embeddings_model(encoder, roles, name)
    if output != "distances":
        raise ValueError(f"output must be 'distances' or 'embeddings', got {output!r}.")
    inputs = text_inputs(roles)
    anchor, positive, negative = _encode(encoder, inputs, roles)
    layer = _score_layer(distance, "distance")
    outputs = Stack(name="distances")([layer([anchor, positive]), layer([anchor, negative])])
    return keras.Model(inputs, outputs, name=name)


def in_batch_model(
    encoder: keras.Model, num_negatives: int = 0, name: str = "in_batch_model"
) -> keras.Model:
    """``anchor``/``positive``/``negative_1..k`` -> stacked embeddings ``[B, 2 + k, D]``."""
    roles = ("anchor", "positive", *negative_roles(num_negatives))
    return _embeddings_model(encoder, roles, name)


def loss_roles(loss: keras.losses.Loss, num_negatives: int = 0) -> tuple[str, ...]:
    """The text columns ``loss`` consumes, in order (its ``roles``, then any negatives)."""
    roles = getattr(loss, "roles", None)
    if not roles:
        raise ValueError(
            f"{type(loss).__name__} does not declare the text columns it consumes: subclass "
            "keras_siamese.losses.SiameseLoss or give it a `roles` attribute, e.g. "
            "('text_a', 'text_b'), and a `label_kind`."
        )
    extra = negative_roles(num_negatives) if getattr(loss, "takes_negatives", False) else ()
    return (*roles, *extra)


def training_model(
    encoder: keras.Model, loss: keras.losses.Loss, num_negatives: int = 0
) -> keras.Model:
    """The model that feeds ``loss``: one encoder branch per role it consumes, outputting the
    embeddings stacked ``[B, n, D]`` in role order (``[B, D]`` for a single role). For a
    ``CachedMultipleNegativesRankingLoss``, a ``GradCacheModel``: the same model, trained
    ``loss.mini_batch_size`` rows at a time. A loss with a ``head`` (``SoftmaxLoss``'s
    classifier) gets the head's output, and the head's weights are trained with the encoder's."""
    roles = loss_roles(loss, num_negatives)
    if isinstance(loss, CachedMultipleNegativesRankingLoss):
        from keras_siamese.siamese.grad_cache import GradCacheModel  # it builds on this module

        return GradCacheModel(encoder, roles, loss.mini_batch_size)
    model = _embeddings_model(encoder, roles, "training_model")
    head = getattr(loss, "head", None)
    return keras.Model(model.input, head(model.output), name=model.name) if head else model
