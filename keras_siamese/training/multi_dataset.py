"""Several datasets in one run, each with its own loss (sentence-transformers' multi-dataset
training): ``MultiTaskModel`` and ``multi_dataset``.

``fit`` uses them when ``train`` is a mapping of named ``Examples`` and ``config.loss`` a mapping
of the same names to losses. Each batch comes from one dataset and is trained with that
dataset's loss; ``TrainingConfig.multi_dataset_sampler`` interleaves the batches as
sentence-transformers' ``MultiDatasetBatchSamplers``: ``"proportional"`` (every batch of every
dataset once per pass, in a seeded random order) or ``"round_robin"`` (one batch of each in
turn, until the smallest runs out).

>>> scored = ks.data.from_lists(text_a=["a dog", "a cat"] * 2, text_b=["a dog runs", "a car"] * 2,
...                             labels=[0.9, 0.1] * 2)
>>> pairs = ks.data.from_lists(anchor=["a man", "a red car"], positive=["a man plays", "a car"])
>>> tokenizer = tiny_encoder.tokenizer
>>> datasets = {"sts": ks.data.make_dataset(scored, tokenizer, 2, seed=0),
...             "nli": ks.data.make_dataset(pairs, tokenizer, 2, seed=0)}
>>> interleaving_order({"sts": 2, "nli": 1}, "proportional", seed=0)
[1, 0, 0]
>>> stream = multi_dataset(datasets, "proportional", seed=0)
>>> [(int(x["task"]), y["sts"].shape[0], y["nli"].shape[0]) for x, y in stream]
[(1, 0, 2), (0, 2, 0), (0, 2, 0)]
>>> interleaving_order({"sts": 3, "nli": 1}, "round_robin")
[0, 1]

With ``fit``: ``ks.fit(encoder, {"sts": scored, "nli": pairs}, ks.TrainingConfig(loss={"sts":
"cosent", "nli": "mnrl"}))`` logs ``loss``, ``loss_nli`` and ``loss_sts``.
"""

import math
from collections.abc import Mapping

from keras_siamese import backend  # noqa: F401  (selects the TensorFlow backend first)

# isort: split
import keras
import numpy as np
import tensorflow as tf
from keras.src.losses.loss import unscale_loss_for_distribution

from keras_siamese.siamese import training_model

MULTI_DATASET_SAMPLERS = ("proportional", "round_robin")
TASK = "task"


def interleaving_order(
    counts: Mapping[str, int], sampler: str = "proportional", seed: int = 0, passes: int = 1
) -> list[int]:
    """Which dataset (its index in ``counts``) each batch of ``passes`` passes comes from, for
    datasets of ``counts`` batches: ``"proportional"``, every batch of each once per pass,
    shuffled (from ``seed`` and the pass); ``"round_robin"``, ``0, 1, ..., 0, 1, ...`` until
    the smallest has given all its batches."""
    sizes = list(counts.values())
    if sampler not in MULTI_DATASET_SAMPLERS:
        raise ValueError(
            f"multi_dataset_sampler must be one of {', '.join(MULTI_DATASET_SAMPLERS)}, "
            f"got {sampler!r}."
        )
    if not sizes or min(sizes) < 1:
        raise ValueError(f"every dataset needs at least one batch; got {dict(counts)}.")
    order: list[int] = []
    for epoch in range(passes):
        if sampler == "round_robin":
            order += list(range(len(sizes))) * min(sizes)
        else:
            one = np.repeat(np.arange(len(sizes)), sizes)
            np.random.default_rng([seed, epoch]).shuffle(one)
            order += one.tolist()
    return order


def _empty(spec: tf.TensorSpec) -> tf.Tensor:
    """An empty ``[0, ...]`` tensor of ``spec``'s dtype and rank (unknown sizes as 1), with
    ``spec``'s static shape, so that every dataset's batches share one structure."""
    dims = [0] + [1 if d is None else d for d in spec.shape[1:]]
    value = tf.zeros(dims, spec.dtype)
    return tf.compat.v1.placeholder_with_default(value, spec.shape)


def multi_dataset(
    datasets: Mapping[str, tf.data.Dataset],
    sampler: str = "proportional",
    seed: int = 0,
    counts: Mapping[str, int] | None = None,
    passes: int = 1,
) -> tf.data.Dataset:
    """One stream of the batches ``(features, labels)`` of ``datasets`` (each a dataset of
    batches, as ``make_dataset``'s), interleaved by ``interleaving_order`` for ``passes``
    passes. Each batch has the same structure: ``features`` holds ``task`` (int32, the index
    of the dataset it comes from, in ``datasets`` order) and every dataset's features as
    ``"{name}/{key}"`` (the other datasets' empty), ``labels`` a dict of every dataset's labels
    (the others' empty). ``counts``: the batches of a pass of each dataset (default: their
    cardinality). Each dataset is read pass after pass (a new iterator each, so a fresh
    shuffle), ``counts[name]`` batches a pass (round robin: the smallest count), so the stream
    is the same for the same ``seed``."""
    names = list(datasets)
    if counts is None:
        counts = {name: int(datasets[name].cardinality()) for name in names}
        if min(counts.values()) < 1:
            raise ValueError(f"give the counts of batches of datasets of unknown size: {counts}.")
    order = interleaving_order({name: counts[name] for name in names}, sampler, seed, passes)
    per_pass = {name: counts[name] for name in names}
    if sampler == "round_robin":
        per_pass = dict.fromkeys(names, min(per_pass.values()))
    specs = {name: datasets[name].element_spec for name in names}
    streams = []
    for index, name in enumerate(names):

        def common(features, labels, index=index, name=name):
            x = {TASK: tf.constant(index, tf.int32)}
            y = {}
            for other in names:
                other_x, other_y = specs[other]
                for key, spec in other_x.items():
                    active = features[key] if other == name else _empty(spec)
                    x[f"{other}/{key}"] = tf.compat.v1.placeholder_with_default(active, spec.shape)
                y[other] = tf.compat.v1.placeholder_with_default(
                    labels if other == name else _empty(other_y), other_y.shape
                )
            return x, y

        stream = datasets[name].take(per_pass[name]).repeat()
        streams.append(stream.map(common))
    choices = tf.data.Dataset.from_tensor_slices(tf.constant(order, tf.int64))
    stream = tf.data.Dataset.choose_from_datasets(streams, choices)
    return stream.apply(tf.data.experimental.assert_cardinality(len(order)))


def _batch_of_any_size(tensor: tf.Tensor) -> tf.Tensor:
    """``tensor`` with an unknown batch size (and sequence length): traced on one batch (as by
    ``train_on_batch``), the other tasks' branches would see their empty inputs' static shape."""
    shape = [None] * tensor.shape.rank if tensor.dtype.is_integer else [None, *tensor.shape[1:]]
    return tf.compat.v1.placeholder_with_default(tensor, shape)


class MultiTaskModel(keras.Model):
    """One training model per dataset name (``training_model(encoder, losses[name])``, all on
    the one ``encoder``), trained on ``multi_dataset``'s batches: a step runs the batch's task
    (``tf.switch_case`` on ``features["task"]``), its model and its loss, and applies the
    gradients of every trainable weight (the encoder's, and a loss head's such as
    ``SoftmaxLoss``'s classifier, whose gradient is zero on the other tasks' batches). Logs
    ``loss`` and ``loss_{name}`` (the mean of that task's batches so far in the epoch, 0 before
    its first). Compile it with an optimizer only (the losses are its own)."""

    def __init__(
        self,
        encoder: keras.Model,
        losses: Mapping[str, keras.losses.Loss],
        num_negatives: Mapping[str, int] | None = None,
        name: str = "multi_task_model",
        **kwargs,
    ) -> None:
        super().__init__(name=name, **kwargs)
        negatives = num_negatives or {}
        self.task_names = list(losses)
        self.task_losses = dict(losses)
        self.task_models = {
            task: training_model(encoder, loss, negatives.get(task, 0))
            for task, loss in losses.items()
        }
        self.task_trackers = [keras.metrics.Mean(name=f"loss_{task}") for task in self.task_names]
        self.built = True

    def _task_loss(self, task: str, x: dict, y: dict) -> tuple[tf.Tensor, tf.Tensor]:
        model = self.task_models[task]
        inputs = {key: _batch_of_any_size(x[f"{task}/{key}"]) for key in model.input}
        y_pred = model(inputs, training=True)
        y_true = _batch_of_any_size(y[task])
        loss = tf.reshape(tf.cast(self.task_losses[task](y_true, y_pred), "float32"), [])
        extra = [tf.cast(value, "float32") for value in model.losses]
        if extra:
            loss = loss + tf.add_n(extra)
        size = tf.cast(tf.shape(next(iter(inputs.values())))[0], "float32")
        return loss, size

    def train_step(self, data):
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        task = tf.reshape(tf.cast(x[TASK], tf.int32), [])
        branches = [(lambda name=name: self._task_loss(name, x, y)) for name in self.task_names]
        with tf.GradientTape() as tape:
            loss, size = tf.switch_case(task, branches)
            self._loss_tracker.update_state(unscale_loss_for_distribution(loss), size)
            scaled = self.optimizer.scale_loss(loss)
        for index, tracker in enumerate(self.task_trackers):
            tracker.update_state(loss, sample_weight=size * tf.cast(task == index, "float32"))
        variables = self.trainable_variables
        gradients = tape.gradient(scaled, variables)
        self.optimizer.apply_gradients(zip(gradients, variables, strict=True))
        return {metric.name: metric.result() for metric in self.metrics}

    @property
    def metrics(self) -> list:
        tracked = super().metrics
        return [*tracked, *(t for t in self.task_trackers if t not in tracked)]


def check_multi(train: Mapping, losses: Mapping) -> None:
    """A clear error unless ``train`` and ``losses`` are mappings of the same names."""
    if not isinstance(train, Mapping) or not isinstance(losses, Mapping):
        raise ValueError(
            "several datasets need a loss per dataset: give train and config.loss as mappings "
            f"of the same names (got {type(train).__name__} and {type(losses).__name__})."
        )
    if set(train) != set(losses):
        raise ValueError(
            f"the datasets {sorted(train)} and the losses {sorted(losses)} need the same names."
        )
    bad = [name for name in train if not isinstance(name, str) or not name or "/" in name]
    if bad or TASK in train:
        raise ValueError(f"dataset names must be non-empty strings without '/' (not {TASK!r}).")


def multi_task_training(
    encoder: keras.Model,
    train: Mapping,
    losses: Mapping[str, keras.losses.Loss],
    roles: Mapping[str, tuple[str, ...]],
    config,
) -> tuple[MultiTaskModel, tf.data.Dataset, int]:
    """``fit``'s model, data (all ``config.epochs`` passes) and batches per pass for several
    datasets (``roles``: the columns ``check_examples`` found for each)."""
    from keras_siamese.data import make_dataset
    from keras_siamese.training.config import batch_plan_options

    negatives = {name: len(roles[name]) - len(losses[name].roles) for name in train}
    model = MultiTaskModel(encoder, losses, negatives)
    datasets, counts = {}, {}
    for name, examples in train.items():
        datasets[name] = make_dataset(
            examples,
            encoder.text_tokenizer(),
            config.batch_size,
            shuffle=True,
            seed=config.seed,
            **batch_plan_options(config, losses[name]),
        )
        # With no_duplicates a pass has a varying number of batches: count full batches then.
        counts[name] = int(datasets[name].cardinality())
        if counts[name] < 0:
            counts[name] = math.ceil(len(examples) / config.batch_size)
    sampler = config.multi_dataset_sampler
    stream = multi_dataset(datasets, sampler, config.seed, counts, passes=config.epochs)
    steps_per_pass = len(interleaving_order(counts, sampler, config.seed))
    return model, stream.prefetch(tf.data.AUTOTUNE), steps_per_pass
