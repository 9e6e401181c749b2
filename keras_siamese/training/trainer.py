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
from keras_siamese.losses import LOSSES
from keras_siamese.siamese import build_model, in_batch_roles
from keras_siamese.siamese.models import PAIR_ROLES, SINGLE_ROLES, TRIPLET_ROLES
from keras_siamese.training.config import TrainingConfig
from keras_siamese.training.schedule import WarmupLinearDecay

NO_DECAY = ("bias", "gamma", "beta")


def model_roles(kind: str, examples: Examples) -> tuple[str, ...]:
    """The input roles a model kind reads; in-batch models take any number of negatives."""
    if kind == "in_batch":
        return in_batch_roles(max(len(examples.roles) - 2, 0))
    return {"pair": PAIR_ROLES, "triplet": TRIPLET_ROLES, "single_text": SINGLE_ROLES}[kind]


def check_examples(examples: Examples, loss: str) -> None:
    """A clear error when ``examples`` do not have the columns and labels ``loss`` reads."""
    spec = LOSSES[loss]
    roles = model_roles(spec.model, examples)
    if examples.roles != roles:
        raise ValueError(f"Loss {loss!r} needs columns {roles}, the data has {examples.roles}.")
    labels = examples.labels
    if spec.labels == "none":
        return
    if labels is None or labels.dtype.kind not in "fi":
        raise ValueError(f"Loss {loss!r} needs numeric {spec.labels} labels.")
    if spec.labels == "score" and (labels.min() < 0 or labels.max() > 1):
        raise ValueError(
            f"Loss {loss!r} needs scores in [0, 1]; got [{labels.min()}, {labels.max()}] "
            "(normalise them, e.g. read_sts(..., normalize_scores=True))."
        )
    if spec.labels == "binary" and not np.isin(labels, (0, 1)).all():
        bad = int(np.flatnonzero(~np.isin(labels, (0, 1)))[0])
        raise ValueError(f"Loss {loss!r} needs 0/1 labels; row {bad} has {labels[bad]:g}.")


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
    """Trains ``encoder`` in place on ``train`` with ``config.loss`` and returns the History.

    The data are tokenised inside a ``tf.data`` pipeline by the encoder's in-graph tokenizer and
    fed to the functional siamese model that ``LOSSES[config.loss]`` calls for; every branch
    shares the one encoder. Training is cut into Keras epochs of ``config.checkpoint_every``
    steps (default: one pass over the data); after each, ``callbacks`` (evaluators) run and, with
    ``backup_dir``, ``keras.callbacks.BackupAndRestore`` saves a backup. A run killed and started
    again with the same arguments resumes from the last backup on the same batches it would have
    seen, and deletes the backup when it completes.
    """
    check_examples(train, config.loss)
    policy = encoder.dtype_policy.name
    if config.mixed_precision and policy != config.mixed_precision:
        raise ValueError(
            f"mixed_precision={config.mixed_precision!r} but the encoder was built with dtype "
            f"policy {policy!r}: call keras.mixed_precision.set_global_policy"
            f"({config.mixed_precision!r}) before loading the encoder."
        )
    keras.utils.set_random_seed(config.seed)
    spec = LOSSES[config.loss]
    model = build_model(encoder, spec.model, num_negatives=max(len(train.roles) - 2, 0))
    dataset = make_dataset(
        train,
        encoder.in_graph_tokenizer(),
        config.batch_size,
        shuffle=True,
        seed=config.seed,
        no_duplicates=spec.model == "in_batch",
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
        loss=spec.loss(**(config.loss_options or {})),
        jit_compile=False,
    )
    # Create the optimizer's slots now: created inside the first train step, they make
    # tf.function trace that step twice (about 15 s for MiniLM here).
    model.optimizer.build(model.trainable_variables)
    all_callbacks = list(callbacks)
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
            verbose=verbose,
        )
