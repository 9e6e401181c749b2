"""`Examples`: the validated columns of texts (by role) and optional labels that readers return."""

import contextlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import InitVar, dataclass

import numpy as np

LabelValues = Sequence[object] | np.ndarray


@dataclass(eq=False)  # labels are arrays: compare `columns` and `labels` instead
class Examples:
    """Columns of texts keyed by role, plus an optional label per row, checked on construction.

    Every column is a list of non-empty strings, all columns have the same length, and the labels
    are either finite numbers (stored as float32 scores or int32 class ids; a row may hold a
    vector of them, e.g. a teacher's embedding or scores, for labels `[rows, ...]`) or non-empty
    strings (class names, see `relabel`). `label_range=(low, high)` also checks numeric labels
    lie inside.
    Roles name the model inputs (`{role}_input_ids`), so they must be Python identifiers.

    Example:
        >>> examples = Examples({"text_a": ["A man eats."], "text_b": ["Someone eats."]}, [0.9])
        >>> examples.roles, len(examples), examples.labels.dtype
        (('text_a', 'text_b'), 1, dtype('float32'))
    """

    columns: dict[str, list[str]]
    labels: np.ndarray | None = None
    label_range: InitVar[tuple[float, float] | None] = None

    def __post_init__(self, label_range: tuple[float, float] | None) -> None:
        if not self.columns:
            raise ValueError("Examples need at least one column of texts")
        self.columns = {role: _checked_column(role, texts) for role, texts in self.columns.items()}
        lengths = {role: len(texts) for role, texts in self.columns.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"columns differ in length: {lengths}")
        rows = next(iter(lengths.values()))
        if rows == 0:
            raise ValueError(f"Examples have no rows (columns {list(lengths)})")
        if self.labels is not None:
            self.labels = _checked_labels(self.labels, rows, label_range)

    @property
    def roles(self) -> tuple[str, ...]:
        """The column names, in order."""
        return tuple(self.columns)

    def __len__(self) -> int:
        return len(next(iter(self.columns.values())))

    def select(self, rows: Iterable[int]) -> "Examples":
        """The examples at the given row positions, in that order."""
        rows = list(rows)
        columns = {role: [texts[row] for row in rows] for role, texts in self.columns.items()}
        return Examples(columns, None if self.labels is None else self.labels[rows])

    def head(self, count: int | None) -> "Examples":
        """The first ``count`` examples (all of them when ``count`` is None).

        Example:
            >>> texts = Examples({"text": ["a", "b", "c"]})
            >>> texts.head(2).columns, len(texts.head(5)), texts.head(None) is texts
            ({'text': ['a', 'b']}, 3, True)
        """
        return self if count is None else self.select(range(min(count, len(self))))

    def relabel(self, mapping: Mapping[str, float | int]) -> "Examples":
        """Keep the rows whose label is a key of `mapping`, labelled with its value.

        Example:
            >>> nli = Examples({"text": ["a", "b", "c"]}, ["ENTAILMENT", "NEUTRAL", "NEUTRAL"])
            >>> nli.relabel({"ENTAILMENT": 1, "NEUTRAL": 0}).labels
            array([1, 0, 0], dtype=int32)
        """
        if self.labels is None or self.labels.dtype.kind != "U":
            raise ValueError("relabel needs string labels (class names)")
        rows = [row for row, label in enumerate(self.labels) if label in mapping]
        kept = self.select(rows)
        return Examples(kept.columns, [mapping[label] for label in self.labels[rows]])


def from_lists(
    *,
    labels: LabelValues | None = None,
    label_range: tuple[float, float] | None = None,
    **columns: Sequence[str],
) -> Examples:
    """Examples from lists given as keyword arguments, one per role.

    Example:
        >>> from_lists(anchor=["a query"], positive=["its answer"]).roles
        ('anchor', 'positive')
    """
    return Examples({role: list(texts) for role, texts in columns.items()}, labels, label_range)


@contextlib.contextmanager
def error_source(source: object) -> Iterator[None]:
    """Prefix `source` (a file path, a dataset split) to the ValueErrors raised inside."""
    try:
        yield
    except ValueError as error:
        raise ValueError(f"{source}: {error}") from error


def _checked_column(role: str, texts: Sequence[str]) -> list[str]:
    if not role.isidentifier():
        raise ValueError(f"role {role!r} is not a Python identifier (it names model inputs)")
    texts = list(texts)
    for row, text in enumerate(texts):
        if not isinstance(text, str):
            raise ValueError(f"column {role!r} row {row} is {type(text).__name__}, not str")
        if not text.strip():
            raise ValueError(f"column {role!r} row {row} is empty")
    return texts


def _checked_labels(
    labels: LabelValues, rows: int, label_range: tuple[float, float] | None
) -> np.ndarray:
    array = np.asarray(labels)
    if array.dtype == object:  # e.g. numbers mixed with None: missing values become NaN
        with contextlib.suppress(TypeError, ValueError):
            array = array.astype(np.float64)
    vectors = array.ndim > 1 and array.dtype.kind in "biuf"
    if (array.ndim != 1 and not vectors) or len(array) != rows:
        raise ValueError(
            f"labels have shape {array.shape}, expected ({rows},) like the columns "
            f"(or ({rows}, ...): a vector of numbers per row)"
        )
    if array.dtype.kind in "OSU":
        return _checked_class_names(array)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"labels must be numbers or strings, got dtype {array.dtype}")
    rows_of = (lambda mask: mask.reshape(rows, -1).any(axis=1)) if vectors else (lambda mask: mask)
    bad = np.flatnonzero(rows_of(~np.isfinite(array)))
    if bad.size:
        raise ValueError(f"label in row {bad[0]} is {array[bad[0]]!s}: labels must be finite")
    if label_range is not None:
        low, high = label_range
        bad = np.flatnonzero(rows_of((array < low) | (array > high)))
        if bad.size:
            raise ValueError(f"label in row {bad[0]} is {array[bad[0]]!s}, outside [{low}, {high}]")
    return array.astype(np.float32 if array.dtype.kind == "f" else np.int32)


def _checked_class_names(array: np.ndarray) -> np.ndarray:
    names = [label.decode() if isinstance(label, bytes) else label for label in array.tolist()]
    for row, name in enumerate(names):
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"label in row {row} is {name!r}: expected a non-empty class name")
    return np.array(names)
