"""``keras-siamese train``: fine-tune a model the siamese way, from flags or a YAML/JSON config.

Every setting is a flag and a ``--config`` key (``SETTINGS``): the command's own (model, data,
output, ...) and the fields of ``TrainingConfig``, under the field's name. Settings are checked
(files, folders, formats, the config's keys and values) before TensorFlow is imported.
"""

import argparse
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from keras_siamese.cli.common import (
    MODEL_HELP,
    HelpFormatter,
    UsageError,
    input_file,
    model_name,
    output_folder,
    positive_int,
    sick_split,
)

FORMATS = ("stsb", "sick", "csv", "tsv", "jsonl")  # keras_siamese.training.recipes.FORMATS
TABLE_FORMATS = ("csv", "tsv", "jsonl")
EVAL_FORMATS = ("stsb", "sick")
BATCH_SAMPLERS = ("batch_sampler", "no_duplicates", "group_by_label")  # keras_siamese.data's
MIXED_PRECISION = ("mixed_bfloat16", "mixed_float16")
DISTRIBUTE = ("mirrored", "multi-worker")  # keras_siamese.training.distribute's
REQUIRED = ("model", "data", "output")


class LossNames:
    """The names of ``keras_siamese.losses.LOSSES``, imported (with Keras) on first use: to check
    a ``--loss`` or to print the help."""

    @staticmethod
    def _names() -> list[str]:
        from keras_siamese.losses.registry import LOSSES

        return list(LOSSES)

    def __contains__(self, name: object) -> bool:
        return name in self._names()

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())


def json_object(value: str | dict) -> dict:
    """A JSON object (a mapping from a YAML/JSON config is taken as it is)."""
    if isinstance(value, dict):
        return value
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as err:
        raise UsageError(f"not JSON ({err.msg}): {value}") from None
    if not isinstance(parsed, dict):
        raise UsageError(f'not a JSON object such as {{"margin": 0.5}}: {value}')
    return parsed


def column_mapping(value: str | dict) -> dict[str, str]:
    """``role=column,role=column`` (or a mapping from a config) as a dict."""
    if isinstance(value, dict):
        return {str(role): str(column) for role, column in value.items()}
    pairs = [item.split("=", 1) for item in value.split(",")]
    if any(len(pair) != 2 or not all(pair) for pair in pairs):
        raise UsageError(f"not role=column,role=column: {value}")
    return dict(pairs)


def loss_option(value: str) -> tuple[str, Any]:
    """``KEY=VALUE``: VALUE read as JSON, else as a comma-separated list, else as a string."""
    key, sep, text = value.partition("=")
    if not sep or not key:
        raise UsageError(f"not KEY=VALUE: {value}")

    def scalar(item: str) -> Any:
        try:
            return json.loads(item)
        except json.JSONDecodeError:
            return item

    return key, [scalar(item) for item in text.split(",")] if "," in text else scalar(text)


@dataclass(frozen=True)
class Setting:
    """One setting: flag ``--name`` (dashes for underscores) and config key ``name``."""

    name: str
    help: str
    type: Callable[[Any], Any] = str
    choices: Any = None
    aliases: tuple[str, ...] = ()
    training: bool = False  # a TrainingConfig field
    switch: bool = False  # --name / --no-name without a value (true/false in a config)

    @property
    def flags(self) -> list[str]:
        return [f"--{name.replace('_', '-')}" for name in (self.name, *self.aliases)]

    @property
    def keys(self) -> set[str]:
        names = (self.name, *self.aliases)
        return {key for name in names for key in (name, name.replace("_", "-"))}


SETTINGS: tuple[Setting, ...] = (
    Setting("model", f"{MODEL_HELP} (required)"),
    Setting("data", "training file (required)"),
    Setting("format", "the training file's format (default: stsb)", choices=FORMATS),
    Setting("split", "SICK split to train on (default: TRAIN)", sick_split),
    Setting(
        "columns",
        "csv/tsv/jsonl: role=column pairs, e.g. text_a=question,text_b=answer (default: none)",
        column_mapping,
    ),
    Setting("label", "csv/tsv/jsonl: the label column (default: none, no labels)"),
    Setting(
        "max_examples",
        "train on this many examples, drawn at random with --seed (default: all)",
        positive_int,
    ),
    Setting(
        "eval",
        "development file, evaluated before training and after each epoch or "
        "checkpoint (default: none)",
    ),
    Setting("eval_format", "stsb or sick (default: --format)", choices=EVAL_FORMATS),
    Setting("eval_split", "SICK split to evaluate on (default: TRIAL)", sick_split),
    Setting(
        "keep_best",
        "save the weights that scored best on --eval's first metric over the evaluations "
        "(each --checkpoint-every steps, or each epoch), not the last ones (default: off)",
        switch=True,
    ),
    Setting(
        "output",
        "output folder: model/, history.json, history.png, metrics.json, and backup/ while "
        "training; run again with the same folder to resume (a finished run is not redone) "
        "(required)",
    ),
    Setting(
        "loss",
        "a registered loss: %(choices)s (keras-siamese losses tells what each takes)",
        str.lower,
        LossNames(),
        training=True,
    ),
    Setting(
        "loss_options",
        "the loss's keyword arguments as a JSON object, e.g. '{\"margin\": 0.5}' (default: none)",
        json_object,
        training=True,
    ),
    Setting(
        "mini_batch_size",
        "cached-mnrl: rows embedded at once (GradCache), the memory bound: any value gives the "
        "same gradients, larger is faster; sets the loss option mini_batch_size (default: 32)",
        positive_int,
    ),
    Setting("epochs", "passes over the training data", positive_int, training=True),
    Setting("batch_size", "examples per step", positive_int, training=True),
    Setting(
        "gradient_accumulation_steps",
        "batches per optimizer update (their gradients averaged)",
        positive_int,
        training=True,
    ),
    Setting("learning_rate", "peak learning rate", float, aliases=("lr",), training=True),
    Setting("warmup_ratio", "fraction of the steps of linear warm-up", float, training=True),
    Setting(
        "weight_decay", "AdamW weight decay (not on biases and LayerNorm)", float, training=True
    ),
    Setting("clipnorm", "the gradients' global norm clip", float, training=True),
    Setting("seed", "random seed (data order, dropout, --max-examples)", int, training=True),
    Setting(
        "checkpoint_every",
        "steps between backups and evaluations (default: once per epoch)",
        positive_int,
        training=True,
    ),
    Setting(
        "batch_sampler",
        "how batches are drawn (default: the loss decides: group_by_label for class labels, "
        "no_duplicates for in-batch negatives, else batch_sampler)",
        choices=BATCH_SAMPLERS,
        training=True,
    ),
    Setting(
        "length_bucketing",
        "sort the rows by text length within chunks of 50 batches, then shuffle the batches: "
        "less padding, faster; --no-length-bucketing gives rows in random order, as "
        "sentence-transformers' batches",
        training=True,
        switch=True,
    ),
    Setting(
        "mixed_precision",
        "mixed-precision policy (default: none, float32)",
        choices=MIXED_PRECISION,
        training=True,
    ),
    Setting(
        "distribute",
        "train under a tf.distribute strategy: mirrored (this machine's GPUs) or multi-worker "
        "(one process per machine, from TF_CONFIG; --output on a shared file system); "
        "--batch-size is the global batch (default: none, one device)",
        choices=DISTRIBUTE,
        training=True,
    ),
)
BY_KEY = {key: setting for setting in SETTINGS for key in setting.keys}


def training_defaults() -> dict[str, Any]:
    """``TrainingConfig``'s defaults (imports Keras)."""
    from dataclasses import fields

    from keras_siamese.training import TrainingConfig

    return {field.name: field.default for field in fields(TrainingConfig)}


class TrainHelpFormatter(HelpFormatter):
    """Shows ``TrainingConfig``'s defaults for its fields (imported only to print the help)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        help = action.help or ""
        if action.dest in training_defaults() and "default" not in help:
            return f"{help} (default: {training_defaults()[action.dest]})"
        return super()._get_help_string(action)


def config_keys() -> str:
    """The --config keys, with their aliases."""
    return ", ".join(
        setting.name + (f" (or {', '.join(setting.aliases)})" if setting.aliases else "")
        for setting in SETTINGS
    )


def config_keys_help() -> str:
    return (
        f"--config keys (the flags' names, with _ or -): {config_keys()}. In YAML, e.g. "
        "`loss: matryoshka` and `loss_options: {loss: cosent, dims: [384, 128]}`. Flags override "
        "the file; paths in it are relative to the working folder."
    )


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "train",
        help="fine-tune a model with a siamese loss",
        description="Fine-tunes MODEL on --data; run again with the same --output to resume.",
        epilog=config_keys_help(),
        formatter_class=TrainHelpFormatter,
    )
    parser.add_argument(
        "--config",
        help="YAML or JSON file of these settings; flags override it (default: none)",
    )
    for setting in SETTINGS:
        if setting.switch:
            parser.add_argument(  # --name and --no-name: True, False or (not given) None
                *setting.flags, dest=setting.name, action=argparse.BooleanOptionalAction,
                default=None, help=setting.help,
            )  # fmt: skip
            continue
        parser.add_argument(
            *setting.flags,
            dest=setting.name,
            type=setting.type,
            choices=setting.choices,
            metavar="NAME" if setting.name == "loss" else None,
            help=setting.help,
        )
    parser.add_argument(
        "--loss-option",
        action="append",
        type=loss_option,
        default=[],
        metavar="KEY=VALUE",
        help="one loss keyword argument, added to --loss-options; repeatable, e.g. "
        "--loss-option loss=cosent --loss-option dims=384,128 (default: none)",
    )
    parser.set_defaults(run=run)


def _line_of(text: str, key: str) -> str:
    """``:LINE`` of the first line that sets ``key`` in a YAML/JSON text, or ``""``."""
    for number, line in enumerate(text.split("\n"), 1):
        stripped = line.strip().strip("{,").lstrip()
        if stripped.startswith((f"{key}:", f'"{key}":', f"'{key}':", f'"{key}" :')):
            return f":{number}"
    return ""


def _parse_config_text(path: str, text: str) -> Any:
    if path.endswith(".json"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as err:
            raise UsageError(f"{path}:{err.lineno}: not JSON: {err.msg}") from None
    try:
        import yaml
    except ImportError:
        raise UsageError(
            f"--config {path} needs the 'yaml' extra: pip install \"keras-siamese[yaml]\" "
            "(or write the settings as JSON)"
        ) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err)
        raise UsageError(f"{path}{where}: not YAML: {problem}") from None


def read_config(path: str) -> dict[str, Any]:
    """The settings of a YAML or JSON file, by setting name, each converted and checked as its
    flag's value is; an unknown key is an error listing the valid ones."""
    input_file(path)
    text = Path(path).read_text(encoding="utf-8")
    values = _parse_config_text(path, text)
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise UsageError(f"{path}: expected key: value settings, got a {type(values).__name__}")
    settings: dict[str, Any] = {}
    for key, value in values.items():
        where = f"{path}{_line_of(text, str(key))}"
        setting = BY_KEY.get(str(key))
        if setting is None:
            raise UsageError(f"{where}: unknown setting {key!r}; valid keys: {config_keys()}")
        if setting.name in settings:
            raise UsageError(f"{where}: {setting.name} is set twice (as {key!r})")
        if value is not None:
            settings[setting.name] = _convert(setting, value, where)
    return settings


def _convert(setting: Setting, value: Any, where: str) -> Any:
    """A config value as its flag's: YAML reads ``2e-5`` as a string and ``16`` as an int."""
    if setting.switch:
        if not isinstance(value, bool):
            raise UsageError(f"{where}: {setting.name}: expected true or false, got {value!r}")
        return value
    structured = setting.type in (json_object, column_mapping)
    if isinstance(value, bool | list) or (isinstance(value, dict) and not structured):
        raise UsageError(f"{where}: {setting.name}: unexpected value {value!r}")
    try:
        converted = setting.type(value if isinstance(value, str | dict) else str(value))
    except (UsageError, ValueError) as err:
        raise UsageError(f"{where}: {setting.name}: {err}") from None
    if setting.choices is not None and converted not in setting.choices:
        choices = ", ".join(setting.choices)
        raise UsageError(f"{where}: {setting.name}: {value!r} is not one of {choices}")
    return converted


def resolve_settings(args: argparse.Namespace) -> dict[str, Any]:
    """Every setting: the --config file's, overridden by the flags given; then checked."""
    settings: dict[str, Any] = {setting.name: None for setting in SETTINGS}
    if args.config:
        settings.update(read_config(args.config))
    settings.update(
        {s.name: getattr(args, s.name) for s in SETTINGS if getattr(args, s.name) is not None}
    )
    if args.loss_option:
        settings["loss_options"] = {**(settings["loss_options"] or {}), **dict(args.loss_option)}
    if settings["mini_batch_size"] is not None:
        mini_batch = {"mini_batch_size": settings["mini_batch_size"]}
        settings["loss_options"] = {**(settings["loss_options"] or {}), **mini_batch}
    check_settings(settings)
    return settings


def check_settings(settings: dict[str, Any]) -> None:
    """The mistakes found without TensorFlow: missing settings, files and folders, and options
    that do not apply to the formats chosen."""
    missing = [name for name in REQUIRED if not settings[name]]
    if missing:
        raise UsageError(f"missing required setting(s): {', '.join('--' + m for m in missing)}")
    model_name(settings["model"])
    input_file(settings["data"])
    output_folder(settings["output"])
    data_format = settings["format"] or "stsb"
    if settings["split"] and data_format != "sick":
        raise UsageError("--split applies to --format sick only")
    table = data_format in TABLE_FORMATS
    if table and not settings["columns"]:
        raise UsageError(f"--format {data_format} needs --columns, e.g. text_a=q,text_b=a")
    if not table and (settings["columns"] or settings["label"]):
        raise UsageError(f"--columns and --label apply to {', '.join(TABLE_FORMATS)} only")
    if settings["eval"]:
        input_file(settings["eval"])
        eval_format = settings["eval_format"] or data_format
        if eval_format not in EVAL_FORMATS:
            raise UsageError(f"--eval needs --eval-format stsb or sick (--format is {eval_format})")
        if settings["eval_split"] and eval_format != "sick":
            raise UsageError("--eval-split applies to a sick --eval file only")
    elif settings["keep_best"]:
        raise UsageError("--keep-best needs an --eval file to tell the best weights")
    if settings["mini_batch_size"] and not (settings["loss"] or "").startswith("cached-"):
        raise UsageError("--mini-batch-size applies to a cached loss (--loss cached-mnrl) only")


def training_config(settings: dict[str, Any]):
    """The ``TrainingConfig`` of the settings (its defaults for those not set)."""
    from keras_siamese.training import TrainingConfig

    given = {s.name: settings[s.name] for s in SETTINGS if s.training}
    return TrainingConfig(**{name: value for name, value in given.items() if value is not None})


OUTPUTS = r"model|history\.json|history\.png|metrics\.json"  # what train writes in --output


def finished_run(output: Path) -> bool:
    """Whether ``output`` holds a finished run: ``metrics.json`` (written last, atomically, after
    ``model/`` and the history) beside ``model/``."""
    return (output / "metrics.json").is_file() and (output / "model").is_dir()


def remove_backup(backup: Path) -> None:
    """Deletes the backup of a run whose outputs are all saved, newest backup last: killed
    part-way, what is left is still a backup to resume from (and the run is finished anyway)."""
    import shutil

    from keras_siamese.killpoints import kill_point

    for slot in sorted(backup.iterdir()) if backup.is_dir() else ():
        if slot.is_dir() and not slot.is_symlink():
            shutil.rmtree(slot)
        else:
            slot.unlink()
        kill_point("backup-deleting")
    shutil.rmtree(backup, ignore_errors=True)


def run(args: argparse.Namespace) -> None:
    settings = resolve_settings(args)
    output = Path(settings["output"])
    backup = output / "backup"
    from keras_siamese.atomic import remove_stale_temporaries, write_atomically

    remove_stale_temporaries(output, OUTPUTS)  # of a killed run of this command
    if finished_run(output):
        remove_backup(backup)  # left by a run killed while deleting it
        print(
            f"{output} already holds a finished run (model/, metrics.json): nothing to do; "
            "delete them or choose another --output to train again"
        )
        return
    import keras
    import numpy as np

    from keras_siamese.encoders import SentenceEncoder
    from keras_siamese.killpoints import kill_point
    from keras_siamese.training import fit, save_history
    from keras_siamese.training.recipes import development_evaluators, load_training_examples

    config = training_config(settings)
    strategy = None
    if config.distribute:  # first: MultiWorkerMirroredStrategy must precede any TF op
        from keras_siamese.training.distribute import make_strategy

        strategy = make_strategy(config.distribute)
    data_format = settings["format"] or "stsb"
    train = load_training_examples(
        settings["data"],
        data_format,
        config.loss,
        settings["split"],
        settings["columns"],
        settings["label"],
        seed=config.seed,
        loss_options=config.loss_options,
    )
    if settings["max_examples"] and settings["max_examples"] < len(train):
        rows = np.random.default_rng(config.seed).permutation(len(train))
        train = train.select(sorted(rows[: settings["max_examples"]]))
    evaluators = []
    if settings["eval"]:
        evaluators = development_evaluators(
            settings["eval"], settings["eval_format"] or data_format, settings["eval_split"]
        )
    if config.mixed_precision:
        keras.mixed_precision.set_global_policy(config.mixed_precision)
    if strategy is not None:
        with strategy.scope():  # its variables distributed: trained as they are
            encoder = SentenceEncoder.from_pretrained(settings["model"])
    else:
        encoder = SentenceEncoder.from_pretrained(settings["model"])
    before = {k: v for e in evaluators for k, v in e.evaluate(encoder).items()}
    print(f"{len(train)} training examples; before training: {json.dumps(before)}")
    keep_best = bool(settings["keep_best"])
    history = fit(
        encoder, train, config, evaluators, backup_dir=backup, keep_backup=True,
        keep_best=keep_best, strategy=strategy,
    )  # fmt: skip
    from keras_siamese.training.trainer import is_chief

    if not is_chief(strategy):  # the chief saves the model and the history
        print("trained (a worker other than the chief: the chief writes the outputs)")
        return
    # Logged by the last epoch; evaluated now if a backup from an older version lacks them, or
    # for the best weights, put back by keep_best.
    after = {name: history.history[name][-1] for name in before if history.history.get(name)}
    if len(after) < len(before) or keep_best:
        after = {k: v for e in evaluators for k, v in e.evaluate(encoder).items()}
    encoder.model_card_data["evaluation"] = {"before": before, "after": after}
    encoder.save(output / "model")
    kill_point("model-saved")
    save_history(history, output)
    kill_point("history-saved")
    metrics = {
        "config": config.to_dict(),
        "train_examples": len(train),
        "before": before,
        "after": after,
    }
    # Written last: with model/ beside it, it marks the run finished; then the backup can go.
    write_atomically(output / "metrics.json", json.dumps(metrics, indent=2))
    kill_point("metrics-saved")
    remove_backup(backup)
    print(f"after training: {json.dumps(after)}")
    print(f"wrote {output / 'model'}, history.json, history.png and metrics.json in {output}")
