"""The ``keras-siamese`` command line: one sub-command per module of this package."""

import argparse
import sys
from collections.abc import Sequence

from keras_siamese.cli import encode, evaluate, export, search, train

COMMANDS = (encode, evaluate, search, train, export)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="keras-siamese",
        description="Sentence embeddings trained the siamese way in Keras 3.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs one sub-command; a user error prints one line and exits with status 2."""
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except (FileNotFoundError, ValueError, TypeError, OSError) as err:
        print(f"keras-siamese {args.command}: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
