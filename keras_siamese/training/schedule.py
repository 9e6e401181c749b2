"""Linear warm-up then linear decay to zero, the schedule sentence-transformers trains with."""

import keras
from keras import ops

from keras_siamese import backend as _backend  # noqa: F401


@keras.saving.register_keras_serializable(package="keras_siamese")
class WarmupLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Rises linearly from 0 to ``peak`` over ``warmup_steps``, then falls linearly to 0 at
    ``total_steps`` (``transformers.get_linear_schedule_with_warmup``).

    >>> schedule = WarmupLinearDecay(peak=1.0, warmup_steps=10, total_steps=110)
    >>> [float(schedule(step)) for step in (0, 5, 10, 60, 110, 200)]
    [0.0, 0.5, 1.0, 0.5, 0.0, 0.0]
    """

    def __init__(self, peak: float, warmup_steps: int, total_steps: int) -> None:
        if total_steps < 1 or not 0 <= warmup_steps <= total_steps:
            raise ValueError(
                f"Need 0 <= warmup_steps <= total_steps and total_steps >= 1; "
                f"got warmup_steps={warmup_steps}, total_steps={total_steps}."
            )
        self.peak = peak
        self.warmup_steps = warmup_steps
        self.total_steps = total_steps

    def __call__(self, step):
        step = ops.cast(step, "float32")
        warmup = step / max(self.warmup_steps, 1)
        decay = (self.total_steps - step) / max(self.total_steps - self.warmup_steps, 1)
        factor = ops.where(step < self.warmup_steps, warmup, decay)
        return self.peak * ops.clip(factor, 0.0, 1.0)

    def get_config(self) -> dict:
        return {
            "peak": self.peak,
            "warmup_steps": self.warmup_steps,
            "total_steps": self.total_steps,
        }
