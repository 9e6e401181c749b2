"""``make_optimizer``'s fused AdamW: the update of ``keras.optimizers.AdamW`` (and of torch's
AdamW on a dense embedding gradient), one kernel per variable."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_siamese.training import TrainingConfig, WarmupLinearDecay, make_optimizer
from keras_siamese.training.optimizer import NO_DECAY


def _variables() -> list[keras.Variable]:
    rng = np.random.default_rng(0)
    return [
        keras.Variable(rng.normal(size=(6, 4)).astype("float32"), name="kernel"),
        keras.Variable(rng.normal(size=(4,)).astype("float32"), name="bias"),
        keras.Variable(rng.normal(size=(10, 4)).astype("float32"), name="embeddings"),
    ]


def _gradients(step: int) -> list:
    rng = np.random.default_rng(step + 1)
    dense = [rng.normal(size=(6, 4)) * 3, rng.normal(size=(4,)) * 0.1]
    rows = tf.constant([1, 7, 1])  # repeated rows, as an embedding's gradient has
    sparse = tf.IndexedSlices(tf.constant(rng.normal(size=(3, 4)), tf.float32), rows, [10, 4])
    return [tf.constant(g, tf.float32) for g in dense] + [sparse]


@pytest.mark.parametrize("clipnorm", [1.0, None])
def test_fused_adamw_updates_as_keras_adamw(clipnorm):
    config = TrainingConfig(learning_rate=1e-2, weight_decay=0.1, clipnorm=clipnorm)
    ours, theirs = _variables(), _variables()
    fused = make_optimizer(config, total_steps=10)
    keras_adamw = keras.optimizers.AdamW(
        WarmupLinearDecay(config.learning_rate, 1, 10), weight_decay=0.1, global_clipnorm=clipnorm
    )
    keras_adamw.exclude_from_weight_decay(var_names=list(NO_DECAY))
    for step in range(4):
        fused.apply(_gradients(step), ours)
        # An embedding's gradient is summed over its repeated rows first, as torch's dense one:
        # Keras' AdamW given the IndexedSlices squares each repeat before summing them.
        keras_adamw.apply([tf.convert_to_tensor(g) for g in _gradients(step)], theirs)
    for mine, reference in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(mine.numpy(), reference.numpy(), rtol=1e-5, atol=1e-6)
    assert not np.allclose(ours[1].numpy(), _variables()[1].numpy())  # it did train
    paths = [[v.path.split("/", 1)[1] for v in o.variables] for o in (fused, keras_adamw)]
    assert paths[0] == paths[1]  # its backups are AdamW's


def test_a_repeated_embedding_row_is_updated_by_its_summed_gradient():
    """A token twice in a batch: Adam's second moment is the square of the summed gradient,
    not (as Keras' AdamW computes from IndexedSlices) the sum of the squares."""
    config = TrainingConfig(learning_rate=1e-2, weight_decay=0.0, clipnorm=None, warmup_ratio=0)
    table = keras.Variable(np.zeros((3, 2), "float32"))
    optimizer = make_optimizer(config, total_steps=10)
    twice = tf.IndexedSlices(tf.constant([[1.0, -1.0], [1.0, 3.0]]), tf.constant([1, 1]), [3, 2])
    optimizer.apply([twice], [table])
    summed = np.array([2.0, 2.0])  # 1 + 1, -1 + 3
    velocity = optimizer.variables[-1].numpy()[1]
    np.testing.assert_allclose(velocity, (1 - 0.999) * summed**2, rtol=1e-4)
