"""``keras-siamese export saved-model|tflite``: a model for TF Serving or for phones.

keras-siamese export saved-model all-MiniLM-L6-v2 models/minilm [--version 3]
keras-siamese export tflite all-MiniLM-L6-v2 minilm.tflite [--quantize dynamic]

Both take --prompt-name NAME (or --prompt TEXT) and --truncate-dim N.
"""

import argparse
from pathlib import Path

from keras_siamese.cli.common import (
    UsageError,
    add_model_argument,
    add_prompt_arguments,
    load_encoder,
    output_file,
    output_folder,
    prompt_kwargs,
)

QUANTIZATIONS = ("none", "float16", "dynamic")  # keras_siamese.export.litert's (it imports TF)


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("export", help="export a model for TF Serving or TFLite")
    formats = parser.add_subparsers(dest="format", required=True, metavar="FORMAT")

    serving = formats.add_parser(
        "saved-model",
        help="a TF Serving SavedModel (raw strings in) as BASE_DIR/<version>/",
        description="Writes BASE_DIR/<version>/ atomically; an existing version is never "
        "overwritten. Loading it needs `import tensorflow_text` (TF Serving links its ops).",
    )
    add_model_argument(serving)
    serving.add_argument(
        "base_dir", type=output_folder, help="the model's base folder, as TF Serving watches it"
    )
    serving.add_argument(
        "--version", type=int, default=None, help="version number (default: newest + 1)"
    )
    add_prompt_arguments(serving, verb="embed raw strings")
    serving.set_defaults(run=run_saved_model)

    phone = formats.add_parser(
        "tflite",
        help="a TFLite file (int32 input_ids/attention_mask in)",
        description="Writes a TFLite file with the vocabulary and tokenizer settings as metadata.",
    )
    add_model_argument(phone)
    phone.add_argument("output", type=output_file, help="the .tflite file to write")
    phone.add_argument(
        "--quantize",
        choices=QUANTIZATIONS,
        default="none",
        help="float16: float16 weights; dynamic: int8 weights, dynamic-range",
    )
    phone.add_argument(
        "--with-tokenizer",
        action="store_true",
        help="take raw strings (needs the tensorflow-text custom ops in the app's interpreter)",
    )
    add_prompt_arguments(phone, verb="record for the app to prepend")
    phone.set_defaults(run=run_tflite)


def check_saved_model(args: argparse.Namespace) -> None:
    """An explicit version must be new (versions are never overwritten)."""
    if args.version is not None:
        if args.version < 0:
            raise UsageError(f"--version must be 0 or more, got {args.version}")
        target = Path(args.base_dir) / str(args.version)
        if target.exists():
            raise UsageError(f"{target} already exists; versions are never overwritten")


def run_saved_model(args: argparse.Namespace) -> None:
    check_saved_model(args)
    from keras_siamese.export import saved_model

    encoder = load_encoder(args.model)
    folder = saved_model(encoder, args.base_dir, version=args.version, **prompt_kwargs(args))
    print(f"wrote {folder}")


def run_tflite(args: argparse.Namespace) -> None:
    from keras_siamese.export import tflite

    encoder = load_encoder(args.model)
    path = tflite(encoder, args.output, args.quantize, args.with_tokenizer, **prompt_kwargs(args))
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
