"""``keras-siamese train``: fine-tune a model the siamese way, from flags or a YAML/JSON config."""

import argparse
import json
from pathlib import Path

import yaml

from keras_siamese.cli.common import MODEL_HELP

DEFAULTS = {
    "format": "stsb",
    "loss": "cosent",
    "eval_format": None,
    "split": None,
    "eval_split": None,
    "columns": None,
    "label": None,
    "loss_options": None,
}
TRAINING_FLAGS = {  # flag dest -> TrainingConfig field
    "loss": "loss",
    "epochs": "epochs",
    "batch_size": "batch_size",
    "lr": "learning_rate",
    "warmup_ratio": "warmup_ratio",
    "weight_decay": "weight_decay",
    "seed": "seed",
    "checkpoint_every": "checkpoint_every",
    "mixed_precision": "mixed_precision",
    "loss_options": "loss_options",
}


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "train",
        help="fine-tune a model with a siamese loss",
        description="Fine-tunes MODEL on --data; run again with the same --output to resume.",
    )
    add = parser.add_argument
    add("--config", help="YAML or JSON file of these settings (flags override it)")
    add("--model", help=MODEL_HELP)
    add("--data", help="training file")
    add("--format", help="stsb | sick | csv | tsv | jsonl (default stsb)")
    add("--split", help="SICK split to train on (default TRAIN)")
    add("--columns", help="csv/tsv/jsonl column mapping, e.g. text_a=question,text_b=answer")
    add("--label", help="csv/tsv/jsonl label column")
    add(
        "--loss",
        help="cosent | cosine | contrastive | online-contrastive | triplet | "
        "batch-hard-triplet | batch-semi-hard-triplet | batch-all-triplet | mnrl",
    )
    add("--loss-options", type=json.loads, help='loss arguments as JSON, e.g. {"margin": 0.5}')
    add("--epochs", type=int)
    add("--batch-size", type=int)
    add("--lr", type=float, help="peak learning rate (default 2e-5)")
    add("--warmup-ratio", type=float, help="fraction of steps of linear warm-up (default 0.1)")
    add("--weight-decay", type=float)
    add("--seed", type=int)
    add("--checkpoint-every", type=int, help="steps between backups and evaluations")
    add("--mixed-precision", choices=("mixed_bfloat16", "mixed_float16"))
    add("--eval", help="development file evaluated before training and after each epoch")
    add("--eval-format", help="stsb | sick (default: --format)")
    add("--eval-split", help="SICK split to evaluate on (default TRIAL)")
    add("--output", help="output folder: model/, history.json, history.png, metrics.json")
    parser.set_defaults(run=run)


def resolve_settings(args: argparse.Namespace) -> dict:
    """Defaults, then the --config file, then the flags given."""
    settings = dict(DEFAULTS)
    if args.config:
        text = Path(args.config).read_text()
        values = json.loads(text) if args.config.endswith(".json") else yaml.safe_load(text)
        values = {key.replace("-", "_"): value for key, value in (values or {}).items()}
        unknown = set(values) - set(vars(args))
        if unknown:
            raise ValueError(f"{args.config}: unknown settings {sorted(unknown)}.")
        settings.update(values)
    settings.update({k: v for k, v in vars(args).items() if v is not None and k != "run"})
    missing = [name for name in ("model", "data", "output") if not settings.get(name)]
    if missing:
        raise ValueError(f"missing required setting(s): {', '.join('--' + m for m in missing)}")
    return settings


def _columns(spec: str | dict | None) -> dict | None:
    if spec is None or isinstance(spec, dict):
        return spec
    pairs = [item.split("=", 1) for item in spec.split(",")]
    if any(len(pair) != 2 for pair in pairs):
        raise ValueError(f"--columns must look like role=column,role=column; got {spec!r}.")
    return dict(pairs)


def run(args: argparse.Namespace) -> None:
    settings = resolve_settings(args)
    import keras

    from keras_siamese.encoders import SentenceEncoder
    from keras_siamese.training import TrainingConfig, fit, save_history
    from keras_siamese.training.recipes import development_evaluators, load_training_examples

    config = TrainingConfig(
        **{field: settings[flag] for flag, field in TRAINING_FLAGS.items() if flag in settings}
    )
    output = Path(settings["output"])
    train = load_training_examples(
        settings["data"],
        settings["format"],
        config.loss,
        settings["split"],
        _columns(settings["columns"]),
        settings["label"],
        seed=config.seed,
    )
    evaluators = []
    if settings.get("eval"):
        evaluators = development_evaluators(
            settings["eval"], settings["eval_format"] or settings["format"], settings["eval_split"]
        )
    if config.mixed_precision:
        keras.mixed_precision.set_global_policy(config.mixed_precision)
    encoder = SentenceEncoder.from_pretrained(settings["model"])
    before = {k: v for e in evaluators for k, v in e.evaluate(encoder).items()}
    print(f"{len(train)} training examples; before training: {json.dumps(before)}")
    history = fit(encoder, train, config, evaluators, backup_dir=output / "backup")
    after = {name: history.history[name][-1] for name in before}  # logged by the last epoch
    encoder.save(output / "model")
    save_history(history, output)
    metrics = {
        "config": config.to_dict(),
        "train_examples": len(train),
        "before": before,
        "after": after,
    }
    (output / "metrics.json").write_text(json.dumps(metrics, indent=2))
    print(f"after training: {json.dumps(after)}")
    print(f"wrote {output / 'model'}, history.json, history.png and metrics.json in {output}")
