"""Encoding a text file of any size into one ``.npy`` matrix, in bounded memory, resumable.

``encode_file`` reads the file in chunks of lines, encodes each, and writes its rows straight
into ``OUT.partial``: a ``.npy`` whose header already holds the final row count (counted, and the
lines checked, in one cheap pass first). After each chunk the rows are flushed to disk and a small
record, ``OUT.partial.json``, says how many are done; it names the input (path, size, mtime, line
count) and the settings that shape the numbers (the weights' fingerprint, the prompt, the
dimensions). The same call after an interruption (an error, Ctrl-C, a kill) goes on from the last
finished chunk; a changed input or other settings start over, with a warning. When every row is
written, ``OUT.partial`` is renamed to ``OUT`` in one step: readers never see half a matrix.

Chunking changes nothing but float noise: ``encode`` sorts the texts it gets by length, so each
chunk is batched a little differently from the whole file at once.
"""

import json
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np

from keras_siamese.atomic import remove_stale_temporaries, write_atomically
from keras_siamese.killpoints import kill_point
from keras_siamese.progress import Progress

CHUNK_LINES = 10_000
RECORD_FORMAT = "keras-siamese-partial-encode/1"
_BOM = b"\xef\xbb\xbf"


def partial_paths(output: str | Path) -> tuple[Path, Path]:
    """The rows written so far (``OUT.partial``) and their record (``OUT.partial.json``).

    >>> [p.name for p in partial_paths("out/embeddings.npy")]
    ['embeddings.npy.partial', 'embeddings.npy.partial.json']
    """
    output = Path(output)
    partial = output.with_name(output.name + ".partial")
    return partial, partial.with_name(partial.name + ".json")


def iter_lines(file: BinaryIO, name: str, start: int = 0) -> Iterator[tuple[int, str]]:
    """(line number from 1, text) of each line of the binary ``file`` from line ``start + 1``
    on, by the rules of ``keras-siamese encode``: UTF-8 (a leading byte-order mark dropped),
    split on "\\n" only, a "\\r" before it dropped, no empty line; errors name the file
    (``name``) and line.

    >>> import io
    >>> list(iter_lines(io.BytesIO(b"a man\\r\\na\\x0cdog\\n"), "in.txt"))
    [(1, 'a man'), (2, 'a\\x0cdog')]
    """
    for number, raw in enumerate(iter(file.readline, b""), 1):
        if number <= start:
            continue
        if number == 1:
            raw = raw.removeprefix(_BOM)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise ValueError(f"{name}:{number}: not UTF-8 text ({err.reason})") from None
        text = text.removesuffix("\n").removesuffix("\r")
        if not text.strip():
            raise ValueError(f"{name}:{number}: empty line; give one text per line")
        yield number, text


def _lines(path: Path, start: int = 0) -> Iterator[tuple[int, str]]:
    with path.open("rb") as file:
        yield from iter_lines(file, str(path), start)


def _chunks(path: Path, start: int, stop: int, size: int) -> Iterator[list[str]]:
    """The texts of lines ``start + 1`` to ``stop`` (at most) in lists of ``size``."""
    chunk: list[str] = []
    for number, text in _lines(path, start):
        chunk.append(text)
        if len(chunk) == size or number == stop:
            yield chunk
            chunk = []
        if number == stop:
            return
    if chunk:
        yield chunk


def count_lines(path: str | Path) -> int:
    """The number of texts in a text file, each line checked (see ``encode_file``) in one pass
    that holds one line at a time; errors name the file and line.

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "in.txt"
    >>> _ = path.write_text("a man\\r\\na dog")
    >>> count_lines(path)
    2
    """
    return sum(1 for _ in _lines(Path(path)))


def _settings(
    encoder, prompt_name: str | None, prompt: str | None, truncate_dim: int | None
) -> dict:
    """What shapes the numbers, resolved as ``encode`` resolves it. Not the batch or chunk
    size, which add float noise only: a rerun with a smaller batch (after running out of memory)
    resumes."""
    dim = encoder.truncate_dim if truncate_dim is None else truncate_dim
    return {
        "weights_sha256": encoder.fingerprint(),
        "backend": [encoder.backend, encoder.backend_quantization],
        "prompt": encoder.resolve_prompt(prompt, prompt_name),
        "include_prompt": encoder.pooling.include_prompt,
        "max_seq_length": encoder.max_seq_length,
        "embedding_dim": encoder.embedding_dim if dim is None else encoder.check_truncate_dim(dim),
    }


def _input_record(path: Path, lines: int) -> dict:
    stat = path.stat()
    return {
        "path": str(path.resolve()),
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "lines": lines,
    }


def _write_header(path: Path, rows: int, dim: int) -> int:
    """A new ``.npy`` file of ``rows`` x ``dim`` float32, all zero (sparse) until written, with
    the header ``np.save`` writes for that matrix; returns where the rows begin."""
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)), "fortran_order": False}
    with path.open("wb") as file:
        np.lib.format.write_array_header_1_0(file, {**header, "shape": (rows, dim)})
        offset = file.tell()
        file.truncate(offset + rows * dim * 4)
    return offset


def _data_offset(path: Path, shape: tuple[int, int]) -> int | None:
    """Where the rows of the ``.npy`` at ``path`` begin, if it is a float32 C-order matrix of
    ``shape`` of the full size; else None."""
    try:
        with path.open("rb") as file:
            if np.lib.format.read_magic(file) != (1, 0):
                return None
            found, fortran, dtype = np.lib.format.read_array_header_1_0(file)
            offset = file.tell()
    except (OSError, ValueError):
        return None
    whole = offset + shape[0] * shape[1] * 4
    if found != shape or fortran or dtype != np.float32 or path.stat().st_size != whole:
        return None
    return offset


def _resume_from(partial: Path, record_path: Path, expected: dict) -> tuple[int, int] | None:
    """(rows done, offset of the rows) of an earlier run of the same work, else None (with a
    warning when there was an earlier run, for another input or other settings)."""
    if not (record_path.is_file() and partial.is_file()):
        return None
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        record = None
    record = record if isinstance(record, dict) else {}
    shape = (expected["input"]["lines"], expected["settings"]["embedding_dim"])
    if record.get("input") != expected["input"]:
        reason = "another input (or the input has changed)"
    elif record.get("settings") != expected["settings"]:
        reason = "other settings (model, prompt or dimensions)"
    else:
        done, offset = record.get("rows_done"), _data_offset(partial, shape)
        valid = isinstance(done, int) and 0 <= done <= shape[0]
        if record.get("format") == RECORD_FORMAT and valid and offset is not None:
            return done, offset
        reason = "a record that does not fit it"
    print(f"warning: {partial} was written for {reason}; starting over", file=sys.stderr)
    return None


def _finish(partial: Path, output: Path, record_path: Path) -> None:
    """``partial`` (written) becomes ``output`` in one rename; then its record goes."""
    with partial.open("rb+") as file:
        os.fsync(file.fileno())
    os.replace(partial, output)
    kill_point("encode-renamed")
    record_path.unlink(missing_ok=True)


def encode_file(
    encoder,
    input: str | Path,
    output: str | Path,
    chunk_size: int = CHUNK_LINES,
    batch_size: int = 32,
    *,
    line_count: int | None = None,
    prompt_name: str | None = None,
    prompt: str | None = None,
    truncate_dim: int | None = None,
) -> tuple[int, int]:
    """Embeds each line of the text file ``input`` into the float32 ``.npy`` matrix ``output``,
    in order, as ``encoder.encode`` would (same rows up to float noise), ``chunk_size`` lines at a
    time; returns its shape. See the module for the resume and the files beside ``output``.

    ``line_count``: the input's ``count_lines``, when the caller has counted (and so checked) it
    already; else it is counted here, before anything is encoded. An input without text gives a
    ``(0, dim)`` matrix and a warning. Progress counts lines over the whole file.

    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "in.txt").write_text("a man\\na dog\\na cat\\n")
    >>> encode_file(tiny_encoder, folder / "in.txt", folder / "out.npy", chunk_size=2)
    (3, 16)
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}.")
    input, output = Path(input), Path(output)
    lines = count_lines(input) if line_count is None else line_count
    options = {"prompt_name": prompt_name, "prompt": prompt, "truncate_dim": truncate_dim}
    expected = {
        "format": RECORD_FORMAT,
        "input": _input_record(input, lines),
        "settings": _settings(encoder, **options),
    }
    dim = expected["settings"]["embedding_dim"]
    partial, record_path = partial_paths(output)
    remove_stale_temporaries(output.parent, re.escape(record_path.name))  # a killed record write
    if lines == 0:
        print(f"warning: {input} has no text; writing an empty matrix", file=sys.stderr)
        _write_header(partial, 0, dim)
        _finish(partial, output, record_path)
        return 0, dim
    resumed = _resume_from(partial, record_path, expected)
    if resumed is None:
        record_path.unlink(missing_ok=True)
        done, offset = 0, _write_header(partial, lines, dim)
    else:
        done, offset = resumed
        print(f"resuming {output}: {done} of {lines} lines already encoded", file=sys.stderr)
    with Progress(lines, "Encoding", "lines") as bar, partial.open("r+b") as matrix:
        bar.update(done)
        for chunk in _chunks(input, done, lines, chunk_size):
            embeddings = encoder.encode(
                chunk, batch_size=batch_size, show_progress_bar=False, **options
            )
            matrix.seek(offset + done * dim * 4)
            matrix.write(np.ascontiguousarray(embeddings, dtype=np.float32).data)
            matrix.flush()
            os.fsync(matrix.fileno())
            kill_point("encode-flushed")
            done += len(chunk)
            if _input_record(input, lines) != expected["input"]:
                break
            write_atomically(record_path, json.dumps({**expected, "rows_done": done}))
            kill_point("encode-chunk")
            bar.update(len(chunk))
    if done != lines or _input_record(input, lines) != expected["input"]:
        raise ValueError(f"{input} changed while it was being encoded; run again to start over")
    _finish(partial, output, record_path)
    return lines, dim
