"""`read_table`: examples from a CSV, TSV or JSON-lines file, picking the columns by name."""

import csv
import json
from collections.abc import Iterator, Mapping
from os import PathLike
from pathlib import Path
from typing import Literal

import numpy as np

from keras_siamese.data.examples import Examples, error_source

TableFormat = Literal["csv", "tsv", "jsonl"]
_SUFFIX_FORMATS: dict[str, TableFormat] = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}


def read_table(
    path: str | PathLike,
    columns: Mapping[str, str],
    label: str | None = None,
    format: TableFormat | None = None,
    label_range: tuple[float, float] | None = None,
) -> Examples:
    """Examples whose role `r` holds the file's column `columns[r]`, labelled by column `label`.

    `format` defaults to the file suffix. CSV uses standard quoting; TSV has a header line and no
    quoting; JSON lines holds one object per line. Labels become int32 when every value is an
    integer, float32 when every value is a number, class-name strings otherwise.

    Example:
        >>> import pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "pairs.csv"
        >>> _ = path.write_text('q,a,score\\n"Hi, you",Hello,0.8\\n')
        >>> read_table(path, {"text_a": "q", "text_b": "a"}, label="score").labels
        array([0.8], dtype=float32)
    """
    rows = table_rows(path, format)
    wanted = [*columns.values(), *([label] if label is not None else [])]
    with error_source(path):
        for line, row in rows:
            missing = [name for name in wanted if name not in row]
            if missing:
                raise ValueError(f"line {line} lacks column(s) {missing}; it has {list(row)}")
        texts = {role: [row[name] for _, row in rows] for role, name in columns.items()}
        labels = None if label is None else parse_labels([row[label] for _, row in rows])
        return Examples(texts, labels, label_range)


def table_rows(
    path: str | PathLike, format: TableFormat | None = None
) -> list[tuple[int, dict[str, object]]]:
    """(line number, row as a dict keyed by the header or the JSON keys) for each row of a file."""
    path = Path(path)
    format = format or _SUFFIX_FORMATS.get(path.suffix.lower())
    if format not in ("csv", "tsv", "jsonl"):
        raise ValueError(f"{path}: say format='csv', 'tsv' or 'jsonl' (got {format!r})")
    with path.open(encoding="utf-8", newline="") as file, error_source(path):
        if format == "jsonl":
            return list(_json_lines(file))
        reader = csv.DictReader(
            file,
            delimiter="," if format == "csv" else "\t",
            quoting=csv.QUOTE_MINIMAL if format == "csv" else csv.QUOTE_NONE,
        )
        # Fields beyond the header land under the key None: drop them.
        return [(reader.line_num, {k: v for k, v in row.items() if k}) for row in reader]


def parse_labels(values: list[object]) -> np.ndarray:
    """int32 if every value is an integer, float32 if every value is a number, else strings;
    lists (JSON arrays, e.g. a teacher's embedding or scores) give one float vector per row.

    Missing values (None or "") become NaN or "" so that `Examples` reports their row.

    Example:
        >>> parse_labels(["1", "0"]), parse_labels(["0.5", 1]), parse_labels(["yes", "no"])
        (array([1, 0]), array([0.5, 1. ]), array(['yes', 'no'], dtype='<U3'))
    """
    if values and all(isinstance(value, list) for value in values):  # JSON arrays: vector labels
        try:
            return np.array(values, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError("vector labels must be lists of numbers, all of one length") from None
    for parse in (_integer, float):
        try:
            return np.array([np.nan if value in (None, "") else parse(value) for value in values])
        except (TypeError, ValueError):
            continue
    return np.array(["" if value is None else str(value) for value in values])


def _json_lines(file) -> Iterator[tuple[int, dict[str, object]]]:
    for line, text in enumerate(file, start=1):
        if text.strip():
            row = json.loads(text)
            if not isinstance(row, dict):
                raise ValueError(f"line {line} is not a JSON object")
            yield line, row


def _integer(value: object) -> int:
    if isinstance(value, float):
        raise ValueError("a float is not an integer")
    return int(value)
