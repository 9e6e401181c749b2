"""The ``keras-siamese`` command line: one sub-command per module of this package.

Parsing and checking the arguments imports no TensorFlow: ``--version``, ``--help`` and mistakes
in the arguments answer at once; a sub-command's ``run`` imports what it needs.
"""

import argparse
import os
import sys
import traceback
from collections.abc import Sequence

from keras_siamese import __version__
from keras_siamese.cli import beam_encode, encode, evaluate, export, losses, mine, search, train
from keras_siamese.cli.common import VERBOSE_ENV, Parser, UsageError

COMMANDS = (encode, evaluate, search, train, export, losses, mine, beam_encode)
TF_LOG_LEVEL_ENV = "TF_CPP_MIN_LOG_LEVEL"
USER_ERRORS = (UsageError, ValueError, TypeError, OSError)  # OSError: FileNotFoundError, ...


class _Verbose(argparse.Action):
    """``--verbose``: sets ``KERAS_SIAMESE_VERBOSE=1`` and TensorFlow's log level to all as it is
    parsed, before anything (even a later argument's check) imports TensorFlow."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs) -> None:
        super().__init__(option_strings, dest, nargs=0, default=False, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        os.environ[VERBOSE_ENV] = "1"
        os.environ[TF_LOG_LEVEL_ENV] = "0"
        setattr(namespace, self.dest, True)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="keras-siamese",
        description="Sentence embeddings trained the siamese way in Keras 3.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--verbose",
        action=_Verbose,
        help="show TensorFlow's log and the traceback of an error (give it before the command)",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def _out_of_memory(err: Exception) -> bool:
    """Python's ``MemoryError`` or TensorFlow's ``ResourceExhaustedError`` (matched by name, so
    that this module imports no TensorFlow)."""
    return isinstance(err, MemoryError) or type(err).__name__ == "ResourceExhaustedError"


def main(argv: Sequence[str] | None = None) -> int:
    """Runs one sub-command and returns the exit status: 0 done, 2 a mistake in the arguments or
    the input (one line on standard error), 1 another failure (one line; the traceback too with
    ``--verbose``), 130 interrupted."""
    parser = build_parser()
    try:
        args, unknown = parser.parse_known_args(argv)
        if unknown and "pipeline_args" not in args:  # beam-encode passes them on to Beam
            parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    except SystemExit as exit:  # --help, --version, or a mistake argparse has reported
        return exit.code if isinstance(exit.code, int) else 0 if exit.code is None else 2
    if unknown:
        args.pipeline_args = unknown
    try:
        args.run(args)
    except KeyboardInterrupt:
        print(f"keras-siamese {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        if args.verbose:
            traceback.print_exc()
        user_error = isinstance(err, USER_ERRORS)
        message = " ".join(str(err).split())  # one line
        if _out_of_memory(err):  # the machine's limit, not a bug: no traceback hint
            first_line = next(iter(str(err).strip().splitlines()), "")
            message = f"out of memory ({first_line}); retry with a smaller --batch-size"
        elif not user_error or not message:
            message = f"{type(err).__name__}: {message}".rstrip(": ")
            if not user_error and not args.verbose:
                message += " (an internal error: rerun with --verbose for the traceback)"
        print(f"keras-siamese {args.command}: error: {message}", file=sys.stderr)
        return 2 if user_error else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
