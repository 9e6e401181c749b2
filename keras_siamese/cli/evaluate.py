"""``keras-siamese evaluate sts MODEL FILE``: Spearman and Pearson x100 against gold scores."""

import argparse
import json

from keras_siamese.cli.common import (
    SICK_SPLITS,
    UsageError,
    add_batch_size_argument,
    add_model_argument,
    input_file,
    load_encoder,
    looks_like_sick,
    sick_split,
)


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
