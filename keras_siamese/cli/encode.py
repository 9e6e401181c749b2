"""``keras-siamese encode MODEL INPUT.txt -o OUT.npy``: embed one text per line, in chunks, in
bounded memory, resuming an interrupted run (see ``keras_siamese.encoders.streaming``)."""

import argparse

from keras_siamese.cli.common import (
    add_batch_size_argument,
    add_model_argument,
    add_prompt_arguments,
    input_file,
    load_encoder,
    output_file,
    positive_int,
    prompt_kwargs,
)

CHUNK_LINES = 10_000  # keras_siamese.encoders.streaming.CHUNK_LINES (importing it loads TF)
# --backend -> SentenceEncoder.use_backend's (backend, quantize)
BACKENDS = {
    "keras": ("keras", "none"),
    "litert": ("litert", "none"),
    "litert-fp16": ("litert", "float16"),
    "litert-int8": ("litert", "dynamic"),
}


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "encode",
        help="embed a text file, one sentence per line",
        description="Writes one embedding per line of INPUT, in order, as a float32 .npy matrix. "
        "The input is read and encoded in chunks (any size fits in memory); rows done are kept "
        "in OUT.partial, so the same command after an interruption goes on from the last chunk.",
    )
    add_model_argument(parser)
    parser.add_argument("input", type=input_file, help="text file, UTF-8, one sentence per line")
    parser.add_argument(
        "-o", "--output", type=output_file, required=True, help="the .npy file to write"
    )
    add_batch_size_argument(parser)
    parser.add_argument(
        "--chunk-size",
        type=positive_int,
        default=CHUNK_LINES,
        help="lines read and encoded at a time: the progress a rerun resumes from (advanced)",
    )
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default="keras",
        help="what runs the model: Keras float32, or LiteRT float32 / float16 weights / int8 "
        "weights (dynamic range; the fastest on a CPU, STSb within 0.1 of float), converted "
        "once and cached by the weights",
    )
    add_prompt_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    from keras_siamese.encoders.streaming import count_lines, encode_file

    lines = count_lines(args.input)  # checks every line before the model loads
    encoder = load_encoder(args.model).use_backend(*BACKENDS[args.backend])
    rows, dim = encode_file(
        encoder,
        args.input,
        args.output,
        args.chunk_size,
        args.batch_size,
        line_count=lines,
        **prompt_kwargs(args),
    )
    print(f"wrote {rows} x {dim} embeddings to {args.output}")
