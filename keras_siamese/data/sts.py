"""`read_sts`: sentence pairs and similarity scores from the STS Benchmark files."""

import csv
from os import PathLike
from pathlib import Path

from keras_siamese.data.examples import Examples, error_source

_SCORE, _SENTENCE1, _SENTENCE2 = 4, 5, 6
MAX_STS_SCORE = 5.0


def read_sts(path: str | PathLike, normalize_scores: bool = True) -> Examples:
    """Pairs (`text_a`, `text_b`) with their 0-5 score, divided by 5 when `normalize_scores`.

    The files (e.g. `sts-dev.csv`) are tab-separated without quoting (sentences contain quote
    characters): genre, file, year, id, score, sentence1, sentence2, then optional extra fields.

    Example:
        >>> row = ["main-captions", "MSRvid", "2012", "0001", "5.000", "A man dances.", "He dances"]
        >>> _ = Path("sts-dev.csv").write_text("\\t".join(row) + "\\n")
        >>> dev = read_sts("sts-dev.csv")
        >>> len(dev), float(dev.labels.max())
        (1, 1.0)
    """
    path = Path(path)
    sentences1, sentences2, scores = [], [], []
    with path.open(encoding="utf-8", newline="") as file, error_source(path):
        for line, fields in enumerate(csv.reader(file, delimiter="\t", quoting=csv.QUOTE_NONE), 1):
            if len(fields) <= _SENTENCE2:
                raise ValueError(f"line {line} has {len(fields)} fields, expected at least 7")
            try:
                scores.append(float(fields[_SCORE]))
            except ValueError:
                raise ValueError(f"line {line}: score {fields[_SCORE]!r} is not a number") from None
            sentences1.append(fields[_SENTENCE1])
            sentences2.append(fields[_SENTENCE2])
        scale = MAX_STS_SCORE if normalize_scores else 1.0
        return Examples(
            {"text_a": sentences1, "text_b": sentences2},
            [score / scale for score in scores],
            label_range=(0.0, MAX_STS_SCORE / scale),
        )
