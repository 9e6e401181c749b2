"""``make_optimizer``'s fused AdamW: the variables of ``keras.optimizers.AdamW``, the update of
torch's AdamW (an embedding's gradient dense, its repeated rows summed), one kernel per
variable."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_siamese.training import TrainingConfig, WarmupLinearDecay, make_optimizer


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


def _torch_adamw_run(config: TrainingConfig, steps: int, scale: float) -> list[np.ndarray]:
    """torch's AdamW (as sentence-transformers' trainer builds it: epsilon 1e-8, no decay on
    biases, ``clip_grad_norm_``) over ``steps`` of ``_gradients`` times ``scale``, the learning
    rate of each step ``make_optimizer``'s schedule's."""
    import torch

    params = [torch.nn.Parameter(torch.tensor(v.numpy())) for v in _variables()]
    kernel, bias, embeddings = params
    optimizer = torch.optim.AdamW(
        [
            {"params": [kernel, embeddings], "weight_decay": config.weight_decay},
            {"params": [bias], "weight_decay": 0.0},
        ],
        lr=config.learning_rate,
        eps=1e-8,
    )
    schedule = WarmupLinearDecay(config.learning_rate, 1, 10)
    for step in range(steps):
        for param, grad in zip(params, _gradients(step), strict=True):
            param.grad = torch.tensor(tf.convert_to_tensor(grad).numpy() * scale)  # rows summed
        if config.clipnorm:
            torch.nn.utils.clip_grad_norm_(params, config.clipnorm)
        for group in optimizer.param_groups:
            group["lr"] = float(schedule(step))
        optimizer.step()
    return [p.detach().numpy() for p in params]


@pytest.mark.reference
@pytest.mark.parametrize("clipnorm", [1.0, None])
@pytest.mark.parametrize("scale", [1.0, 1e-6])
def test_fused_adamw_updates_as_torch_adamw(clipnorm, scale):
    """Also for gradients as small as a distilled student's (1e-6), where Keras' epsilon (added
    before the bias correction) damped the first steps' updates several-fold."""
    config = TrainingConfig(learning_rate=1e-2, weight_decay=0.1, clipnorm=clipnorm)
    ours = _variables()
    fused = make_optimizer(config, total_steps=10)
    for step in range(4):
        gradients = _gradients(step)
        gradients[:2] = [g * scale for g in gradients[:2]]
        gradients[2] = tf.IndexedSlices(gradients[2].values * scale, gradients[2].indices, [10, 4])
        fused.apply(gradients, ours)
    for mine, reference in zip(ours, _torch_adamw_run(config, 4, scale), strict=True):
        np.testing.assert_allclose(mine.numpy(), reference, rtol=1e-5, atol=1e-6)
    assert not np.allclose(ours[1].numpy(), _variables()[1].numpy())  # it did train


def test_fused_adamw_has_keras_adamw_variables():
    """Its backups are AdamW's: the same variable paths."""
    fused = make_optimizer(TrainingConfig(), total_steps=10)
    keras_adamw = keras.optimizers.AdamW(WarmupLinearDecay(2e-5, 1, 10), name="adamw")
    for optimizer in (fused, keras_adamw):
        optimizer.build(_variables())
    paths = [[v.path.split("/", 1)[1] for v in o.variables] for o in (fused, keras_adamw)]
    assert paths[0] == paths[1]


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


def test_warmup_steps_round_up_as_transformers_trainer():
    """``TrainingArguments.get_warmup_steps``: ``ceil(ratio * steps)`` (331 steps: 34, not 33)."""
    optimizer = make_optimizer(TrainingConfig(warmup_ratio=0.1), total_steps=331)
    assert optimizer._learning_rate.warmup_steps == 34
