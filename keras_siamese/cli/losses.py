"""``keras-siamese losses``: the registered losses, the text columns each consumes, its labels."""

import argparse


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "losses",
        help="list the losses train --loss takes",
        description="Prints the loss registry as a Markdown table: each loss's name (for train "
        "--loss and TrainingConfig(loss=...)), class, the text columns it consumes and its labels.",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    from keras_siamese.losses.registry import loss_table

    print(loss_table())
