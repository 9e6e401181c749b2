"""Atomic folder writes: build in a temporary folder beside the target, then rename."""

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_directory(target: Path, overwrite: bool = True) -> Iterator[Path]:
    """Yields an empty temporary folder; on success it replaces ``target`` in one rename.

    A failure (or a kill) part-way leaves ``target`` as it was; the temporary folder is a hidden
    sibling (``.NAME.tmp-*``) removed on error. With ``overwrite=False`` an existing target is an
    error (``FileExistsError``) and is never touched.

    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "model"
    >>> with atomic_directory(out) as tmp:
    ...     _ = (tmp / "weights").write_text("...")
    >>> sorted(p.name for p in out.iterdir())
    ['weights']
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} already exists; refusing to overwrite it.")
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        yield tmp
        if target.exists():
            if not overwrite:
                raise FileExistsError(f"{target} appeared while writing; refusing to overwrite it.")
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
            os.replace(target, old / target.name)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
