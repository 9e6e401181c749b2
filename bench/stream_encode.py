"""``keras-siamese encode`` on a large file: peak memory and lines/s, half the size against full.

Writes a text file of N lines (the distinct shared sentences, STSb train and dev then SICK,
repeated) and one of N / 2, runs ``keras-siamese encode`` on each under ``/usr/bin/time -v``, and
prints the peak resident memory and lines per second of each: streaming in chunks, the peak does
not grow with the input (the ratio stays near 1).

    python bench/stream_encode.py [--lines 200000] [--batch-size 32] [--chunk-size 10000]
"""

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import data_argument

import keras_siamese as ks

PEAK_RSS = re.compile(r"Maximum resident set size \(kbytes\): (\d+)")


def shared_sentences(data: Path, count: int | None = None) -> list[str]:
    """The distinct sentences of STSb train and dev, then SICK, in order (the first ``count``)."""
    from keras_siamese.data import read_sick, read_sts

    tables = [read_sts(data / "stsb" / f"sts-{split}.csv") for split in ("train", "dev")]
    tables.append(read_sick(data / "sick" / "SICK_train_trial.txt"))
    sentences = list(
        dict.fromkeys(text for t in tables for text in t.columns["text_a"] + t.columns["text_b"])
    )
    if count is not None and count > len(sentences):
        raise SystemExit(f"the shared data has {len(sentences)} distinct sentences, not {count}")
    return sentences[:count]


def _encode(model: str, source: Path, output: Path, args) -> tuple[float, float]:
    """Runs the command under /usr/bin/time -v; returns (seconds, peak RSS in MiB)."""
    command = [sys.executable, "-m", "keras_siamese.cli.main", "encode", model, str(source)]
    command += ["-o", str(output), "--batch-size", str(args.batch_size)]
    command += ["--chunk-size", str(args.chunk_size)]
    start = time.perf_counter()
    result = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"keras-siamese encode failed:\n{result.stderr[-3000:]}")
    return seconds, int(PEAK_RSS.search(result.stderr).group(1)) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    data_argument(parser)
    parser.add_argument("--model", default=ks.DEFAULT_MODEL)
    parser.add_argument("--lines", type=int, default=200_000, help="the larger file's lines")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--chunk-size", type=int, default=10_000)
    args = parser.parse_args()

    sentences = shared_sentences(args.data)
    results = {}
    with tempfile.TemporaryDirectory() as work:
        for lines in (args.lines // 2, args.lines):
            source = Path(work) / f"{lines}.txt"
            with source.open("w", encoding="utf-8") as file:
                for i in range(lines):
                    file.write(sentences[i % len(sentences)] + "\n")
            output = Path(work) / f"{lines}.npy"
            results[lines] = _encode(args.model, source, output, args)
            matrix = np.load(output, mmap_mode="r")
            norms = np.linalg.norm(matrix[:: max(1, lines // 1000)], axis=1)
            if matrix.shape[0] != lines or not np.allclose(norms, 1, atol=1e-4):
                raise SystemExit(f"{output}: shape {matrix.shape}, norms {norms.min()}..")
            output.unlink()
    print(f"keras-siamese encode {args.model}, batch {args.batch_size}, chunk {args.chunk_size}")
    print(f"{'lines':>10} {'seconds':>10} {'lines/s':>10} {'peak RSS MiB':>14}")
    for lines, (seconds, peak) in results.items():
        print(f"{lines:>10} {seconds:>10.1f} {lines / seconds:>10.1f} {peak:>14.0f}")
    (half, (half_s, half_peak)), (full, (full_s, full_peak)) = results.items()
    speed = (full / full_s) / (half / half_s)
    print(f"full / half: peak RSS {full_peak / half_peak:.2f}, lines/s {speed:.2f}")


if __name__ == "__main__":
    main()
