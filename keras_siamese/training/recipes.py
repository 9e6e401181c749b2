"""Which examples a data format gives each loss, and the evaluators of a development file.

- stsb: pairs scored score / 5, for the score losses (cosent, cosine);
- sick: pairs scored (relatedness - 1) / 4 for the score losses; entailment (1) vs contradiction
  (0) pairs for contrastive and online-contrastive; (anchor, entailed, contradicted) triplets for
  triplet; entailed (anchor, positive) pairs for mnrl; pairs labelled contradiction 0,
  entailment 1, neutral 2 for softmax (``num_labels=3``);
- csv, tsv, jsonl: the ``columns`` and ``label`` given, for any loss.
"""

from collections.abc import Mapping
from pathlib import Path

import keras

from keras_siamese.data import (
    Examples,
    read_sick,
    read_sts,
    read_table,
    sick_binary_pairs,
    sick_triplets,
)
from keras_siamese.data.sick import ENTAILMENT, NLI_CLASS_IDS
from keras_siamese.evaluation import BinaryClassificationEvaluator, Evaluator, STSEvaluator
from keras_siamese.losses import get_loss
from keras_siamese.siamese import loss_roles

FORMATS = ("stsb", "sick", "csv", "tsv", "jsonl")


def load_training_examples(
    path: str | Path,
    format: str,
    loss: str | keras.losses.Loss,
    split: str | None = None,
    columns: Mapping[str, str] | None = None,
    label: str | None = None,
    seed: int = 0,
    loss_options: Mapping | None = None,
) -> Examples:
    """The examples of ``path`` in the shape ``loss`` consumes (see the module's table): the
    loss's ``roles`` and ``label_kind`` decide. ``loss`` is a registered name (built with
    ``loss_options``, as ``fit`` builds it) or a loss instance."""
    loss = get_loss(loss, loss_options)
    name = getattr(loss, "registry_name", type(loss).__name__)
    roles, kind = loss_roles(loss), getattr(loss, "label_kind", "none")
    if kind in ("embedding", "scores") and format in ("stsb", "sick"):
        raise ValueError(
            f"Loss {name!r} learns a teacher's {kind}, which {format} does not have: label the "
            "examples with keras_siamese.data.with_teacher_embeddings / with_teacher_scores, or "
            "give a jsonl file whose label is a list per row."
        )
    if format == "stsb":
        if kind != "score":
            raise ValueError(f"STS Benchmark has similarity scores; loss {name!r} cannot use them.")
        return read_sts(path)
    if format == "sick":
        if kind == "score":
            return read_sick(path, split or "TRAIN")
        pairs = read_sick(path, split or "TRAIN", label="entailment")
        if roles == ("anchor", "positive", "negative"):
            return sick_triplets(pairs, seed=seed)
        if kind == "binary":
            return sick_binary_pairs(pairs)
        if roles == ("anchor", "positive"):
            entailed = pairs.relabel({ENTAILMENT: 1})
            return Examples(
                {"anchor": entailed.columns["text_a"], "positive": entailed.columns["text_b"]}
            )
        if kind == "class" and roles == ("text_a", "text_b"):
            return pairs.relabel(NLI_CLASS_IDS)
        raise ValueError(f"SICK has no class labels for loss {name!r}.")
    if format in ("csv", "tsv", "jsonl"):
        if not columns:
            raise ValueError(f"Format {format!r} needs a column mapping, e.g. text_a=q,text_b=a.")
        return read_table(path, columns, label=label, format=format)
    raise ValueError(f"Unknown data format {format!r}; choose from {FORMATS}.")


def development_evaluators(
    path: str | Path,
    format: str,
    split: str | None = None,
    name: str = "dev",
    limit: int | None = None,
) -> list[Evaluator]:
    """STS correlation on a development file; on SICK also entailment-vs-contradiction.
    ``limit``: only the first ``limit`` pairs of each (quick runs)."""

    if format == "stsb":
        return [STSEvaluator.from_examples(read_sts(path).head(limit), name=f"{name}_sts")]
    if format == "sick":
        split = split or "TRIAL"
        pairs = sick_binary_pairs(read_sick(path, split, label="entailment")).head(limit)
        return [
            STSEvaluator.from_examples(read_sick(path, split).head(limit), name=f"{name}_sts"),
            BinaryClassificationEvaluator.from_examples(pairs, name=f"{name}_entailment"),
        ]
    raise ValueError(f"Development files must be stsb or sick, got {format!r}.")
