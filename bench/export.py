"""Export figures: time to export, file size, per-sentence latency and agreement with Keras.

Exports the model as a TF Serving SavedModel and as TFLite files (float32, float16, dynamic-range
int8, float32 taking raw strings), then, for each and for the Keras encoder itself:

- export time (s) and size on disk (MB);
- per-sentence latency: one sentence per call, text in, embedding out (tokenisation included:
  in the graph for the SavedModel and the raw-string file, the file's own vocabulary in Python for
  the others), averaged over ``--sentences`` STSb dev sentences;
- cosine with the Keras embeddings of every distinct STSb dev sentence (min, mean, and how many
  sentences fall below 0.99999), and STSb dev Spearman (x100) with its difference from Keras.

Timed figures are medians of ``--repeats`` runs.

    python bench/export.py [--repeats 3] [--sentences 200] [--threads 2]
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import tensorflow as tf
from common import data_argument, print_table
from scipy.stats import spearmanr

import keras_siamese as ks
from keras_siamese.export import TfliteEncoder, load_saved_model, saved_model, tflite
from keras_siamese.similarity import cosine_similarity

TFLITE_VARIANTS = {  # name -> tflite() arguments
    "tflite float32": {"quantize": None},
    "tflite float16": {"quantize": "float16"},
    "tflite dynamic int8": {"quantize": "dynamic"},
    "tflite float32 strings": {"quantize": None, "with_tokenizer": True},
}


def folder_size(path: Path) -> int:
    return (
        path.stat().st_size
        if path.is_file()
        else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    )


def timed(function, repeats: int) -> tuple[list[float], object]:
    """Seconds of each of ``repeats`` calls, and the last call's result."""
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        seconds.append(time.perf_counter() - start)
    return seconds, result


def saved_model_encode(path: Path):
    serve = load_saved_model(path).signatures["serving_default"]

    def encode(texts: list[str], batch_size: int = 64) -> np.ndarray:
        batches = [texts[i : i + batch_size] for i in range(0, len(texts), batch_size)]
        return np.concatenate(
            [serve(sentences=tf.constant(batch))["embeddings"].numpy() for batch in batches]
        )

    return encode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    data_argument(parser)
    parser.add_argument("--model", default=ks.DEFAULT_MODEL)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sentences", type=int, default=200, help="sentences timed one by one")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="LiteRT threads")
    args = parser.parse_args()

    dev = ks.data.read_sts(args.data / "stsb" / "sts-dev.csv")
    sentences = list(dict.fromkeys(dev.columns["text_a"] + dev.columns["text_b"]))
    row = {sentence: i for i, sentence in enumerate(sentences)}
    pairs = [[row[text] for text in dev.columns[column]] for column in ("text_a", "text_b")]
    timed_sentences = sentences[:: max(1, len(sentences) // args.sentences)][: args.sentences]

    def spearman(embeddings: np.ndarray) -> float:
        cosines = cosine_similarity(embeddings[pairs[0]], embeddings[pairs[1]], xp=np)
        return 100 * spearmanr(dev.labels, cosines).statistic

    keras_encoder = ks.SentenceEncoder.from_pretrained(args.model)
    encoders = {
        "keras": lambda texts, batch_size=64: keras_encoder.encode(
            texts, batch_size, show_progress_bar=False
        )
    }
    export_seconds, sizes = {}, {}
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        export_seconds["SavedModel"], folder = timed(
            lambda: saved_model(keras_encoder, scratch / "serving"), args.repeats
        )
        sizes["SavedModel"] = folder_size(folder)
        encoders["SavedModel"] = saved_model_encode(folder)
        for name, options in TFLITE_VARIANTS.items():
            path = scratch / f"{name.replace(' ', '_')}.tflite"
            export_seconds[name], _ = timed(
                lambda path=path, options=options: tflite(keras_encoder, path, **options),
                args.repeats,
            )
            sizes[name] = folder_size(path)
            encoders[name] = TfliteEncoder(path, num_threads=args.threads).encode

        latencies: dict[str, list[float]] = {name: [] for name in encoders}
        for encode in encoders.values():  # warm-up: tracing, allocation, caches
            encode(timed_sentences[:2])
        for _ in range(args.repeats):
            for name, encode in encoders.items():
                seconds, _ = timed(
                    lambda encode=encode: [encode([text]) for text in timed_sentences], 1
                )
                latencies[name].append(1000 * seconds[0] / len(timed_sentences))
        embeddings = {name: encode(sentences, batch_size=64) for name, encode in encoders.items()}

    print(
        f"{args.model}: {len(sentences)} distinct STSb dev sentences, {args.repeats} repeats, "
        f"latency over {len(timed_sentences)} sentences one by one, LiteRT threads {args.threads}, "
        f"TensorFlow {tf.__version__}"
    )
    print_table("export time", [(name, s, "s") for name, s in export_seconds.items()])
    print_table("size on disk", [(name, [b / 1e6], "MB") for name, b in sizes.items()])
    print_table("latency per sentence", [(name, ms, "ms") for name, ms in latencies.items()])
    reference = spearman(embeddings["keras"])
    header = f"{'min cos':>10} {'mean cos':>10} {'< 0.99999':>10} {'spearman':>10} {'delta':>8}"
    print(f"\n{'agreement with keras':24} {header}")
    for name, vectors in embeddings.items():
        cosines = cosine_similarity(vectors, embeddings["keras"], xp=np)
        score = spearman(vectors)
        below = int(np.sum(cosines < 0.99999))
        print(
            f"{name:24} {cosines.min():10.6f} {cosines.mean():10.6f} {below:10d} {score:10.2f} "
            f"{score - reference:+8.2f}"
        )


if __name__ == "__main__":
    main()
