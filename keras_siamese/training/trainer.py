"""``fit``: siamese training of a ``SentenceEncoder`` with plain ``model.fit``."""

import contextlib
import json
import math
import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import keras
import numpy as np

from keras_siamese.atomic import atomic_directory, remove_stale_temporaries
from keras_siamese.data import Examples, make_dataset
from keras_siamese.encoders import SentenceEncoder
from keras_siamese.evaluation import Evaluator
from keras_siamese.killpoints import kill_point
from keras_siamese.losses import get_loss
from keras_siamese.progress import keras_verbose
from keras_siamese.siamese import loss_roles, training_model
from keras_siamese.training.config import (
    TrainingConfig,
    batch_plan_options,
    batch_sampler_for,
    get_losses,
)
from keras_siamese.training.history import TrainingHistory, history_state, restore_history
from keras_siamese.training.keep_best import KeepBest
from keras_siamese.training.optimizer import make_optimizer


def check_examples(examples: Examples, loss: str | keras.losses.Loss) -> tuple[str, ...]:
    """The text columns ``loss`` consumes, after a clear error when ``examples`` do not have
    them or the labels it reads (its ``roles`` and ``label_kind``)."""
    loss = get_loss(loss)
    name = getattr(loss, "registry_name", type(loss).__name__)
    negatives = max(len(examples.roles) - len(loss_roles(loss)), 0)
    roles = loss_roles(loss, num_negatives=negatives)
    if examples.roles != roles:
        raise ValueError(f"Loss {name!r} needs columns {roles}, the data has {examples.roles}.")
    least = getattr(loss, "min_negatives", 0)
    if negatives < least:
        raise ValueError(
            f"Loss {name!r} needs at least {least} negative column(s) "
            f"({loss_roles(loss, num_negatives=least)}); the data has {examples.roles}."
        )
    labels, kind = examples.labels, getattr(loss, "label_kind", "none")
    if kind == "none":
        return roles
    if labels is None or labels.dtype.kind not in "fi":
        raise ValueError(f"Loss {name!r} needs numeric {kind} labels.")
    if kind in ("score", "binary", "class") and labels.ndim != 1:
        raise ValueError(
            f"Loss {name!r} needs one {kind} label per row; got labels of shape {labels.shape}."
        )
    if kind == "embedding" and labels.ndim not in (2, 3):
        raise ValueError(
            f"Loss {name!r} needs a teacher embedding per row ([rows, D]); got labels of shape "
            f"{labels.shape} (see keras_siamese.data.with_teacher_embeddings)."
        )
    if kind == "score" and (labels.min() < 0 or labels.max() > 1):
        raise ValueError(
            f"Loss {name!r} needs scores in [0, 1]; got [{labels.min()}, {labels.max()}] "
            "(normalise them, e.g. read_sts(..., normalize_scores=True))."
        )
    if kind == "binary" and not np.isin(labels, (0, 1)).all():
        bad = int(np.flatnonzero(~np.isin(labels, (0, 1)))[0])
        raise ValueError(f"Loss {name!r} needs 0/1 labels; row {bad} has {labels[bad]:g}.")
    return roles


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


WEIGHTS = "latest.weights.h5"  # the names keras.callbacks.BackupAndRestore uses
METADATA = "training_metadata.json"
HISTORY = "history.json"
SLOT = re.compile(r"epoch-(\d{6,})")


class NonFiniteError(ValueError):
    """Training produced a NaN or infinite loss or weight."""


def _slot_name(epoch: int) -> str:
    return f"epoch-{epoch:06d}"


def _backup_slots(backup: Path) -> list[Path]:
    """The backups in ``backup``, newest first: its ``epoch-NNNNNN`` folders, then the folder
    itself if it holds a backup in ``keras.callbacks.BackupAndRestore``'s layout."""
    if not backup.is_dir():
        return []
    slots = [p for p in backup.iterdir() if SLOT.fullmatch(p.name) and p.is_dir()]
    slots.sort(key=lambda p: int(SLOT.fullmatch(p.name)[1]), reverse=True)
    if (backup / METADATA).exists() or (backup / WEIGHTS).exists():
        slots.append(backup)
    return slots


def _read_metadata(slot: Path) -> dict:
    """A backup's ``training_metadata.json``, checked: an error names the file."""
    path = slot / METADATA
    if not path.is_file():
        raise ValueError(f"{path} is missing (the weights beside it have no training state)")
    if not (slot / WEIGHTS).is_file():
        raise ValueError(f"{path} has no {WEIGHTS} beside it")
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path} is not JSON ({err})") from None
    epoch = metadata.get("epoch") if isinstance(metadata, dict) else None
    if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0:
        raise ValueError(f"{path} has no valid 'epoch' (got {metadata!r})")
    return metadata


def _restore_backup(
    model: keras.Model,
    backup: Path | None,
    plan: dict,
    history: keras.callbacks.History | None,
    keep_best: KeepBest | None = None,
) -> int:
    """Restores the newest good backup in ``backup`` into ``model`` (weights and optimizer) and
    ``history``; returns its epoch, 0 when there is none. A backup that cannot be read (cut short
    by a kill, metadata without weights, empty or garbage metadata) is passed over, with a
    warning, for the one before; when none can be read, a ``ValueError`` names the folder."""
    if backup is None:
        return 0
    remove_stale_temporaries(backup, SLOT.pattern)
    problems = []
    for slot in _backup_slots(backup):
        try:
            metadata = _read_metadata(slot)
            saved_plan = metadata.get("plan")
            if saved_plan is not None and saved_plan != plan:
                raise ValueError(
                    f"{slot / METADATA} was written by a run of other settings ({saved_plan}, "
                    f"now {plan}): rerun with the same settings"
                )
            if metadata["epoch"] > plan["epochs"]:
                raise ValueError(
                    f"{slot / METADATA} is at epoch {metadata['epoch']} of a run of "
                    f"{plan['epochs']}: rerun with the same settings"
                )
            try:
                model.load_weights(slot / WEIGHTS)
            except Exception as err:  # h5py, Keras: a file cut short or not a backup
                message = " ".join(str(err).split())
                raise ValueError(f"{slot / WEIGHTS} cannot be read ({message})") from None
            if history is not None and (slot / HISTORY).is_file():
                try:
                    restore_history(history, json.loads((slot / HISTORY).read_text("utf-8")))
                except (KeyError, TypeError, ValueError, AttributeError) as err:
                    raise ValueError(f"{slot / HISTORY} is not a history ({err!r})") from None
            if keep_best is not None:
                keep_best.load(slot)
        except ValueError as err:
            problems.append(str(err))
            continue
        for problem in problems:
            warnings.warn(f"skipped a backup: {problem}; resuming from {slot}", stacklevel=3)
        return metadata["epoch"]
    if problems:
        raise ValueError(
            f"cannot resume from the backup in {backup}: {problems[0]}. Delete {backup} to start "
            "the training over."
        )
    return 0


class _Backup(keras.callbacks.Callback):
    """Saves the training state after every epoch (chunk) into ``backup/epoch-NNNNNN/``:
    the weights and optimizer (``latest.weights.h5``), ``training_metadata.json`` and the history
    so far (and ``keep_best``'s copy of the best weights). Each is written into a hidden folder
    renamed into place when complete, so a kill leaves the backups as they were; the two newest
    are kept (the older one in case the newer cannot be read)."""

    def __init__(
        self,
        backup: Path,
        plan: dict,
        history: keras.callbacks.History | None,
        keep_best: KeepBest | None = None,
        chief: bool = True,
    ) -> None:
        super().__init__()
        self.backup, self.plan, self.history = backup, plan, history
        self.keep_best, self.chief = keep_best, chief

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        kill_point("step")

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if not self.chief:  # a worker other than the chief: saves as it does, then discards
            with tempfile.TemporaryDirectory() as tmp:
                self.model.save_weights(Path(tmp) / WEIGHTS)
            return
        self.backup.mkdir(parents=True, exist_ok=True)
        slot = self.backup / _slot_name(epoch + 1)
        with atomic_directory(slot) as tmp:
            self.model.save_weights(tmp / WEIGHTS)
            kill_point("backup-weights")
            metadata = {"epoch": epoch + 1, "batch": 0, "plan": self.plan}
            (tmp / METADATA).write_text(json.dumps(metadata), encoding="utf-8")
            if self.history is not None:
                text = json.dumps(history_state(self.history))
                (tmp / HISTORY).write_text(text, encoding="utf-8")
            if self.keep_best is not None:
                self.keep_best.save(tmp)
            for path in tmp.iterdir():
                with open(path, "rb") as file:
                    os.fsync(file.fileno())
            kill_point("backup-written")
        kill_point("backup-renamed")
        for old in _backup_slots(self.backup)[2:]:  # the newest two stay
            if old == self.backup:  # BackupAndRestore's layout, from an older version
                for name in (WEIGHTS, METADATA):
                    (old / name).unlink(missing_ok=True)
            else:
                shutil.rmtree(old, ignore_errors=True)
        kill_point("backup-pruned")


class _StopOnNonFinite(keras.callbacks.Callback):
    """Raises ``NonFiniteError`` on a non-finite loss (after any step) or weight (at the end of
    an epoch, before its backup), so a diverged run fails loudly and keeps its last good backup."""

    def __init__(self, backup: Path | None, learning_rate: float) -> None:
        super().__init__()
        self.backup, self.learning_rate = backup, learning_rate

    def _fail(self, what: str) -> None:
        step = int(self.model.optimizer.iterations.numpy())
        kept = f"; the last good backup is kept in {self.backup}" if self.backup else ""
        raise NonFiniteError(
            f"training stopped at step {step}: {what} is not finite; try a lower learning rate "
            f"(now {self.learning_rate:g}) or check the data{kept}"
        )

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self._fail(f"the loss ({float(loss)})")

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        for variable in self.model.trainable_variables:
            if not np.isfinite(keras.ops.convert_to_numpy(variable)).all():
                self._fail(f"the weight {variable.path}")


CARD_HYPERPARAMETERS = (
    "epochs",
    "batch_size",
    "gradient_accumulation_steps",
    "learning_rate",
    "warmup_ratio",
    "weight_decay",
    "clipnorm",
    "seed",
    "length_bucketing",
)


def _card_data(config: TrainingConfig, loss: keras.losses.Loss, examples: int, sampler: str):
    """What the model card says of a training run (see ``SentenceEncoder.save_pretrained``)."""
    settings = config.to_dict()
    name = getattr(loss, "registry_name", type(loss).__name__)
    return {
        "loss": name if not config.loss_options else {name: config.loss_options},
        "train_examples": examples,
        **{key: settings[key] for key in CARD_HYPERPARAMETERS},
        "batch_sampler": sampler,
    }


def is_chief(strategy=None) -> bool:
    """Whether this process is the one that evaluates and saves: always, but under a
    ``MultiWorkerMirroredStrategy`` only the chief (``TF_CONFIG``'s ``chief``, else worker 0)."""
    return strategy is None or bool(getattr(strategy.extended, "should_checkpoint", True))


def _created_in_scope(model: keras.Model, strategy) -> bool:
    return all(strategy.extended.variable_created_in_scope(v.value) for v in model.variables)


def encoder_under_scope(encoder: SentenceEncoder, strategy) -> SentenceEncoder:
    """``encoder`` if its variables were created under ``strategy.scope()``, else a copy (its
    config, tokenizer and weights) made under it: Keras distributes (mirrors) only the variables
    created under the scope of the strategy it trains with."""
    if _created_in_scope(encoder, strategy):
        return encoder
    with strategy.scope():
        copy = type(encoder).from_config(encoder.get_config())
        copy.tokenizer = encoder.tokenizer
        copy.build()
    copy.set_weights(encoder.get_weights())
    return copy


def _build_from_spec(model: keras.Model, spec) -> None:
    """Makes ``model.fit`` build ``model`` from ``spec`` (the data's ``element_spec``): under a
    strategy, Keras 3.15's TensorFlow trainer builds it from a batch drawn from the iterator it
    then trains on (``_maybe_symbolic_build``), so with ``steps_per_epoch`` the first batch would
    be skipped, and the run would no longer see one device's batches."""
    build = getattr(model, "_maybe_symbolic_build", None)
    if build is None:
        return

    def from_spec(iterator=None, data_batch=None):
        return build(data_batch=spec if data_batch is None else data_batch)

    model._maybe_symbolic_build = from_spec


@contextlib.contextmanager
def _scalar_logs_across_workers(strategy):
    """While ``model.fit`` runs (and traces its step): under a multi-worker
    ``MultiWorkerMirroredStrategy``, the scalar logs of a step (the loss, metrics) averaged over
    the replicas with ``axis=None``. Keras 3.15's TensorFlow trainer reduces them with
    ``strategy.reduce("MEAN", value, axis=0)``, which fails on a scalar ("Invalid reduction
    dimension 0 for input with 0 dimensions", tensorflow/tensorflow#72388): without this no
    Keras 3 ``fit`` runs on several workers."""
    from keras.src.backend.tensorflow import trainer as keras_trainer

    original = keras_trainer.reduce_per_replica
    if strategy is None or not keras_trainer._collective_all_reduce_multi_worker(strategy):
        yield
        return

    def reduce_per_replica(values, strategy, reduction):
        multi_worker = keras_trainer._collective_all_reduce_multi_worker(strategy)
        if reduction not in ("auto", "mean") or not multi_worker:
            return original(values, strategy, reduction)

        def reduce(value):
            if strategy.experimental_local_results(value)[0].shape.rank == 0:
                return strategy.reduce("MEAN", value, axis=None)
            return original(value, strategy, reduction)

        return keras.tree.map_structure(reduce, values)

    keras_trainer.reduce_per_replica = reduce_per_replica
    try:
        yield
    finally:
        keras_trainer.reduce_per_replica = original


def fit(
    encoder: SentenceEncoder,
    train: Examples | Mapping[str, Examples],
    config: TrainingConfig,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    backup_dir: str | Path | None = None,
    verbose: int | str = "auto",
    keep_backup: bool = False,
    keep_best: bool | str = False,
    strategy=None,
) -> keras.callbacks.History:
    """Trains ``encoder`` in place on ``train`` with ``config.loss`` and returns its History
    (a ``TrainingHistory``: also the loss of every step, see ``save_history``).

    The data are tokenised inside a ``tf.data`` pipeline by the encoder's in-graph tokenizer and
    fed to the functional siamese model that the loss consumes (``training_model``: one branch
    per role the loss declares); every branch shares the one encoder. ``config.loss`` is a
    registered loss name (``keras_siamese.losses.LOSSES``) or a ``keras.losses.Loss`` instance.
    Training is cut into Keras epochs of ``config.checkpoint_every`` steps (default: one pass over
    the data); after each, ``callbacks`` (evaluators) run and, with ``backup_dir``, a backup is
    saved: ``backup_dir/epoch-NNNNNN/`` holds the weights and optimizer state, the position in
    the run and the history so far, written atomically (a kill leaves the previous backups
    whole); the two newest are kept.

    A run killed and started again with the same arguments resumes from the newest backup on the
    same batches it would have seen, with the history of the whole run, and ends with the same
    weights as an uninterrupted run. A backup that cannot be read (cut short, or a
    ``training_metadata.json`` that is empty, not JSON, or without its weights) is passed over,
    with a warning, for the one before; when no backup can be read, or one was written by a run
    of other settings, a ``ValueError`` names the file and says to delete ``backup_dir`` to start
    over: a backup is never silently ignored nor resumed from untrained weights. A backup folder
    with no backup in it (empty, or only temporaries of killed writes) is a fresh start.

    A non-finite loss (after any step) or weight (before each backup) stops training with a
    ``NonFiniteError`` (a ``ValueError``), the last good backup kept. The backup is deleted when
    training completes, unless ``keep_backup`` (the ``train`` command deletes it only once the
    trained model is saved).

    ``keep_best``: after training, the encoder holds the weights that scored best on an
    evaluator's metric (``True``: the first evaluator's primary metric; a string: that log key)
    over all its evaluations (with ``every_n_steps``, or at each chunk end), as
    sentence-transformers' ``load_best_model_at_end``; kept in memory and in each backup.

    ``strategy``: a ``tf.distribute`` strategy (``MirroredStrategy`` on the devices of one
    machine, ``MultiWorkerMirroredStrategy`` across machines, from ``TF_CONFIG``;
    ``TPUStrategy`` should work the same way but is untested). The training model and the
    optimizer are created under its scope, and so is the encoder's copy that is trained when
    ``encoder`` was not (load it under ``strategy.scope()`` to train it directly); its weights
    are copied back into ``encoder`` at the end. Keras' ``fit`` splits each batch of
    ``config.batch_size`` (the global batch) across the replicas and sums their gradients; for
    in-batch negatives across replicas use ``loss_options={"gather_across_replicas": True}``.
    Evaluators (given without an encoder: they evaluate the model trained), ``keep_best`` and
    the backups run on the chief only (``is_chief``); every worker resumes from ``backup_dir``,
    which must then be a folder every worker reads (a shared file system).

    Several datasets, as sentence-transformers' multi-dataset training: ``train`` a mapping of
    names to ``Examples`` and ``config.loss`` a mapping of the same names to losses; each batch
    comes from one dataset and is trained with its loss, the batches interleaved by
    ``config.multi_dataset_sampler`` (see ``keras_siamese.training.multi_dataset``); a pass is
    one pass of that interleaving. Not under a ``strategy``.
    """
    multi = isinstance(train, Mapping) or isinstance(config.loss, Mapping)
    if multi:
        from keras_siamese.training.multi_dataset import check_multi, multi_task_training

        losses = get_losses(config.loss, config.loss_options)
        check_multi(train, losses)
        if strategy is not None or config.distribute:
            raise ValueError("training on several datasets does not support a strategy.")
        loss, roles = None, {name: check_examples(train[name], losses[name]) for name in train}
    else:
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
    if strategy is None and config.distribute:
        from keras_siamese.training.distribute import make_strategy

        strategy = make_strategy(config.distribute)
    chief = is_chief(strategy)
    trained = encoder if strategy is None else encoder_under_scope(encoder, strategy)

    def scope():
        return contextlib.nullcontext() if strategy is None else strategy.scope()

    if multi:
        model, dataset, steps_per_pass = multi_task_training(trained, train, losses, roles, config)
    else:
        with scope():
            model = training_model(trained, loss, num_negatives=len(roles) - len(loss.roles))
        dataset = make_dataset(
            train,
            encoder.text_tokenizer(),
            config.batch_size,
            shuffle=True,
            seed=config.seed,
            **batch_plan_options(config, loss),
        )
        # With no_duplicates a pass has a varying number of batches: count full batches then.
        steps_per_pass = int(dataset.cardinality())
        if steps_per_pass < 0:
            steps_per_pass = math.ceil(len(train) / config.batch_size)
    total_steps = steps_per_pass * config.epochs
    chunk = min(config.checkpoint_every or steps_per_pass, total_steps)
    chunks = math.ceil(total_steps / chunk)
    backup = Path(backup_dir) if backup_dir is not None else None
    with scope():
        model.compile(
            optimizer=make_optimizer(config, total_steps, distributed=strategy is not None),
            loss=loss,
            jit_compile=False,
        )
        # Create the optimizer's slots now: created inside the first train step, they make
        # tf.function trace that step twice (about 15 s for MiniLM here).
        model.optimizer.build(model.trainable_variables)
    if not chief:  # evaluated (and kept best) once, by the chief
        callbacks, keep_best = [c for c in callbacks if not isinstance(c, Evaluator)], False
    all_callbacks = [_DropoutSeeds(config.seed), *callbacks]
    history = next((c for c in callbacks if isinstance(c, keras.callbacks.History)), None)
    if history is None:
        history = TrainingHistory(callbacks)  # after the evaluators: sees their logs
        all_callbacks.append(history)
    all_callbacks.append(_StopOnNonFinite(backup, config.learning_rate))
    best = KeepBest.for_callbacks(trained, keep_best, callbacks) if keep_best else None
    if best is not None:
        all_callbacks.append(best)
    plan = {"epochs": chunks, "steps_per_epoch": chunk, "steps": total_steps, "seed": config.seed}
    if backup is not None:
        all_callbacks.append(_Backup(backup, plan, history, best, chief))
    start = _restore_backup(model, backup, plan, history, best)
    # Skip what a resumed run already trained on: the same order, the same batches next.
    stream = dataset.repeat().skip(start * chunk).take(max(total_steps - start * chunk, 0))
    if strategy is not None:
        _build_from_spec(model, stream.element_spec)
    with warnings.catch_warnings(), _scalar_logs_across_workers(strategy):
        # The last chunk may be shorter than the others: Keras then warns it "ran out of data".
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        result = model.fit(
            stream,
            epochs=chunks,
            initial_epoch=start,
            steps_per_epoch=chunk,
            callbacks=all_callbacks,
            shuffle=False,  # the pipeline shuffles, reproducibly from the seed
            verbose=keras_verbose(verbose),  # "auto": one plain line per epoch in a log
        )
    if best is not None:
        best.restore()
    if trained is not encoder:
        encoder.set_weights(trained.get_weights())
    if multi:
        first = next(iter(losses.values()))
        card = _card_data(config, first, sum(map(len, train.values())), "")
        card["loss"] = {k: getattr(v, "registry_name", type(v).__name__) for k, v in losses.items()}
        card["batch_sampler"] = {k: batch_sampler_for(config, v) for k, v in losses.items()}
        card["multi_dataset_sampler"] = config.multi_dataset_sampler
    else:
        card = _card_data(config, loss, len(train), batch_sampler_for(config, loss))
    encoder.model_card_data = {**getattr(encoder, "model_card_data", {}), "training": card}
    if backup is not None and not keep_backup and chief:
        shutil.rmtree(backup, ignore_errors=True)
    return result
