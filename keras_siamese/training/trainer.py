"""``fit``: siamese training of a ``SentenceEncoder`` with plain ``model.fit``."""

import json
import math
import warnings
from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np

from keras_siamese.data import Examples, make_dataset
from keras_siamese.encoders import SentenceEncoder
from keras_siamese.losses import get_loss
from keras_siamese.progress import keras_verbose
from keras_siamese.siamese import loss_roles, training_model
from keras_siamese.training.config import TrainingConfig
from keras_siamese.training.history import TrainingHistory
from keras_siamese.training.schedule import WarmupLinearDecay

NO_DECAY = ("bias", "gamma", "beta")


def check_examples(examples: Examples, loss: str | keras.losses.Loss) -> tuple[str, ...]:
    """The text columns ``loss`` consumes, after a clear error when ``examples`` do not have
    them or the labels it reads (its ``roles`` and ``label_kind``)."""
    loss = get_loss(loss)
    name = getattr(loss, "registry_name", type(loss).__name__)
    negatives = max(len(examples.roles) - len(loss_roles(loss)), 0)
    roles = loss_roles(loss, num_negatives=negatives)
    if examples.roles != roles:
        raise ValueError(f"Loss {name!r} needs columns {roles}, the data has {examples.roles}.")
    labels, kind = examples.labels, getattr(loss, "label_kind", "none")
    if kind == "none":
        return roles
    if labels is None or labels.dtype.kind not in "fi":
        raise ValueError(f"Loss {name!r} needs numeric {kind} labels.")
    if kind == "score" and (labels.min() < 0 or labels.max() > 1):
        raise ValueError(
            f"Loss {name!r} needs scores in [0, 1]; got [{labels.min()}, {labels.max()}] "
            "(normalise them, e.g. read_sts(..., normalize_scores=True))."
        )
    if kind == "binary" and not np.isin(labels, (0, 1)).all():
        bad = int(np.flatnonzero(~np.isin(labels, (0, 1)))[0])
        raise ValueError(f"Loss {name!r} needs 0/1 labels; row {bad} has {labels[bad]:g}.")
    return roles


def make_optimizer(config: TrainingConfig, total_steps: int) -> keras.optimizers.Optimizer:
    """AdamW under linear warm-up and decay, clipped; no weight decay on biases and LayerNorm."""
    schedule = WarmupLinearDecay(
        config.learning_rate, round(config.warmup_ratio * total_steps), total_steps
    )
    optimizer = keras.optimizers.AdamW(
        schedule, weight_decay=config.weight_decay, clipnorm=config.clipnorm
    )
    optimizer.exclude_from_weight_decay(var_names=list(NO_DECAY))
    return optimizer


def reseed_dropout(model: keras.Layer, seed: int, epoch: int = 0) -> None:
    """Sets every ``SeedGenerator`` of ``model`` (its Dropout layers') to a state drawn from
    ``(seed, epoch, its position in the model)``.

    Keras gives each Dropout layer a seed drawn from the global random state when the layer is
    made, before ``fit`` sets the seed: without this, two runs of one seed (in two processes, one
    after another, or the CLI and the Python API, which build the encoder after different random
    draws) drop different units. Per epoch, so a resumed run continues with the same masks.

    >>> layer = keras.layers.Dropout(0.1)
    >>> reseed_dropout(layer, 42)
    >>> first = layer.seed_generator.state.numpy().tolist()
    >>> reseed_dropout(keras.layers.Dropout(0.1), 42)
    >>> reseed_dropout(layer, 42)
    >>> layer.seed_generator.state.numpy().tolist() == first
    True
    """
    generators = list(
        dict.fromkeys(
            generator
            for layer in model._flatten_layers(include_self=True, recursive=True)
            for generator in layer._seed_generators
        )
    )
    states = np.random.SeedSequence([seed, epoch]).generate_state(len(generators), np.uint32)
    for generator, state in zip(generators, states, strict=True):
        value = np.array([int(state) % (2**31 - 1) + 1, 0])
        generator.state.assign(value.astype(generator.state.dtype))


class _DropoutSeeds(keras.callbacks.Callback):
    """``reseed_dropout`` at the start of every epoch."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        self.seed = seed

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        reseed_dropout(self.model, self.seed, epoch)


def _resume_epoch(backup_dir: Path | None) -> int:
    """The epoch ``BackupAndRestore`` will resume at (0 for a fresh run)."""
    metadata = None if backup_dir is None else backup_dir / "training_metadata.json"
    if metadata is None or not metadata.is_file():
        return 0
    return int(json.loads(metadata.read_text())["epoch"])


def fit(
    encoder: SentenceEncoder,
    train: Examples,
    config: TrainingConfig,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    backup_dir: str | Path | None = None,
    verbose: int | str = "auto",
) -> keras.callbacks.History:
    """Trains ``encoder`` in place on ``train`` with ``config.loss`` and returns its History
    (a ``TrainingHistory``: also the loss of every step, see ``save_history``).

    The data are tokenised inside a ``tf.data`` pipeline by the encoder's in-graph tokenizer and
    fed to the functional siamese model that the loss consumes (``training_model``: one branch
    per role the loss declares); every branch shares the one encoder. ``config.loss`` is a
    registered loss name (``keras_siamese.losses.LOSSES``) or a ``keras.losses.Loss`` instance.
    Training is cut into Keras epochs of ``config.checkpoint_every`` steps (default: one pass over
    the data); after each, ``callbacks`` (evaluators) run and, with
    ``backup_dir``, ``keras.callbacks.BackupAndRestore`` saves a backup. A run killed and started
    again with the same arguments resumes from the last backup on the same batches it would have
    seen, and deletes the backup when it completes.
    """
    loss = get_loss(config.loss, config.loss_options)
    roles = check_examples(train, loss)
    policy = encoder.dtype_policy.name
    if config.mixed_precision and policy != config.mixed_precision:
        raise ValueError(
            f"mixed_precision={config.mixed_precision!r} but the encoder was built with dtype "
            f"policy {policy!r}: call keras.mixed_precision.set_global_policy"
            f"({config.mixed_precision!r}) before loading the encoder."
        )
    keras.utils.set_random_seed(config.seed)
    model = training_model(encoder, loss, num_negatives=len(roles) - len(loss.roles))
    dataset = make_dataset(
        train,
        encoder.in_graph_tokenizer(),
        config.batch_size,
        shuffle=True,
        seed=config.seed,
        no_duplicates=getattr(loss, "takes_negatives", False),
    )
    # With no_duplicates a pass has a varying number of batches: count full batches then.
    steps_per_pass = int(dataset.cardinality())
    if steps_per_pass < 0:
        steps_per_pass = math.ceil(len(train) / config.batch_size)
    total_steps = steps_per_pass * config.epochs
    chunk = min(config.checkpoint_every or steps_per_pass, total_steps)
    chunks = math.ceil(total_steps / chunk)
    backup = Path(backup_dir) if backup_dir is not None else None
    start = _resume_epoch(backup)
    # Skip what a resumed run already trained on: the same order, the same batches next.
    stream = dataset.repeat().skip(start * chunk).take(total_steps - start * chunk)
    model.compile(
        optimizer=make_optimizer(config, total_steps),
        loss=loss,
        jit_compile=False,
    )
    # Create the optimizer's slots now: created inside the first train step, they make
    # tf.function trace that step twice (about 15 s for MiniLM here).
    model.optimizer.build(model.trainable_variables)
    all_callbacks = [_DropoutSeeds(config.seed), *callbacks]
    if not any(isinstance(callback, keras.callbacks.History) for callback in callbacks):
        all_callbacks.append(TrainingHistory(callbacks))  # after the evaluators: sees their logs
    if backup is not None:
        all_callbacks.append(keras.callbacks.BackupAndRestore(str(backup), delete_checkpoint=True))
    with warnings.catch_warnings():
        # The last chunk may be shorter than the others: Keras then warns it "ran out of data".
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        return model.fit(
            stream,
            epochs=chunks,
            steps_per_epoch=chunk,
            callbacks=all_callbacks,
            shuffle=False,  # the pipeline shuffles, reproducibly from the seed
            verbose=keras_verbose(verbose),  # "auto": one plain line per epoch in a log
        )
