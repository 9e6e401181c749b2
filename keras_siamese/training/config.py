"""``TrainingConfig``: the settings of one training run, with common-practice defaults."""

import copy
import math
import numbers
from dataclasses import dataclass, fields
from typing import Any

import keras

from keras_siamese.data.batching import BATCH_SAMPLERS
from keras_siamese.losses import get_loss


@dataclass
class TrainingConfig:
    """Defaults follow sentence-transformers' fine-tuning recipes: AdamW, lr 2e-5, 10% linear
    warm-up then linear decay, gradient clipping at norm 1, weight decay 0.01 (not on biases and
    LayerNorm), batch 16, one epoch, seed 42. The learning rate, warm-up ratio, weight decay and
    clipping norm must be finite numbers (``clipnorm`` may be ``None``: no clipping).

    ``checkpoint_every``: steps between backups (see ``fit``'s ``backup_dir``) and
    evaluations; ``None`` means once per epoch. ``mixed_precision``: ``"mixed_bfloat16"`` or
    ``"mixed_float16"`` (set before the encoder is built). ``loss``: a registered name
    (``keras_siamese.losses.LOSSES``, built with ``loss_options``) or a ``keras.losses.Loss``.
    ``batch_sampler``: how batches are drawn, a name in ``keras_siamese.data.BATCH_SAMPLERS``
    (as sentence-transformers' ``BatchSamplers``); ``None`` lets the loss decide
    (``batch_sampler_for``): ``group_by_label`` for class labels (the batch triplet losses need
    two examples of a label in a batch), ``no_duplicates`` for in-batch negatives (a duplicate
    would be a false negative), else plain shuffled batches. ``gradient_accumulation_steps``:
    one optimizer update per that many batches, on their averaged gradients (Keras' optimizer
    option), for an effective batch of ``batch_size`` times it in the memory of one batch
    (in-batch-negative losses still see ``batch_size`` candidates: for more, see the cached
    losses); the learning-rate schedule runs over the batches. ``distribute``: ``None``, or
    ``"mirrored"`` / ``"multi-worker"``, the ``tf.distribute`` strategy ``fit`` trains under
    when given none (see ``keras_siamese.training.distribute``); ``batch_size`` is then the
    global batch, split across the replicas.
    """

    loss: str | keras.losses.Loss = "cosent"
    epochs: int = 1
    batch_size: int = 16
    learning_rate: float = 2e-5
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    clipnorm: float = 1.0
    seed: int = 42
    checkpoint_every: int | None = None
    mixed_precision: str | None = None
    loss_options: dict[str, Any] | None = None
    batch_sampler: str | None = None
    gradient_accumulation_steps: int = 1
    distribute: str | None = None

    def __post_init__(self) -> None:
        get_loss(self.loss, self.loss_options)  # an unknown name or bad options fail here
        for name in ("learning_rate", "warmup_ratio", "weight_decay", "clipnorm"):
            value = getattr(self, name)
            if name == "clipnorm" and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise ValueError(f"{name} must be a number, got {value!r}.")
            if not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value}.")
        for name in ("epochs", "batch_size", "gradient_accumulation_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}.")
        if not 0 <= self.warmup_ratio < 1:
            raise ValueError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}.")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}.")
        if self.checkpoint_every is not None and self.checkpoint_every < 1:
            raise ValueError(f"checkpoint_every must be positive, got {self.checkpoint_every}.")
        if self.batch_sampler is not None and self.batch_sampler not in BATCH_SAMPLERS:
            raise ValueError(
                f"batch_sampler must be one of {', '.join(BATCH_SAMPLERS)}, "
                f"got {self.batch_sampler!r}."
            )
        if self.distribute not in (None, "mirrored", "multi-worker"):
            raise ValueError(
                f"distribute must be mirrored or multi-worker, got {self.distribute!r}."
            )
        if self.mixed_precision not in (None, "mixed_bfloat16", "mixed_float16"):
            raise ValueError(
                f"mixed_precision must be mixed_bfloat16 or mixed_float16, "
                f"got {self.mixed_precision!r}."
            )

    def to_dict(self) -> dict[str, Any]:
        """The settings as JSON-ready values (a loss instance as its Keras serialisation)."""
        settings = {
            f.name: copy.deepcopy(getattr(self, f.name)) for f in fields(self) if f.name != "loss"
        }
        loss = self.loss
        return {"loss": loss if isinstance(loss, str) else keras.losses.serialize(loss), **settings}


def batch_sampler_for(config: TrainingConfig, loss: keras.losses.Loss) -> str:
    """``config.batch_sampler``, or the one ``loss`` needs (see ``TrainingConfig``).

    >>> from keras_siamese import losses
    >>> batch_sampler_for(TrainingConfig(), losses.BatchHardTripletLoss())
    'group_by_label'
    >>> batch_sampler_for(TrainingConfig(), losses.MultipleNegativesRankingLoss())
    'no_duplicates'
    >>> batch_sampler_for(TrainingConfig(batch_sampler="batch_sampler"), losses.TripletLoss())
    'batch_sampler'
    """
    if config.batch_sampler is not None:
        return config.batch_sampler
    if getattr(loss, "label_kind", None) == "class":
        return "group_by_label"
    if getattr(loss, "label_kind", None) == "none":  # in-batch negatives: no false ones
        return "no_duplicates"
    return "batch_sampler"
