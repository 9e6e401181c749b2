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
    return parser.parse_args()


def report(before: dict, after: dict) -> None:
    for name in before:
        print(f"{name:40} {before[name]:10.4f} -> {after[name]:10.4f}")
    print(json.dumps({"before": before, "after": after}))


def train_and_report(args: argparse.Namespace, encoder, train, loss, evaluators) -> None:
    """Evaluates, trains with ``loss`` (a registered name or a ``keras.losses.Loss``; resumable
    from ``output/backup``), evaluates, saves."""
    import keras_siamese as ks

    def evaluate() -> dict:
        return {k: v for e in evaluators for k, v in e(encoder).items()}

    before = evaluate()
    config = ks.TrainingConfig(
        loss=loss, epochs=args.epochs, batch_size=args.batch_size, seed=args.seed
    )
    history = ks.fit(
        encoder, train, config, callbacks=evaluators, backup_dir=args.output / "backup"
    )
    report(before, {name: history.history[name][-1] for name in before})
    encoder.save(args.output / "model")
