"""``GradCacheModel``: the training model of ``CachedMultipleNegativesRankingLoss`` (GradCache,
Gao et al. 2021): a large batch's exact gradients in the activation memory of a mini-batch.

>>> from keras_siamese.losses import CachedMultipleNegativesRankingLoss
>>> from keras_siamese.siamese import training_model
>>> model = training_model(tiny_encoder, CachedMultipleNegativesRankingLoss(mini_batch_size=4))
>>> type(model).__name__, model.output.shape, model.mini_batch_size
('GradCacheModel', (None, 2, 16), 4)
"""

from collections.abc import Callable, Sequence

from keras_siamese import backend  # noqa: F401  (selects the TensorFlow backend first)

# isort: split
import keras
import tensorflow as tf
from keras.src.losses.loss import unscale_loss_for_distribution

from keras_siamese.siamese.models import _embeddings_model


def _seed_generators(layer: keras.Layer) -> list[keras.random.SeedGenerator]:
    """The random state of ``layer`` and its sublayers (their Dropout layers')."""
    return list(
        dict.fromkeys(
            generator
            for sublayer in layer._flatten_layers(include_self=True, recursive=True)
            for generator in sublayer._seed_generators
        )
    )


def _text_width(mask: tf.Tensor) -> tf.Tensor:
    """The columns of ``mask`` ``[b, L]`` up to its last token: the padding columns that all
    its rows share at the end are cut off (leading padding keeps the positions)."""
    used = tf.cast(tf.reduce_any(tf.not_equal(mask, 0), axis=0), tf.int32)
    return tf.size(used) - tf.argmax(tf.reverse(used, [0]), output_type=tf.int32)


@keras.saving.register_keras_serializable(package="keras_siamese")
class GradCacheModel(keras.Model):
    """``training_model``'s functional model (one ``encoder`` branch per role, the embeddings
    stacked ``[B, n, D]``) whose ``train_step`` is GradCache's, ``mini_batch_size`` rows at a
    time, each mini-batch cut to its own longest text.

    A step: (1) embeds every role's rows in mini-batches, keeping no activations; (2) computes
    the compiled loss on the whole ``[B, n, D]`` embeddings and its gradient with respect to
    them; (3) puts the encoder's random state (its ``SeedGenerator``s) back as it was before (1),
    embeds the same mini-batches again in the same order, so with the same dropout masks, under
    a tape, and back-propagates each one's cached gradient into the parameters; (4) applies the
    summed gradients once, as ``keras.Model.train_step`` does (loss scaling, the ``loss``
    metric, distribution). The mini-batches run one after another (``tf.while_loop`` with
    ``parallel_iterations=1``), so only one mini-batch's activations are alive at a time. The
    gradients equal the plain model's whenever its random draws are those of the mini-batches
    (no dropout, or ``mini_batch_size`` at least the batch). Its weights are the encoder's.
    """

    def __init__(
        self,
        encoder: keras.Model,
        roles: Sequence[str],
        mini_batch_size: int = 32,
        name: str = "training_model",
        **kwargs,
    ) -> None:
        functional = _embeddings_model(encoder, tuple(roles), name)
        super().__init__(functional.input, functional.output, name=name, **kwargs)
        self.encoder, self.roles, self.mini_batch_size = encoder, tuple(roles), mini_batch_size

    def _mini_batches(self, x: dict, role: str) -> tuple[tf.Tensor, Callable]:
        """The number of mini-batches of ``role`` and a function embedding the i-th one."""
        ids, mask = x[f"{role}_input_ids"], x[f"{role}_attention_mask"]
        size = self.mini_batch_size
        count = (tf.shape(ids)[0] + size - 1) // size

        def embed(i):
            rows = slice(i * size, (i + 1) * size)
            width = _text_width(mask[rows])
            inputs = {"input_ids": ids[rows, :width], "attention_mask": mask[rows, :width]}
            return rows, self.encoder(inputs, training=True)

        return count, embed

    def _embed(self, x: dict, role: str) -> tf.Tensor:
        """``role``'s embeddings ``[B, D]``, a mini-batch at a time, without gradients."""
        count, embed = self._mini_batches(x, role)
        output = self.outputs[0]
        chunks = tf.TensorArray(
            output.dtype, size=count, infer_shape=False, element_shape=[None, output.shape[-1]]
        )

        def body(i, chunks):
            return i + 1, chunks.write(i, tf.stop_gradient(embed(i)[1]))

        _, chunks = tf.while_loop(
            lambda i, _: i < count, body, (tf.constant(0), chunks), parallel_iterations=1
        )
        return chunks.concat()

    def _backward(
        self, x: dict, role: str, cached: tf.Tensor, sums: list, connected: list
    ) -> list[tf.Tensor]:
        """``sums`` plus the gradients of ``role``'s embeddings, each mini-batch's cached
        gradient ``cached`` ``[B, D]`` back-propagated; ``connected`` marks the variables
        that get one."""
        count, embed = self._mini_batches(x, role)
        variables = self.trainable_variables

        def body(i, sums):
            with tf.GradientTape() as tape:
                rows, embeddings = embed(i)
            grads = tape.gradient(embeddings, variables, output_gradients=cached[rows])
            for k, grad in enumerate(grads):
                connected[k] = connected[k] or grad is not None
            return i + 1, [
                total if grad is None else total + tf.convert_to_tensor(grad)
                for total, grad in zip(sums, grads, strict=True)
            ]

        return tf.while_loop(
            lambda i, _: i < count, body, (tf.constant(0), sums), parallel_iterations=1
        )[1]

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        generators = _seed_generators(self.encoder)
        start = [tf.identity(generator.state.value) for generator in generators]
        embeddings = [self._embed(x, role) for role in self.roles]
        y_pred = tf.stack(embeddings, axis=1) if len(embeddings) > 1 else embeddings[0]
        with tf.GradientTape() as tape:
            tape.watch(y_pred)
            loss = self._compute_loss(
                x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True
            )
            self._loss_tracker.update_state(
                unscale_loss_for_distribution(loss), sample_weight=tf.shape(y_pred)[0]
            )
            loss = self.optimizer.scale_loss(loss)
        cached = tape.gradient(loss, y_pred)
        for generator, state in zip(generators, start, strict=True):
            generator.state.assign(state)  # step (3) replays step (1)'s dropout masks
        variables = self.trainable_variables
        sums = [tf.zeros(variable.shape, variable.dtype) for variable in variables]
        connected = [False] * len(variables)
        for r, role in enumerate(self.roles):
            role_cached = cached[:, r] if len(self.roles) > 1 else cached
            sums = self._backward(x, role, role_cached, sums, connected)
        gradients = [total if c else None for total, c in zip(sums, connected, strict=True)]
        self.optimizer.apply_gradients(zip(gradients, variables, strict=True))
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "roles": list(self.roles),
            "mini_batch_size": self.mini_batch_size,
        }

    @classmethod
    def from_config(cls, config: dict, custom_objects=None) -> "GradCacheModel":
        encoder = keras.saving.deserialize_keras_object(config["encoder"], custom_objects)
        return cls(**{**config, "encoder": encoder})
