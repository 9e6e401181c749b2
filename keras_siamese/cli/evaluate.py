"""``keras-siamese evaluate sts MODEL FILE``: Spearman and Pearson x100 against gold scores."""

import argparse
import json

from keras_siamese.cli.common import add_batch_size_argument, add_model_argument


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("evaluate", help="evaluate a model on a benchmark")
    tasks = parser.add_subparsers(dest="task", required=True)
    sts = tasks.add_parser("sts", help="semantic textual similarity (STS Benchmark or SICK)")
    add_model_argument(sts)
    sts.add_argument("file", help="an STS Benchmark file (sts-dev.csv) or SICK_*.txt")
    sts.add_argument("--format", choices=("stsb", "sick"), default="stsb")
    sts.add_argument("--split", default=None, help="SICK split (TRAIN or TRIAL); default all")
    add_batch_size_argument(sts)
    sts.set_defaults(run=run_sts)


def run_sts(args: argparse.Namespace) -> None:
    from keras_siamese.cli.common import load_encoder
    from keras_siamese.data import read_sick, read_sts
    from keras_siamese.evaluation import STSEvaluator

    examples = read_sts(args.file) if args.format == "stsb" else read_sick(args.file, args.split)
    evaluator = STSEvaluator.from_examples(examples, name="sts", batch_size=args.batch_size)
    metrics = evaluator.evaluate(load_encoder(args.model))
    print(
        json.dumps(
            {
                "model": args.model,
                "file": args.file,
                "pairs": len(examples),
                "spearman": round(metrics["sts_spearman_cosine"], 4),
                "pearson": round(metrics["sts_pearson_cosine"], 4),
            }
        )
    )
