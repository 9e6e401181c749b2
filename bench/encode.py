"""Encoding throughput: keras-siamese against sentence-transformers (CPU torch), same run.

Encodes every sentence of STSb dev (3,000) with both libraries, alternating, several repeats,
and prints sentences per second for each and the ratio of medians.

    python bench/encode.py [--batch-size 64] [--repeats 5]
"""

import argparse
import statistics
import time

from common import data_argument, print_table

import keras_siamese as ks
from keras_siamese.encoders import resolve_model_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    data_argument(parser)
    parser.add_argument("--model", default=ks.DEFAULT_MODEL)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    import torch
    from sentence_transformers import SentenceTransformer

    dev = ks.data.read_sts(args.data / "stsb" / "sts-dev.csv")
    sentences = dev.columns["text_a"] + dev.columns["text_b"]
    folder = resolve_model_path(args.model)
    ours = ks.SentenceEncoder.from_pretrained(folder)
    theirs = SentenceTransformer(str(folder), device="cpu")
    runs = {
        "keras-siamese": lambda: ours.encode(
            sentences, batch_size=args.batch_size, show_progress_bar=False
        ),
        "sentence-transformers": lambda: theirs.encode(
            sentences, batch_size=args.batch_size, show_progress_bar=False
        ),
    }
    for run in runs.values():  # warm-up: tracing, allocator, caches
        run()
    rates: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            rates[name].append(len(sentences) / (time.perf_counter() - start))
    print(
        f"{len(sentences)} STSb dev sentences, batch {args.batch_size}, {args.repeats} repeats, "
        f"torch threads {torch.get_num_threads()}"
    )
    print_table("encode throughput", [(name, r, "sentences/s") for name, r in rates.items()])
    ratio = statistics.median(rates["keras-siamese"]) / statistics.median(
        rates["sentence-transformers"]
    )
    print(f"\nratio keras-siamese / sentence-transformers (medians): {ratio:.2f}")


if __name__ == "__main__":
    main()
