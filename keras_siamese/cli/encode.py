"""``keras-siamese encode MODEL INPUT.txt -o OUT.npy``: embed one text per line."""

import argparse

from keras_siamese.cli.common import (
    add_batch_size_argument,
    add_model_argument,
    add_prompt_arguments,
    input_file,
    load_encoder,
    output_file,
    prompt_kwargs,
    read_lines,
)


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "encode",
        help="embed a text file, one sentence per line",
        description="Writes one embedding per line of INPUT, in order, as a float32 .npy matrix.",
    )
    add_model_argument(parser)
    parser.add_argument("input", type=input_file, help="text file, UTF-8, one sentence per line")
    parser.add_argument(
        "-o", "--output", type=output_file, required=True, help="the .npy file to write"
    )
    add_batch_size_argument(parser)
    add_prompt_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    import sys

    import numpy as np

    from keras_siamese.atomic import atomic_file

    texts = read_lines(args.input, allow_empty=True)
    if not texts:
        print(f"warning: {args.input} has no text; writing an empty matrix", file=sys.stderr)
    encoder = load_encoder(args.model)
    embeddings = encoder.encode(texts, batch_size=args.batch_size, **prompt_kwargs(args))
    with atomic_file(args.output) as tmp, open(tmp, "wb") as file:
        np.save(file, embeddings)  # to a file object: np.save(path) appends ".npy" to other names
    print(f"wrote {embeddings.shape[0]} x {embeddings.shape[1]} embeddings to {args.output}")
