"""``keras-siamese mine MODEL PAIRS -o OUT``: add hard negatives to (anchor, positive) pairs."""

import argparse
import math
from pathlib import Path

from keras_siamese.cli.common import (
    UsageError,
    add_batch_size_argument,
    add_model_argument,
    input_file,
    load_encoder,
    output_file,
    positive_int,
    read_lines,
)

ROLES = ("anchor", "positive")
OUTPUT_FORMATS = ("triplet", "n-tuple", "labeled-pair")  # keras_siamese.mining.OUTPUT_FORMATS
SAMPLING_STRATEGIES = ("top", "random")  # keras_siamese.mining.SAMPLING_STRATEGIES
INPUT_SUFFIXES = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
OUTPUT_SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "mine",
        help="add hard negatives to (anchor, positive) pairs",
        description="Mines hard negatives for each anchor of PAIRS among the positives (and the "
        "--corpus texts), as sentence-transformers' mine_hard_negatives does, and writes "
        "triplets, n-tuples or labelled pairs as CSV or JSON lines (by the suffix of --output).",
    )
    add_model_argument(parser)
    parser.add_argument("pairs", type=input_file, help="CSV, TSV or JSON-lines file of pairs")
    parser.add_argument(
        "-o", "--output", type=mined_output, required=True, help="the .csv or .jsonl file to write"
    )
    parser.add_argument(
        "--columns",
        type=pair_columns,
        default={role: role for role in ROLES},
        help="the columns of PAIRS holding anchor and positive, as role=column pairs "
        "(default: anchor=anchor,positive=positive)",
    )
    parser.add_argument(
        "--format",
        choices=("csv", "tsv", "jsonl"),
        default=None,
        help="format of PAIRS (default: by its suffix)",
    )
    parser.add_argument(
        "--corpus",
        type=input_file,
        default=None,
        help="more candidate negatives: a text file, UTF-8, one text per line (default: the "
        "positives only)",
    )
    parser.add_argument(
        "--num-negatives", type=positive_int, default=3, help="negatives per anchor"
    )
    parser.add_argument(
        "--range-min", type=whole_number, default=0, help="skip the best N candidates"
    )
    parser.add_argument(
        "--range-max",
        type=positive_int,
        default=None,
        help="consider the best N candidates (default: range-min + num-negatives + the most "
        "positives of one anchor, 10 x num-negatives with a margin or --max-score)",
    )
    for flag, text in (
        ("--max-score", "drop candidates scoring above this cosine similarity"),
        ("--min-score", "drop candidates scoring below this cosine similarity"),
        ("--absolute-margin", "drop candidates scoring above the positive's score minus this"),
        ("--relative-margin", "drop candidates above the positive's score less this fraction"),
    ):
        parser.add_argument(flag, type=finite_number, default=None, help=f"{text} (default: none)")
    parser.add_argument(
        "--sampling-strategy",
        choices=SAMPLING_STRATEGIES,
        default="top",
        help="keep the best candidates, or draw them at random",
    )
    parser.add_argument(
        "--output-format",
        choices=OUTPUT_FORMATS,
        default="triplet",
        help="anchor,positive,negative rows; anchor,positive,negative_1..N rows; or "
        "text_a,text_b,label rows",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the random sampling")
    add_batch_size_argument(parser)
    parser.set_defaults(run=run)


def mined_output(value: str) -> str:
    """A file to write whose suffix says CSV or JSON lines."""
    if Path(value).suffix.lower() not in OUTPUT_SUFFIXES:
        raise UsageError(f"{value}: name a .csv or .jsonl file")
    return output_file(value)


def pair_columns(value: str) -> dict[str, str]:
    """``anchor=COLUMN,positive=COLUMN``; a role left out keeps its own name as column."""
    columns = {role: role for role in ROLES}
    for item in value.split(","):
        role, equals, column = item.partition("=")
        role, column = role.strip(), column.strip()
        if not equals or not column or role not in ROLES:
            raise UsageError(f"not anchor=COLUMN,positive=COLUMN: {value}")
        columns[role] = column
    return columns


def whole_number(value: str) -> int:
    """An integer of at least 0."""
    try:
        number = int(value)
    except ValueError:
        raise UsageError(f"{value!r} is not a whole number") from None
    if number < 0:
        raise UsageError(f"{value} is negative")
    return number


def finite_number(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise UsageError(f"{value!r} is not a number") from None
    if not math.isfinite(number):
        raise UsageError(f"{value} is not a finite number")
    return number


def check_range(args: argparse.Namespace) -> None:
    """The checks of ``range_min``/``range_max`` that need no data (before anything loads)."""
    if args.range_max is None:
        return
    if args.range_min >= args.range_max:
        raise UsageError(f"--range-min {args.range_min} must be below --range-max {args.range_max}")
    if args.num_negatives > args.range_max - args.range_min:
        raise UsageError(
            f"--num-negatives {args.num_negatives} does not fit between --range-min "
            f"{args.range_min} and --range-max {args.range_max}"
        )


def read_pairs(path: str, columns: dict[str, str], format: str | None):
    """``Examples`` with roles anchor and positive; errors name the file and line."""
    format = format or INPUT_SUFFIXES.get(Path(path).suffix.lower())
    if format is None:
        raise UsageError(f"{path}: say --format csv, tsv or jsonl (unknown suffix)")
    from keras_siamese.data import Examples
    from keras_siamese.data.table import table_rows

    rows = _json_rows(path) if format == "jsonl" else table_rows(path, format)
    texts: dict[str, list[str]] = {role: [] for role in ROLES}
    for line, row in rows:
        for role, column in columns.items():
            if column not in row:
                raise ValueError(f"{path}:{line}: no column {column!r} (it has {list(row)})")
            text = row[column]
            if not isinstance(text, str):
                raise ValueError(f"{path}:{line}: column {column!r} is {text!r}, not text")
            if not text.strip():
                raise ValueError(f"{path}:{line}: column {column!r} is empty")
            texts[role].append(text)
    if not rows:
        raise ValueError(f"{path}: no pairs")
    return Examples(texts)


def _json_rows(path: str) -> list[tuple[int, dict]]:
    import json

    rows = []
    with open(path, encoding="utf-8") as file:
        for line, text in enumerate(file, 1):
            if not text.strip():
                continue
            try:
                row = json.loads(text)
            except ValueError as err:
                raise ValueError(f"{path}:{line}: not JSON ({err})") from None
            if not isinstance(row, dict):
                raise ValueError(f"{path}:{line}: not a JSON object")
            rows.append((line, row))
    return rows


def write_mined(path: str, mined) -> None:
    """``mined`` (Examples) as CSV or JSON lines, by the suffix, atomically; labels as ``label``."""
    import csv
    import json

    from keras_siamese.atomic import atomic_file

    names = [*mined.columns, *(["label"] if mined.labels is not None else [])]
    values = [
        *mined.columns.values(),
        *([mined.labels.tolist()] if mined.labels is not None else []),
    ]
    with atomic_file(Path(path)) as tmp, open(tmp, "w", encoding="utf-8", newline="") as file:
        if OUTPUT_SUFFIXES[Path(path).suffix.lower()] == "csv":
            writer = csv.writer(file)
            writer.writerow(names)
            writer.writerows(zip(*values, strict=True))
        else:
            for row in zip(*values, strict=True):
                file.write(
                    json.dumps(dict(zip(names, row, strict=True)), ensure_ascii=False) + "\n"
                )


def summary(mined) -> tuple[int, int]:
    """(anchors that got negatives, distinct (anchor, negative) pairs mined)."""
    columns = mined.columns
    if mined.labels is not None:  # labelled pairs: the negatives are the rows labelled 0
        rows = zip(columns["text_a"], columns["text_b"], mined.labels.tolist(), strict=True)
        found = {(anchor, text) for anchor, text, label in rows if label == 0}
    else:
        roles = [role for role in columns if role.startswith("negative")]
        found = {
            (anchor, negative)
            for role in roles
            for anchor, negative in zip(columns["anchor"], columns[role], strict=True)
        }
    return len({anchor for anchor, _ in found}), len(found)


def run(args: argparse.Namespace) -> None:
    check_range(args)
    pairs = read_pairs(args.pairs, args.columns, args.format)
    from keras_siamese.mining import mine_hard_negatives

    corpus = read_lines(args.corpus) if args.corpus else None
    encoder = load_encoder(args.model)
    mined = mine_hard_negatives(
        encoder,
        pairs,
        corpus,
        anchor_role="anchor",
        positive_role="positive",
        num_negatives=args.num_negatives,
        range_min=args.range_min,
        range_max=args.range_max,
        max_score=args.max_score,
        min_score=args.min_score,
        absolute_margin=args.absolute_margin,
        relative_margin=args.relative_margin,
        sampling_strategy=args.sampling_strategy,
        output_format=args.output_format,
        seed=args.seed,
        batch_size=args.batch_size,
    )
    write_mined(args.output, mined)
    anchors = len(set(pairs.columns["anchor"]))
    with_negatives, negatives = summary(mined)
    print(
        f"mined {negatives} negatives for {with_negatives} of {anchors} anchors; wrote "
        f"{len(mined)} {args.output_format} rows to {args.output}"
    )
