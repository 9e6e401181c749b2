"""Hard-negative mining: keras-siamese against sentence-transformers (CPU torch), same run.

Mines the SICK TRAIN entailment pairs (anchor sentence_A, positive sentence_B) with
all-MiniLM-L6-v2 in both libraries with the same options, and prints the triplets mined, the time
(encoding included; one warm-up, then the median of the repeats) and the fraction of
sentence-transformers' triplets that ours equals. Needs ``datasets`` (the test extra).

    python bench/mine.py [--num-negatives 3] [--range-max 10] [--repeats 3]
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
    parser.add_argument("--num-negatives", type=int, default=3)
    parser.add_argument("--range-max", type=int, default=10)
    parser.add_argument("--relative-margin", type=float, default=None)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import datasets
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.util import mine_hard_negatives as reference

    sick = ks.data.read_sick(
        args.data / "sick" / "SICK_train_trial.txt", "TRAIN", label="entailment"
    )
    sick = sick.select(i for i, label in enumerate(sick.labels) if label == "ENTAILMENT")
    pairs = ks.data.from_lists(anchor=sick.columns["text_a"], positive=sick.columns["text_b"])
    folder = resolve_model_path(args.model)
    ours = ks.SentenceEncoder.from_pretrained(folder)
    theirs = SentenceTransformer(str(folder), device="cpu")
    dataset = datasets.Dataset.from_dict(pairs.columns)
    options = {
        "num_negatives": args.num_negatives,
        "range_max": args.range_max,
        "relative_margin": args.relative_margin,
        "sampling_strategy": "top",
        "output_format": "triplet",
        "batch_size": args.batch_size,
    }
    runs = {
        "keras-siamese": lambda: (
            ks.mine_hard_negatives(ours, pairs, show_progress_bar=False, **options).columns
        ),
        "sentence-transformers": lambda: reference(dataset, theirs, verbose=False, **options),
    }
    outputs = {name: run() for name, run in runs.items()}  # warm-up: tracing, caches
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            seconds[name].append(time.perf_counter() - start)

    triplets = {
        name: list(zip(out["anchor"], out["positive"], out["negative"], strict=True))
        for name, out in outputs.items()
    }
    print(
        f"SICK TRAIN entailment: {len(pairs)} pairs, {len(set(pairs.columns['anchor']))} "
        f"anchors; num_negatives {args.num_negatives}, range_max {args.range_max}, "
        f"relative_margin {args.relative_margin}, top; batch {args.batch_size}, "
        f"{args.repeats} repeats, torch threads {torch.get_num_threads()}"
    )
    for name, rows in triplets.items():
        print(f"{name:24} {len(rows)} triplets, {len({row[0] for row in rows})} anchors")
    same = set(triplets["keras-siamese"]) & set(triplets["sentence-transformers"])
    print(
        f"identical triplets: {len(same)} of {len(triplets['sentence-transformers'])} "
        f"({len(same) / len(triplets['sentence-transformers']):.2%})"
    )
    print_table("mining time, encoding included", [(n, s, "s") for n, s in seconds.items()])
    ratio = statistics.median(seconds["sentence-transformers"]) / statistics.median(
        seconds["keras-siamese"]
    )
    print(f"\nspeed ratio keras-siamese / sentence-transformers (medians): {ratio:.2f}")


if __name__ == "__main__":
    main()
