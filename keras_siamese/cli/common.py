"""Arguments, checks and helpers shared by the sub-commands.

Nothing here imports TensorFlow: the argument checks run, and report a mistake, before any
sub-command loads a model.
"""

import argparse
import os
from pathlib import Path

MODEL_HELP = "a model folder, or a known name such as all-MiniLM-L6-v2 (any letter case)"
VERBOSE_ENV = "KERAS_SIAMESE_VERBOSE"  # keras_siamese.backend.VERBOSE_ENV (importing it loads TF)
SICK_SPLITS = ("TRAIN", "TRIAL")
SICK_HEADER = ("pair_ID", "sentence_A", "sentence_B")


class UsageError(argparse.ArgumentTypeError):
    """A mistake in the arguments: one line on standard error, exit status 2."""


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Ends each option's help with its default, unless the option is required or its help
    already says "(required)" or states the default."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.required or any(word in (action.help or "") for word in ("default", "required")):
            return action.help or ""
        return super()._get_help_string(action)


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, and whose sub-commands share its help
    formatter."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def add_model_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=model_name, help=MODEL_HELP)


def add_batch_size_argument(parser: argparse.ArgumentParser, default: int = 32) -> None:
    parser.add_argument("--batch-size", type=positive_int, default=default, help="texts per batch")


def add_prompt_arguments(parser: argparse.ArgumentParser, verb: str = "encode") -> None:
    """``--prompt-name`` or ``--prompt``, and ``--truncate-dim`` (sentence-transformers' ``encode``
    arguments); ``prompt_kwargs`` turns them into keyword arguments."""
    prompts = parser.add_mutually_exclusive_group()
    prompts.add_argument(
        "--prompt-name",
        default=None,
        help=f"{verb} with the model's prompt of this name, e.g. query (default: the model's "
        "default_prompt_name, if any)",
    )
    prompts.add_argument(
        "--prompt", default=None, help='prepend this text instead, e.g. "query: " (default: none)'
    )
    parser.add_argument(
        "--truncate-dim",
        type=positive_int,
        default=None,
        help="keep the first N dimensions (default: the model's truncate_dim, else all)",
    )


def prompt_kwargs(args: argparse.Namespace) -> dict:
    """The ``prompt_name``, ``prompt`` and ``truncate_dim`` keyword arguments of ``args``."""
    return {
        "prompt_name": args.prompt_name,
        "prompt": args.prompt,
        "truncate_dim": args.truncate_dim,
    }


def positive_int(value: str) -> int:
    """An integer of at least 1."""
    try:
        number = int(value)
    except ValueError:
        raise UsageError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise UsageError(f"{value} is not positive")
    return number


def sick_split(value: str) -> str:
    """A SICK split name, in any letter case."""
    if value.upper() not in SICK_SPLITS:
        raise UsageError(f"unknown SICK split {value!r}; choose from {', '.join(SICK_SPLITS)}")
    return value.upper()


def model_name(value: str) -> str:
    """A model folder or a name; a path that does not lead to a folder is an error."""
    path = Path(value).expanduser()
    if path.is_dir():
        return value
    if path.exists() or value.startswith((".", "/", "~")) or value.count("/") > 1:
        raise UsageError(f"model folder {value!r} does not exist (or is not a folder)")
    return value


def input_file(value: str) -> str:
    """An existing readable file."""
    path = Path(value)
    if not path.exists():
        raise UsageError(f"no such file: {value}")
    if not path.is_file():
        raise UsageError(f"{value} is not a file")
    if not os.access(path, os.R_OK):
        raise UsageError(f"{value} is not readable")
    return value


def output_path(value: str, folder: bool = False) -> str:
    """A path to write: its parent is a writable folder, and it is not of the other kind (a
    folder where a file is written, or a file where a folder is)."""
    path = Path(value)
    parent = path.parent
    if not parent.is_dir():
        raise UsageError(f"the folder of {value} does not exist: create {parent} first")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write in {parent}")
    if path.exists() and path.is_dir() != folder:
        kind = "not a folder" if folder else "a folder"
        raise UsageError(f"{value} exists and is {kind}")
    return value


def output_file(value: str) -> str:
    """A file path to write (see ``output_path``)."""
    return output_path(value)


def output_folder(value: str) -> str:
    """A folder path to write (see ``output_path``)."""
    return output_path(value, folder=True)


def looks_like_sick(path: str | Path) -> bool:
    """Whether the file's first line is SICK's header (pair_ID, sentence_A, sentence_B, ...)."""
    with Path(path).open(encoding="utf-8", errors="replace") as file:
        header = file.readline().rstrip("\r\n").split("\t")
    return tuple(header[: len(SICK_HEADER)]) == SICK_HEADER


def read_lines(path: str | Path, allow_empty: bool = False) -> list[str]:
    """One text per line, UTF-8: split on "\\n" only (a "\\r" before it is dropped), so a text
    may hold other Unicode line separators; errors name the file and line. A file without any
    line is an error unless ``allow_empty``."""
    data = Path(path).read_bytes()
    try:
        text = data.decode("utf-8-sig")  # a byte-order mark is not text
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise ValueError(f"{path}:{line}: not UTF-8 text ({err.reason})") from None
    lines = text.split("\n")
    if lines[-1] == "":  # the newline that ends the last line
        lines.pop()
    lines = [line.removesuffix("\r") for line in lines]
    for number, line in enumerate(lines, 1):
        if not line.strip():
            raise ValueError(f"{path}:{number}: empty line; give one text per line")
    if not lines and not allow_empty:
        raise ValueError(f"{path}: no text; give one text per line")
    return lines


def load_encoder(model: str):
    """The ``SentenceEncoder`` of a model folder or name (imports Keras and TensorFlow)."""
    from keras_siamese.encoders import SentenceEncoder

    return SentenceEncoder.from_pretrained(model)
