"""``keras-siamese evaluate TASK MODEL FILE...``: metrics of a model on a benchmark, as JSON.

Tasks and their inputs (CSV with a header line, TSV with a header line, or JSON lines, by the
file suffix: .csv, .tsv/.tab, .jsonl/.ndjson; other columns are ignored):

- ``sts FILE``: an STS Benchmark file or SICK (Spearman and Pearson x100).
- ``ir QUERIES CORPUS QRELS``: queries (``id``, ``text``), documents (``id``, ``text``) and
  relevance judgements (``query_id``, ``doc_id``, and an optional ``score``: rows scoring 0 or
  less are left out); accuracy/precision/recall@k, MRR@10, nDCG@10, MAP@100.
- ``triplet FILE``: ``anchor``, ``positive``, ``negative``; the fraction with the anchor closer
  to the positive.
- ``binary FILE``: ``text_a``, ``text_b``, ``label`` (1 similar, 0 not); accuracy, F1 and
  average precision at the best cosine thresholds.
- ``paraphrase SENTENCES PAIRS``: sentences (``id``, ``text``) and known paraphrase pairs
  (``id1``, ``id2``); average precision and best F1 of the mined most similar pairs.
"""

import argparse
import json
from pathlib import Path

from keras_siamese.cli.common import (
    SICK_SPLITS,
    UsageError,
    add_batch_size_argument,
    add_model_argument,
    input_file,
    load_encoder,
    looks_like_sick,
    positive_int,
    sick_split,
)

TABLE_SUFFIXES = (".csv", ".tsv", ".tab", ".jsonl", ".ndjson")
TABLE_HELP = "(CSV, TSV or JSON lines, by suffix)"
SCORE_FUNCTIONS = ("cosine", "dot")


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("evaluate", help="evaluate a model on a benchmark")
    tasks = parser.add_subparsers(dest="task", required=True, metavar="TASK")
    sts = tasks.add_parser(
        "sts",
        help="semantic textual similarity (STS Benchmark or SICK)",
        description="Prints JSON: the Spearman and Pearson correlations (x100) of the cosine "
        "similarities with the gold scores.",
    )
    add_model_argument(sts)
    sts.add_argument(
        "file", type=input_file, help="an STS Benchmark file (sts-dev.csv) or SICK_*.txt"
    )
    sts.add_argument("--format", choices=("stsb", "sick"), default="stsb", help="the file's format")
    sts.add_argument(
        "--split",
        type=sick_split,
        default=None,
        help=f"SICK split ({' or '.join(SICK_SPLITS)}; default: all rows)",
    )
    add_batch_size_argument(sts)
    sts.set_defaults(run=run_sts)

    ir = tasks.add_parser(
        "ir",
        help="information retrieval: queries against a corpus",
        description="Prints JSON: accuracy, precision and recall at 1, 3, 5 and 10, MRR@10, "
        "nDCG@10 and MAP@100 of the documents ranked for each query that has relevant ones "
        "(as sentence-transformers' InformationRetrievalEvaluator).",
    )
    add_model_argument(ir)
    ir.add_argument("queries", type=table_file, help=f"queries: columns id, text {TABLE_HELP}")
    ir.add_argument("corpus", type=table_file, help=f"documents: columns id, text {TABLE_HELP}")
    ir.add_argument(
        "qrels",
        type=table_file,
        help=f"relevant documents: columns query_id, doc_id, optional score {TABLE_HELP}",
    )
    ir.add_argument(
        "--score-functions",
        nargs="+",
        choices=SCORE_FUNCTIONS,
        default=["cosine"],
        help="rank by these (the first gives the primary metric)",
    )
    ir.add_argument(
        "--corpus-chunk-size",
        type=positive_int,
        default=50_000,
        help="documents embedded and scored at a time",
    )
    add_batch_size_argument(ir)
    ir.set_defaults(run=run_ir)

    triplet = tasks.add_parser(
        "triplet",
        help="triplets: is the anchor closer to the positive than to the negative",
        description="Prints JSON: the fraction of triplets whose anchor is more cosine-similar "
        "to the positive than to the negative.",
    )
    add_model_argument(triplet)
    triplet.add_argument(
        "file", type=table_file, help=f"columns anchor, positive, negative {TABLE_HELP}"
    )
    add_batch_size_argument(triplet)
    triplet.set_defaults(run=run_triplet)

    binary = tasks.add_parser(
        "binary",
        help="pairs labelled similar (1) or not (0)",
        description="Prints JSON: accuracy and F1 (with precision and recall) at their best "
        "cosine thresholds, and average precision (as sentence-transformers' "
        "BinaryClassificationEvaluator).",
    )
    add_model_argument(binary)
    binary.add_argument(
        "file", type=table_file, help=f"columns text_a, text_b, label (0 or 1) {TABLE_HELP}"
    )
    add_batch_size_argument(binary)
    binary.set_defaults(run=run_binary)

    paraphrase = tasks.add_parser(
        "paraphrase",
        help="paraphrase mining: are the most similar pairs the known paraphrases",
        description="Prints JSON: average precision, and the best F1 with its precision, "
        "recall and cosine threshold, of the most similar pairs mined among the sentences (as "
        "sentence-transformers' ParaphraseMiningEvaluator).",
    )
    add_model_argument(paraphrase)
    paraphrase.add_argument(
        "sentences", type=table_file, help=f"sentences: columns id, text {TABLE_HELP}"
    )
    paraphrase.add_argument(
        "pairs", type=table_file, help=f"paraphrase pairs: columns id1, id2 {TABLE_HELP}"
    )
    paraphrase.add_argument(
        "--top-k", type=positive_int, default=100, help="pairs mined per sentence"
    )
    paraphrase.add_argument(
        "--max-pairs", type=positive_int, default=500_000, help="pairs mined in all"
    )
    paraphrase.add_argument(
        "--transitive-closure",
        action="store_true",
        help="also count pairs linked through other paraphrases (a~b, b~c: a~c)",
    )
    add_batch_size_argument(paraphrase)
    paraphrase.set_defaults(run=run_paraphrase)


def table_file(value: str) -> str:
    """An existing readable CSV, TSV or JSON-lines file, by its suffix."""
    input_file(value)
    if Path(value).suffix.lower() not in TABLE_SUFFIXES:
        raise UsageError(
            f"{value}: name a table .csv, .tsv or .jsonl (its suffix gives the format)"
        )
    return value


def check_sts(args: argparse.Namespace) -> None:
    """The mistakes that need no model: a SICK file read as STSb, a split of an STSb file."""
    if args.format == "stsb" and looks_like_sick(args.file):
        raise UsageError(f"{args.file}:1: a SICK header, not STS Benchmark rows; add --format sick")
    if args.format == "stsb" and args.split is not None:
        raise UsageError("--split applies to --format sick only")


def run_sts(args: argparse.Namespace) -> None:
    check_sts(args)
    import numpy as np

    from keras_siamese.data import read_sick, read_sts
    from keras_siamese.evaluation import STSEvaluator

    examples = read_sts(args.file) if args.format == "stsb" else read_sick(args.file, args.split)
    evaluator = STSEvaluator.from_examples(examples, name="sts", batch_size=args.batch_size)
    metrics = evaluator.evaluate(load_encoder(args.model))
    spearman, pearson = metrics["sts_spearman_cosine"], metrics["sts_pearson_cosine"]
    if not np.isfinite([spearman, pearson]).all():  # a model whose similarities are all equal
        raise ValueError(f"{args.model}: its cosine similarities on {args.file} are all equal")
    result = {"model": args.model, "file": args.file, "pairs": len(examples)}
    result |= {"spearman": round(spearman, 4), "pearson": round(pearson, 4)}
    print(json.dumps(result, allow_nan=False))


def run_ir(args: argparse.Namespace) -> None:
    from keras_siamese.evaluation import InformationRetrievalEvaluator

    queries = read_texts_by_id(args.queries)
    corpus = read_texts_by_id(args.corpus)
    relevant: dict[str, set[str]] = {}
    for line, (query_id, doc_id, score) in read_rows(
        args.qrels, ("query_id", "doc_id"), optional=("score",)
    ):
        if query_id not in queries:
            raise ValueError(
                f"{args.qrels}: line {line}: query {query_id!r} is not in {args.queries}"
            )
        if doc_id not in corpus:
            raise ValueError(
                f"{args.qrels}: line {line}: document {doc_id!r} is not in {args.corpus}"
            )
        if score is None or _relevance(args.qrels, line, score) > 0:
            relevant.setdefault(query_id, set()).add(doc_id)
    if not relevant:
        raise ValueError(f"{args.qrels}: no relevant document (every score is 0 or less)")
    evaluator = InformationRetrievalEvaluator(
        queries,
        corpus,
        relevant,
        name="ir",
        batch_size=args.batch_size,
        score_functions=tuple(dict.fromkeys(args.score_functions)),
        corpus_chunk_size=args.corpus_chunk_size,
    )
    result = {
        "model": args.model,
        "queries_file": args.queries,
        "corpus_file": args.corpus,
        "qrels_file": args.qrels,
        "queries": len(evaluator.query_ids),
        "documents": len(corpus),
    }
    _print(result, evaluator, load_encoder(args.model))


def run_triplet(args: argparse.Namespace) -> None:
    from keras_siamese.evaluation import TripletEvaluator

    rows = [values for _, values in read_rows(args.file, ("anchor", "positive", "negative"))]
    evaluator = TripletEvaluator(
        *zip(*rows, strict=True), name="triplet", batch_size=args.batch_size
    )
    result = {"model": args.model, "file": args.file, "triplets": len(rows)}
    _print(result, evaluator, load_encoder(args.model))


def run_binary(args: argparse.Namespace) -> None:
    from keras_siamese.evaluation import BinaryClassificationEvaluator

    first, second, labels = [], [], []
    for line, (text_a, text_b, label) in read_rows(args.file, ("text_a", "text_b", "label")):
        if label.strip() not in ("0", "1"):
            raise ValueError(f"{args.file}: line {line}: label {label!r} is not 0 or 1")
        first.append(text_a)
        second.append(text_b)
        labels.append(int(label))
    if 1 not in labels:
        raise ValueError(f"{args.file}: no pair is labelled 1 (similar)")
    evaluator = BinaryClassificationEvaluator(
        first, second, labels, name="binary", batch_size=args.batch_size
    )
    result = {"model": args.model, "file": args.file, "pairs": len(labels)}
    _print(result, evaluator, load_encoder(args.model))


def run_paraphrase(args: argparse.Namespace) -> None:
    from keras_siamese.evaluation import ParaphraseMiningEvaluator

    sentences = read_texts_by_id(args.sentences)
    if len(sentences) < 2:
        raise ValueError(f"{args.sentences}: paraphrase mining needs at least two sentences")
    pairs = []
    for line, (first, second) in read_rows(args.pairs, ("id1", "id2")):
        for sentence_id in (first, second):
            if sentence_id not in sentences:
                raise ValueError(
                    f"{args.pairs}: line {line}: sentence {sentence_id!r} is not in "
                    f"{args.sentences}"
                )
        if first == second:
            raise ValueError(f"{args.pairs}: line {line}: a sentence paired with itself")
        pairs.append((first, second))
    evaluator = ParaphraseMiningEvaluator(
        sentences,
        pairs,
        name="paraphrase",
        batch_size=args.batch_size,
        add_transitive_closure=args.transitive_closure,
        top_k=args.top_k,
        max_pairs=args.max_pairs,
    )
    result = {"model": args.model, "sentences_file": args.sentences, "pairs_file": args.pairs}
    result |= {"sentences": len(sentences), "paraphrase_pairs": len(evaluator.duplicates)}
    _print(result, evaluator, load_encoder(args.model))


def read_rows(
    path: str, columns: tuple[str, ...], optional: tuple[str, ...] = ()
) -> list[tuple[int, tuple]]:
    """(line, values of `columns`, then of `optional` or None) for each row of a table file.
    Values are non-empty text (JSON numbers become text); errors name the file and line."""
    from keras_siamese.data.table import table_rows

    rows = table_rows(path)  # its errors name the file
    if not rows:
        raise ValueError(f"{path}: no rows; expected columns {', '.join(columns)}")
    result = []
    for line, row in rows:
        values = []
        for name in columns + optional:
            if name not in row or row[name] is None:
                if name in optional:
                    values.append(None)
                    continue
                raise ValueError(
                    f"{path}: line {line}: no {name!r} column (expected {', '.join(columns)}; "
                    f"it has {', '.join(map(str, row)) or 'none'})"
                )
            value = row[name]
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise ValueError(
                    f"{path}: line {line}: {name!r} is {type(value).__name__}, not text"
                )
            if not str(value).strip():
                raise ValueError(f"{path}: line {line}: {name!r} is empty")
            values.append(str(value))
        result.append((line, tuple(values)))
    return result


def read_texts_by_id(path: str) -> dict[str, str]:
    """A table of (`id`, `text`) rows as a dict; a repeated id is an error."""
    texts: dict[str, str] = {}
    lines: dict[str, int] = {}
    for line, (text_id, text) in read_rows(path, ("id", "text")):
        if text_id in texts:
            raise ValueError(f"{path}: line {line}: id {text_id!r} repeats line {lines[text_id]}")
        texts[text_id], lines[text_id] = text, line
    return texts


def _relevance(path: str, line: int, score: str) -> float:
    try:
        return float(score)
    except ValueError:
        raise ValueError(f"{path}: line {line}: score {score!r} is not a number") from None


def _print(result: dict, evaluator, encoder) -> None:
    """`result` and the evaluator's metrics (without its name prefix, to 4 decimals) as JSON."""
    prefix = f"{evaluator.name}_"
    for key, value in evaluator.evaluate(encoder).items():
        result[key.removeprefix(prefix)] = round(value, 4)
    print(json.dumps(result, allow_nan=False))
