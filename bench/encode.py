"""Encoding speed and accuracy of every engine, side by side in one run.

Engines: ours (``keras``: float32 Keras; ``litert-fp32``, ``litert-fp16``, ``litert-int8``: the
LiteRT backend of ``SentenceEncoder.encode``), sentence-transformers on CPU torch (``torch``),
and ONNX Runtime float32 / dynamic int8 (``onnx-fp32``, ``onnx-int8``; built by hand, see
``onnx_engine.py``). For each sentence set (``stsb``: the 3,000 sentences of STSb dev; ``mix``:
1,500 sentences drawn from all the shared data, short and long) the engines run alternating,
``--repeats`` rounds after a warm-up, and the table gives the median sentences per second and
the ratios to torch and to ONNX Runtime. Then the latency of one sentence (p50, p95 over
``--latency`` calls) and STSb dev Spearman (cosine, x100) for each engine. ``--memory`` adds
each engine's peak resident memory, each measured in a fresh process.

    python bench/encode.py [--model all-mpnet-base-v2] [--engines keras torch litert-int8]
                           [--batch-size 64] [--repeats 3] [--memory]
"""

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from common import data_argument, peak_resident_mib, print_table

import keras_siamese as ks
from keras_siamese.encoders import resolve_model_path

ENGINES = ("keras", "litert-fp32", "litert-fp16", "litert-int8", "torch", "onnx-fp32", "onnx-int8")
LITERT = {"litert-fp32": "none", "litert-fp16": "float16", "litert-int8": "dynamic"}
LATENCY_SENTENCE = "A man is playing a guitar on the street."

Encode = Callable[[list[str]], np.ndarray]


def sentence_sets(data: Path, mix_size: int = 1500) -> dict[str, list[str]]:
    dev = ks.data.read_sts(data / "stsb" / "sts-dev.csv")
    parts = [dev, ks.data.read_sts(data / "stsb" / "sts-train.csv")]
    parts.append(ks.data.read_sick(data / "sick" / "SICK_train_trial.txt"))
    every = [t for part in parts for column in ("text_a", "text_b") for t in part.columns[column]]
    mix = random.Random(0).sample(sorted(set(every)), mix_size)
    return {"stsb": dev.columns["text_a"] + dev.columns["text_b"], "mix": mix}


def make_engine(name: str, folder: Path, batch_size: int, work: Path) -> Encode:
    """``encode`` of the engine called ``name``, at ``batch_size``."""
    if name == "keras" or name in LITERT:
        encoder = ks.SentenceEncoder.from_pretrained(folder)
        if name in LITERT:
            encoder.use_backend("litert", quantize=LITERT[name])
        return lambda texts: encoder.encode(texts, batch_size=batch_size, show_progress_bar=False)
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(folder), device="cpu")
    if name == "torch":
        return lambda texts: reference.encode(texts, batch_size=batch_size, show_progress_bar=False)
    from onnx_engine import OnnxEncoder

    onnx = OnnxEncoder(reference, work, quantize=name == "onnx-int8")
    return lambda texts: onnx.encode(texts, batch_size)


def spearman(dev, embeddings: np.ndarray) -> float:
    from scipy.stats import spearmanr

    n = len(dev)
    a, b = embeddings[:n], embeddings[n:]
    cosines = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return 100 * spearmanr(dev.labels, cosines).statistic


def cosines(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Mean and minimum cosine of the rows of ``a`` and ``b``."""
    values = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return float(values.mean()), float(values.min())


def peak_memory(args: argparse.Namespace, engine: str) -> float:
    """Peak resident MB of a fresh process that loads ``engine`` and encodes STSb dev once."""
    command = [sys.executable, __file__, "--data", str(args.data), "--model", args.model]
    command += ["--batch-size", str(args.batch_size), "--only-memory", engine]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return float(output.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    data_argument(parser)
    parser.add_argument("--model", default=ks.DEFAULT_MODEL)
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES))
    parser.add_argument("--sets", nargs="+", choices=("stsb", "mix"), default=["stsb", "mix"])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--latency", type=int, default=200, help="one-sentence calls timed")
    parser.add_argument("--memory", action="store_true", help="peak memory, a process each")
    parser.add_argument("--only-memory", choices=ENGINES, help=argparse.SUPPRESS)
    args = parser.parse_args()

    folder = resolve_model_path(args.model)
    sets = sentence_sets(args.data)
    with tempfile.TemporaryDirectory() as work:
        if args.only_memory:  # a child of --memory: load, encode once, print peak RSS in MB
            make_engine(args.only_memory, folder, args.batch_size, Path(work))(sets["stsb"])
            print(peak_resident_mib())
            return
        engines = {
            name: make_engine(name, folder, args.batch_size, Path(work)) for name in args.engines
        }
        dev = ks.data.read_sts(args.data / "stsb" / "sts-dev.csv")
        outputs = {name: encode(sets["stsb"]) for name, encode in engines.items()}
        scores = {name: spearman(dev, embeddings) for name, embeddings in outputs.items()}
        base = "keras" if "keras" in outputs else next(iter(outputs))  # agreement with it
        agreement = {name: cosines(vectors, outputs[base]) for name, vectors in outputs.items()}
        import torch

        print(
            f"model {args.model}, batch {args.batch_size}, {args.repeats} alternating rounds, "
            f"torch threads {torch.get_num_threads()}"
        )
        for set_name in args.sets:
            sentences = sets[set_name]
            rates: dict[str, list[float]] = {name: [] for name in engines}
            for _ in range(args.repeats):
                for name, encode in engines.items():
                    start = time.perf_counter()
                    encode(sentences)
                    rates[name].append(len(sentences) / (time.perf_counter() - start))
            title = f"encode throughput, {set_name} ({len(sentences)} sentences)"
            print_table(title, [(name, r, "sentences/s") for name, r in rates.items()])
            medians = {name: statistics.median(r) for name, r in rates.items()}
            for other in ("torch", "onnx-fp32", "onnx-int8"):
                if other in medians:
                    ratios = ", ".join(f"{n} {m / medians[other]:.2f}x" for n, m in medians.items())
                    print(f"  / {other}: {ratios}")
        latencies = {}
        for name, encode in engines.items():
            times = []
            for _ in range(args.latency):
                start = time.perf_counter()
                encode([LATENCY_SENTENCE])
                times.append(1000 * (time.perf_counter() - start))
            latencies[name] = np.percentile(times, [50, 95])
        print(f"\nlatency of one sentence; STSb dev Spearman; cosine with {base} on STSb dev")
        print(
            f"{'':24} {'p50 ms':>10} {'p95 ms':>10} {'STSb dev':>10} {'mean cos':>10} "
            f"{'min cos':>10}"
        )
        for name in engines:
            p50, p95 = latencies[name]
            mean, low = agreement[name]
            print(
                f"{name:24} {p50:10.2f} {p95:10.2f} {scores[name]:10.2f} {mean:10.5f} {low:10.5f}"
            )
        if args.memory:
            print(f"\n{'':24} {'peak MB':>10}")
            for name in engines:
                print(f"{name:24} {peak_memory(args, name):10.0f}")


if __name__ == "__main__":
    main()
