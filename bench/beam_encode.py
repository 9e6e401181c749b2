"""Bulk encoding on Apache Beam (DirectRunner) against plain ``encode``, same run.

Exports the model as a SavedModel, writes N distinct shared sentences (STSb train and dev, then
SICK) to a text file, embeds them with ``SentenceEncoder.encode`` and with the
``keras_siamese.beam`` pipeline (text in, ``.npy`` shards out), and prints the throughput of each
(Beam's includes starting the pipeline and loading the model), their ratio, and the check of the
issue's acceptance test: every key once, cosine >= 0.99999 against ``encode``.

    python bench/beam_encode.py [--sentences 10000] [--batch-size 64] [--workers 1]
"""

import argparse
import glob
import tempfile
import time
from pathlib import Path

import numpy as np
from common import data_argument
from stream_encode import shared_sentences

import keras_siamese as ks
from keras_siamese.encoders import resolve_model_path

MIN_COSINE = 0.99999


def _run_pipeline(saved_model: Path, source: Path, prefix: Path, args) -> None:
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from keras_siamese.beam import EmbedTexts, ReadTexts, WriteEmbeddings

    options = ["--runner", "DirectRunner", "--direct_num_workers", str(args.workers)]
    if args.workers > 1:
        options += ["--direct_running_mode", "multi_processing"]
    with beam.Pipeline(options=PipelineOptions(options)) as pipeline:
        _ = (
            pipeline
            | ReadTexts(str(source))
            | EmbedTexts(str(saved_model), batch_size=args.batch_size)
            | WriteEmbeddings(str(prefix), "npy", num_shards=4)
        )


def _read_shards(prefix: Path) -> tuple[list[str], np.ndarray]:
    keys, rows = [], []
    for path in sorted(glob.glob(f"{prefix}-*-of-*.npy")):
        rows.append(np.load(path))
        keys += Path(path).with_suffix(".keys.txt").read_text(encoding="utf-8").splitlines()
    return keys, np.concatenate(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    data_argument(parser)
    parser.add_argument("--model", default=ks.DEFAULT_MODEL)
    parser.add_argument("--sentences", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--workers", type=int, default=1, help="DirectRunner worker processes")
    args = parser.parse_args()

    from keras_siamese.export import saved_model
    from keras_siamese.similarity import cosine_similarity

    sentences = shared_sentences(args.data, args.sentences)
    encoder = ks.SentenceEncoder.from_pretrained(resolve_model_path(args.model))
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        folder = saved_model(encoder, work / "model")
        source = work / "sentences.txt"
        source.write_text("".join(f"{s}\n" for s in sentences), encoding="utf-8")

        start = time.perf_counter()
        expected = encoder.encode(sentences, batch_size=args.batch_size, show_progress_bar=False)
        encode_s = time.perf_counter() - start
        start = time.perf_counter()
        _run_pipeline(folder, source, work / "embeddings", args)
        beam_s = time.perf_counter() - start
        keys, embeddings = _read_shards(work / "embeddings")

    rows = [int(key.rpartition(":")[2]) - 1 for key in keys]
    cosines = cosine_similarity(embeddings, expected[rows], xp=np)
    print(f"{len(sentences)} sentences, batch {args.batch_size}, {args.workers} Beam worker(s)")
    print(f"encode              {len(sentences) / encode_s:8.1f} sentences/s ({encode_s:.1f} s)")
    print(f"Beam, DirectRunner  {len(sentences) / beam_s:8.1f} sentences/s ({beam_s:.1f} s)")
    print(f"ratio Beam / encode {encode_s / beam_s:8.2f}")
    every_key_once = sorted(rows) == list(range(len(sentences)))
    print(f"every key once: {every_key_once}; min cosine vs encode: {cosines.min():.7f}")
    if not every_key_once or cosines.min() < MIN_COSINE:
        raise SystemExit("FAILED: the Beam embeddings differ from encode's")


if __name__ == "__main__":
    main()
