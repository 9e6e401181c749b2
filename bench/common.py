"""Shared helpers for the benchmarks: the data folder and a table of medians."""

import argparse
import os
import statistics
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def data_argument(parser: argparse.ArgumentParser) -> None:
    default = os.environ.get("KERAS_SIAMESE_DATA", str(REPO.parent / "shared" / "data"))
    parser.add_argument("--data", type=Path, default=Path(default), help="shared data folder")


def peak_resident_mib() -> float:
    """This process's peak resident memory in MiB (Linux ``VmHWM``). Not ``ru_maxrss``: a child
    started by ``subprocess`` inherits its parent's peak there, through the fork and exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("/proc/self/status has no VmHWM line: peak memory needs Linux.")


def print_table(title: str, rows: list[tuple[str, list[float], str]]) -> None:
    """Rows of (name, repeated measurements, unit); prints median, min and max."""
    print(f"\n{title}")
    print(f"{'':24} {'median':>10} {'min':>10} {'max':>10}  unit")
    for name, values, unit in rows:
        print(
            f"{name:24} {statistics.median(values):10.1f} {min(values):10.1f} "
            f"{max(values):10.1f}  {unit}"
        )
