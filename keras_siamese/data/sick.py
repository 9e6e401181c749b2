"""SICK: relatedness or entailment pairs, and the binary pairs and triplets derived from them."""

from collections import defaultdict
from os import PathLike
from typing import Literal

import numpy as np

from keras_siamese.data.examples import Examples, error_source
from keras_siamese.data.table import read_table

ENTAILMENT, NEUTRAL, CONTRADICTION = "ENTAILMENT", "NEUTRAL", "CONTRADICTION"
# class ids of the entailment labels for SoftmaxLoss, as sentence-transformers' NLI recipe has them
NLI_CLASS_IDS = {CONTRADICTION: 0, ENTAILMENT: 1, NEUTRAL: 2}
_PAIR_COLUMNS = {"text_a": "sentence_A", "text_b": "sentence_B"}
_LABEL_COLUMNS = {"relatedness": "relatedness_score", "entailment": "entailment_label"}


def read_sick(
    path: str | PathLike,
    split: Literal["TRAIN", "TRIAL"] | None = None,
    label: Literal["relatedness", "entailment"] = "relatedness",
) -> Examples:
    """Pairs (`text_a`, `text_b`) of one SemEval split (all rows when None), labelled by
    relatedness mapped from 1-5 to [0, 1], or by entailment class name (ENTAILMENT, NEUTRAL,
    CONTRADICTION).

    Example:
        >>> header = ["pair_ID", "sentence_A", "sentence_B", "relatedness_score", "SemEval_set"]
        >>> row = ["1", "A dog runs.", "A dog is running.", "5.0", "TRIAL"]
        >>> with open("SICK.txt", "w") as file:  # tab-separated, with a header line
        ...     _ = file.write("\\n".join("\\t".join(line) for line in (header, row)) + "\\n")
        >>> trial = read_sick("SICK.txt", "TRIAL")
        >>> len(trial), trial.roles, trial.labels.tolist()
        (1, ('text_a', 'text_b'), [1.0])
    """
    if label not in _LABEL_COLUMNS:
        raise ValueError(f"label must be one of {list(_LABEL_COLUMNS)}, got {label!r}")
    table = read_table(
        path, {**_PAIR_COLUMNS, "split": "SemEval_set"}, label=_LABEL_COLUMNS[label], format="tsv"
    )
    rows = [row for row, name in enumerate(table.columns["split"]) if split in (None, name)]
    with error_source(path):
        if not rows:
            raise ValueError(f"no rows in split {split!r}")
        chosen = table.select(rows)
        texts = {role: chosen.columns[role] for role in _PAIR_COLUMNS}
        if label == "entailment":
            return Examples(texts, chosen.labels)
        return Examples(texts, (chosen.labels - 1.0) / 4.0, label_range=(0.0, 1.0))


def sick_binary_pairs(examples: Examples) -> Examples:
    """The entailment (1) and contradiction (0) pairs of `read_sick(label="entailment")`.

    Example:
        >>> pairs = Examples({"text_a": ["a", "b", "c"], "text_b": ["d", "e", "f"]},
        ...                  [ENTAILMENT, NEUTRAL, CONTRADICTION])
        >>> sick_binary_pairs(pairs).labels
        array([1, 0], dtype=int32)
    """
    return examples.relabel({ENTAILMENT: 1, CONTRADICTION: 0})


def sick_triplets(examples: Examples, seed: int = 0, both_directions: bool = False) -> Examples:
    """(`anchor`, `positive`, `negative`) triplets from `read_sick(label="entailment")` pairs.

    As in sentence-transformers' NLI examples, pairs are grouped by their first sentence; each
    first sentence with at least one entailed and one contradicted second sentence gives one
    triplet, whose positive and negative are drawn (reproducibly, from `seed`) among those.
    `both_directions` also reads every pair backwards, as that example does for AllNLI.

    Example:
        >>> pairs = Examples({"text_a": ["a", "a", "a"], "text_b": ["b", "c", "d"]},
        ...                  [ENTAILMENT, NEUTRAL, CONTRADICTION])
        >>> sick_triplets(pairs).columns
        {'anchor': ['a'], 'positive': ['b'], 'negative': ['d']}
    """
    if examples.labels is None or examples.labels.dtype.kind != "U":
        raise ValueError("sick_triplets needs entailment labels: read_sick(label='entailment')")
    entailed: dict[str, dict[str, None]] = defaultdict(dict)
    contradicted: dict[str, dict[str, None]] = defaultdict(dict)
    firsts, seconds = examples.columns["text_a"], examples.columns["text_b"]
    pairs = list(zip(firsts, seconds, examples.labels, strict=True))
    if both_directions:
        pairs += zip(seconds, firsts, examples.labels, strict=True)
    for first, second, label in pairs:
        if label in (ENTAILMENT, CONTRADICTION):
            (entailed if label == ENTAILMENT else contradicted)[first][second] = None
    anchors = [anchor for anchor in entailed if anchor in contradicted]
    if not anchors:
        raise ValueError("no first sentence has both an entailed and a contradicted pair")
    rng = np.random.default_rng(seed)

    def draw(candidates: dict[str, None]) -> str:
        return list(candidates)[rng.integers(len(candidates))]

    triplets = [(anchor, draw(entailed[anchor]), draw(contradicted[anchor])) for anchor in anchors]
    anchors, positives, negatives = (list(column) for column in zip(*triplets, strict=True))
    return Examples({"anchor": anchors, "positive": positives, "negative": negatives})
