"""Arguments and helpers shared by the sub-commands."""

import argparse
from pathlib import Path

MODEL_HELP = "a model folder, or a known name such as all-MiniLM-L6-v2"


def add_model_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help=MODEL_HELP)


def add_batch_size_argument(parser: argparse.ArgumentParser, default: int = 32) -> None:
    parser.add_argument("--batch-size", type=int, default=default, help="texts per batch")


def read_lines(path: str | Path) -> list[str]:
    """One text per line; a blank line is an error naming its line number."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            raise ValueError(f"{path}: line {number} is empty; give one text per line.")
    return lines


def load_encoder(model: str):
    from keras_siamese.encoders import SentenceEncoder

    return SentenceEncoder.from_pretrained(model)
