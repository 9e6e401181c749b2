"""``keras-siamese beam-encode SAVED_MODEL INPUT_GLOB -o PREFIX --format npy [BEAM OPTIONS]``:
embed files on Apache Beam with an exported SavedModel (``keras_siamese.beam``).

Options this command does not know (``--runner DataflowRunner``, ``--direct_num_workers 2``,
...) go to Beam's ``PipelineOptions``. Building the parser imports neither Beam nor TensorFlow.
"""

import argparse
import logging
from pathlib import Path

from keras_siamese.cli.common import (
    UsageError,
    add_batch_size_argument,
    output_file,
    positive_int,
)

INPUT_FORMATS = ("text", "tfrecord", "parquet")  # keras_siamese.beam's (importing it loads Beam)
OUTPUT_FORMATS = ("tfrecord", "parquet", "npy")
NPY_SHARDS = 8
BEAM_EXTRA = "beam-encode needs the 'beam' extra: pip install \"keras-siamese[beam]\""


def _remote(value: str) -> bool:
    """A path on a file system of Beam's (``gs://``, ``s3://``, ...), not checked here."""
    return "://" in value


def saved_model_folder(value: str) -> str:
    """A SavedModel folder (``saved_model.pb`` inside), or a remote path."""
    path = Path(value)
    if _remote(value) or (path / "saved_model.pb").is_file():
        return value
    versions = sorted(
        (p for p in path.glob("*") if p.name.isdigit() and (p / "saved_model.pb").is_file()),
        key=lambda p: int(p.name),
    )
    hint = f"; give a version folder, e.g. {versions[-1]}" if versions else ""
    raise UsageError(f"{value} is not a SavedModel folder (no saved_model.pb){hint}")


def output_prefix(value: str) -> str:
    """The prefix of the output shards: a local one's folder exists and is writable."""
    return value if _remote(value) else output_file(value)


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "beam-encode",
        help="embed files on Apache Beam with an exported SavedModel",
        description="Reads (key, text) records from the files matching INPUT, embeds them with "
        "the SavedModel (keras-siamese export saved-model) through Beam's RunInference, and "
        "writes (key, embedding) shards PREFIX-00000-of-0000N.EXT. Options this command does "
        "not know go to Beam, given after INPUT or as --name=value, e.g. --runner DirectRunner "
        "--direct_num_workers 2 (see the README for Dataflow, Flink and Spark). Needs the "
        "'beam' extra.",
        allow_abbrev=False,  # --direct_num_workers and the like are Beam's, never ours abridged
    )
    parser.add_argument(
        "saved_model",
        type=saved_model_folder,
        metavar="SAVED_MODEL",
        help="the SavedModel version folder",
    )
    parser.add_argument(
        "input", metavar="INPUT", help="the input files: a path or glob (gs://... on Dataflow)"
    )
    parser.add_argument(
        "-o",
        "--output",
        type=output_prefix,
        required=True,
        metavar="PREFIX",
        help="the output shards' prefix",
    )
    parser.add_argument("--format", choices=OUTPUT_FORMATS, required=True, help="output format")
    parser.add_argument(
        "--input-format",
        choices=INPUT_FORMATS,
        default="text",
        help="text: one text per line; tfrecord: tf.train.Example; parquet: a text column",
    )
    parser.add_argument(
        "--text-field",
        default="text",
        help="the text feature (tfrecord) or column (parquet)",
    )
    parser.add_argument(
        "--key-field",
        default=None,
        help="the key feature or column (default: FILE:N, the file and the line or record "
        "number, from 1)",
    )
    add_batch_size_argument(parser, default=64)
    parser.add_argument(
        "--num-shards",
        type=positive_int,
        default=None,
        help=f"output files (default: the runner's choice; {NPY_SHARDS} for npy)",
    )
    parser.set_defaults(run=run, pipeline_args=[])


def _import_beam(verbose: bool):
    """``apache_beam``, checked for, and (unless ``verbose``) quiet: without the warning its
    import gives that BigQuery's client (unused here) is missing, and without the traceback of a
    failing step (the one-line error says what failed)."""
    from importlib.util import find_spec

    if find_spec("apache_beam") is None:
        raise UsageError(BEAM_EXTRA)
    root = logging.getLogger()
    level = root.level
    if not verbose:
        root.setLevel(logging.ERROR)
    try:
        import apache_beam
    finally:
        root.setLevel(level)
    if not verbose:
        logging.getLogger("apache_beam.runners.common").setLevel(logging.CRITICAL)
    return apache_beam


def run(args: argparse.Namespace) -> None:
    if args.input_format == "text" and args.key_field is not None:
        raise UsageError("--key-field applies to --input-format tfrecord or parquet only")
    beam = _import_beam(args.verbose)
    from apache_beam.io.filesystems import FileSystems
    from apache_beam.metrics.metric import MetricsFilter
    from apache_beam.options.pipeline_options import PipelineOptions

    from keras_siamese.beam import (
        METRICS_NAMESPACE,
        TEXTS_COUNTER,
        EmbedTexts,
        ReadTexts,
        WriteEmbeddings,
    )

    if not FileSystems.match([args.input])[0].metadata_list:
        raise UsageError(f"no file matches {args.input}")
    pipeline = beam.Pipeline(options=PipelineOptions(args.pipeline_args))
    _ = (
        pipeline
        | "ReadTexts" >> ReadTexts(args.input, args.input_format, args.text_field, args.key_field)
        | "EmbedTexts" >> EmbedTexts(args.saved_model, args.batch_size)
        | "WriteEmbeddings" >> WriteEmbeddings(args.output, args.format, args.num_shards)
    )
    result = pipeline.run()
    result.wait_until_finish()
    query = MetricsFilter().with_namespace(METRICS_NAMESPACE).with_name(TEXTS_COUNTER)
    texts = sum(counter.committed or 0 for counter in result.metrics().query(query)["counters"])
    print(f"wrote the embeddings of {texts} texts to {args.output}-*-of-*.{args.format}")
