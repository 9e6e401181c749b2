"""Shared bits of the example recipes: where the data is, and a before/after report."""

import argparse
import json
import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def parse_args(description: str, output: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    default_data = os.environ.get("KERAS_SIAMESE_DATA", str(REPO.parent / "shared" / "data"))
    parser.add_argument("--data", type=Path, default=Path(default_data))
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--output", type=Path, default=REPO / "runs" / output)
    parser.add_argument(
        "--limit", type=int, help="use only the first N training (and development) examples"
    )
    return parser.parse_args()


def report(before: dict, after: dict) -> None:
    for name in before:
        print(f"{name:40} {before[name]:10.4f} -> {after[name]:10.4f}")
    print(json.dumps({"before": before, "after": after}))


def train_and_report(
    args: argparse.Namespace, encoder, train, loss, evaluators, **settings
) -> None:
    """Evaluates, trains with ``loss`` (a registered name or a ``keras.losses.Loss``; resumable
    from ``output/backup``), evaluates, saves. ``settings``: more ``TrainingConfig`` fields, and
    ``keep_best`` for ``fit``."""
    import keras_siamese as ks

    def evaluate() -> dict:
        return {k: v for e in evaluators for k, v in e(encoder).items()}

    before = evaluate()
    keep_best = settings.pop("keep_best", False)
    config = ks.TrainingConfig(
        loss=loss, epochs=args.epochs, batch_size=args.batch_size, seed=args.seed, **settings
    )
    ks.fit(
        encoder,
        train,
        config,
        callbacks=evaluators,
        backup_dir=args.output / "backup",
        keep_best=keep_best,
    )
    report(before, evaluate())  # the saved model's scores (with keep_best: the best one's)
    encoder.save(args.output / "model")
