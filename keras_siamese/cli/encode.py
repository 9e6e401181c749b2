"""``keras-siamese encode MODEL INPUT.txt -o OUT.npy``: embed one text per line."""

import argparse

from keras_siamese.cli.common import (
    add_batch_size_argument,
    add_model_argument,
    load_encoder,
    read_lines,
)


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("encode", help="embed a text file, one sentence per line")
    add_model_argument(parser)
    parser.add_argument("input", help="text file, one sentence per line")
    parser.add_argument("-o", "--output", required=True, help="output .npy file")
    add_batch_size_argument(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    import numpy as np

    texts = read_lines(args.input)
    embeddings = load_encoder(args.model).encode(texts, batch_size=args.batch_size)
    np.save(args.output, embeddings)
    print(f"wrote {embeddings.shape[0]} x {embeddings.shape[1]} embeddings to {args.output}")
