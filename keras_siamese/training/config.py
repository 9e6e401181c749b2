"""``TrainingConfig``: the settings of one training run, with common-practice defaults."""

import copy
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import keras

from keras_siamese.data.batching import BATCH_SAMPLERS
from keras_siamese.losses import get_loss


@dataclass
class TrainingConfig:
    """Defaults follow sentence-transformers' fine-tuning recipes: AdamW, lr 2e-5, 10% linear
    warm-up then linear decay, the gradients' global norm clipped at 1, weight decay 0.01 (not
    on biases and LayerNorm), batch 16, one epoch, seed 42. The learning rate, warm-up ratio,
    weight decay and clipping norm must be finite numbers (``clipnorm`` may be ``None``: no
    clipping).

    ``checkpoint_every``: steps between backups (see ``fit``'s ``backup_dir``) and
    evaluations; ``None`` means once per epoch. ``mixed_precision``: ``"mixed_bfloat16"`` or
    ``"mixed_float16"`` (set before the encoder is built). ``loss``: a registered name
    (``keras_siamese.losses.LOSSES``, built with ``loss_options``) or a ``keras.losses.Loss``.
    ``batch_sampler``: how batches are drawn, a name in ``keras_siamese.data.BATCH_SAMPLERS``
    (as sentence-transformers' ``BatchSamplers``); ``None`` lets the loss decide
    (``batch_sampler_for``): ``group_by_label`` for class labels of single texts (the batch
    triplet losses need two examples of a label in a batch), ``no_duplicates`` for in-batch
    negatives (a duplicate would be a false negative), else plain shuffled batches.
    ``length_bucketing``: the rows are sorted by text length within chunks of 50 batches before
    the batches are shuffled, so a batch pads little (faster: MiniLM distillation on STSb trains
    at about 1.7x the pairs per second); ``False`` gives sentence-transformers' batches, rows in
    random order. ``group_by_label`` batches are never length-bucketed.
    ``gradient_accumulation_steps``: one optimizer update per that many batches, on their
    averaged gradients (Keras' optimizer option), for an effective batch of ``batch_size``
    times it in the memory of one batch
    (in-batch-negative losses still see ``batch_size`` candidates: for more, see the cached
    losses); the learning-rate schedule runs over the batches. ``distribute``: ``None``, or
    ``"mirrored"`` / ``"multi-worker"``, the ``tf.distribute`` strategy ``fit`` trains under
    when given none (see ``keras_siamese.training.distribute``); ``batch_size`` is then the
    global batch, split across the replicas.

    Several datasets (``fit``'s ``train`` a mapping of names to ``Examples``): ``loss`` is a
    mapping of the same names to losses, ``loss_options`` (if any) a mapping of some of those
    names to their loss's options, and ``multi_dataset_sampler`` interleaves their batches:
    ``"proportional"`` or ``"round_robin"`` (see ``keras_siamese.training.multi_dataset``).
    """

    loss: str | keras.losses.Loss | Mapping[str, str | keras.losses.Loss] = "cosent"
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
    length_bucketing: bool = True
    gradient_accumulation_steps: int = 1
    distribute: str | None = None
    multi_dataset_sampler: str = "proportional"

    def __post_init__(self) -> None:
        get_losses(self.loss, self.loss_options)  # an unknown name or bad options fail here
        if self.multi_dataset_sampler not in ("proportional", "round_robin"):
            raise ValueError(
                "multi_dataset_sampler must be proportional or round_robin, "
                f"got {self.multi_dataset_sampler!r}."
            )
        for name in ("learning_rate", "warmup_ratio", "weight_decay", "clipnorm"):
            value = getattr(self, name)
            if name == "clipnorm" and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise ValueError(f"{name} must be a number, got {value!r}.")
            if not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value}.")
        if not isinstance(self.length_bucketing, bool):
            bucketing = self.length_bucketing
            raise ValueError(f"length_bucketing must be True or False, got {bucketing!r}.")
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

        def serialized(loss):
            return loss if isinstance(loss, str) else keras.losses.serialize(loss)

        loss = self.loss
        if isinstance(loss, Mapping):
            return {"loss": {name: serialized(value) for name, value in loss.items()}, **settings}
        return {"loss": serialized(loss), **settings}


def get_losses(
    loss: str | keras.losses.Loss | Mapping[str, str | keras.losses.Loss],
    options: dict[str, Any] | None = None,
) -> keras.losses.Loss | dict[str, keras.losses.Loss]:
    """``get_loss(loss, options)``, or for a mapping of losses (one per dataset), a dict of
    them, each built with ``options[name]`` (``options``: a mapping of some of the names).

    >>> sorted(get_losses({"sts": "cosent", "nli": "mnrl"}, {"sts": {"scale": 10.0}}))
    ['nli', 'sts']
    """
    if not isinstance(loss, Mapping):
        return get_loss(loss, options)
    if not loss:
        raise ValueError("loss is an empty mapping: give a loss per dataset.")
    options = options or {}
    if not isinstance(options, Mapping) or set(options) - set(loss):
        raise ValueError(
            f"with a loss per dataset ({sorted(loss)}), loss_options must map some of those "
            f"names to options; got {options!r}."
        )
    return {name: get_loss(value, options.get(name)) for name, value in loss.items()}


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
    if getattr(loss, "label_kind", None) == "class" and getattr(loss, "roles", None) == ("text",):
        return "group_by_label"  # the batch triplet losses; not SoftmaxLoss's labelled pairs
    # in-batch negatives (and GIST's, guided by a model's embeddings): no false ones
    if getattr(loss, "label_kind", None) == "none" or getattr(loss, "registry_name", "") == "gist":
        return "no_duplicates"
    return "batch_sampler"


def batch_plan_options(config: TrainingConfig, loss: keras.losses.Loss) -> dict[str, bool]:
    """The ``BatchPlan`` (``make_dataset``) options of ``config``'s batches for ``loss``: its
    sampler (``batch_sampler_for``) and its length bucketing.

    >>> from keras_siamese import losses
    >>> batch_plan_options(TrainingConfig(length_bucketing=False), losses.CoSENTLoss())
    {'length_bucketing': False}
    >>> batch_plan_options(TrainingConfig(), losses.BatchHardTripletLoss())
    {'group_by_label': True, 'length_bucketing': False}
    """
    sampler = batch_sampler_for(config, loss)
    bucketing = config.length_bucketing and sampler != "group_by_label"
    return {**BATCH_SAMPLERS[sampler], "length_bucketing": bucketing}
