"""Atomic writes: build beside the target under a hidden name, then rename.

Outputs get the permissions the process's umask gives (``0o755`` folders and ``0o644`` files under
the usual ``0o022``): the temporary folder is made by ``os.mkdir`` and the temporary file by
``os.open(..., 0o666)``, not by ``tempfile.mkdtemp``/``mkstemp``, whose private ``0o700``/``0o600``
the rename would keep (and a TF Serving process running as another user could not read).
"""

import contextlib
import os
import re
import secrets
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

_ATTEMPTS = 100  # unique names tried before giving up (a clash is already unlikely)


def _sibling(target: Path, tag: str) -> Path:
    """A hidden name beside ``target`` that no other writer uses: ``.NAME.TAG-XXXXXXXX``."""
    return target.parent / f".{target.name}.{tag}-{secrets.token_hex(4)}"


def _make_directory(target: Path, tag: str) -> Path:
    """A new empty hidden folder beside ``target`` with the umask's permissions."""
    for _ in range(_ATTEMPTS):
        path = _sibling(target, tag)
        try:
            os.mkdir(path)  # mode 0o777 & ~umask
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"no free temporary name beside {target}")


def _umask_of(folder: Path) -> int:
    """The umask, read off a folder just made with mode 0o777 (``os.umask`` would set it, racing
    other threads)."""
    return 0o777 & ~stat.S_IMODE(folder.stat().st_mode)


def _share_like_umask(root: Path, umask: int) -> None:
    """Grants the read (and, to folders and executables, search/execute) permissions the umask
    allows to everything under ``root``; write permissions are left as they are. Libraries that
    write private files (safetensors' ``save_file`` makes ``0o600`` files) then still give
    outputs that others can read."""
    readable, searchable = 0o444 & ~umask, 0o111 & ~umask
    for folder, folders, files in os.walk(root):
        for name in [*folders, *files]:
            path = os.path.join(folder, name)
            mode = os.lstat(path).st_mode
            if stat.S_ISLNK(mode):
                continue
            wanted = stat.S_IMODE(mode) | readable
            if stat.S_ISDIR(mode) or mode & 0o111:
                wanted |= searchable
            if wanted != stat.S_IMODE(mode):
                os.chmod(path, wanted)


@contextlib.contextmanager
def atomic_directory(target: Path, overwrite: bool = True) -> Iterator[Path]:
    """Yields an empty temporary folder; on success it replaces ``target`` in one rename.

    A failure (or a kill) part-way leaves ``target`` as it was; the temporary folder is a hidden
    sibling (``.NAME.tmp-*``) removed on error. With ``overwrite=False`` an existing target is an
    error (``FileExistsError``) and is never touched. Everything inside gets at least the read
    permissions of the umask (see the module).

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
    tmp = _make_directory(target, "tmp")
    try:
        yield tmp
        _share_like_umask(tmp, _umask_of(tmp))
        if target.exists():
            if not overwrite:
                raise FileExistsError(f"{target} appeared while writing; refusing to overwrite it.")
            old = _make_directory(target, "old")
            try:
                os.replace(target, old / target.name)
                try:
                    os.replace(tmp, target)
                except BaseException:
                    os.replace(old / target.name, target)  # put the previous one back
                    raise
            finally:
                shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def scratch_directory(target: Path) -> Iterator[Path]:
    """Yields a new empty hidden folder beside ``target`` (``.NAME.tmp-*``, where
    ``remove_stale_temporaries`` finds it after a kill) for files used while writing ``target``;
    removed on exit.

    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "export"
    >>> with scratch_directory(out) as scratch:
    ...     scratch.name.startswith(".export.tmp-")
    True
    >>> list(out.parent.iterdir())
    []
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    folder = _make_directory(target, "tmp")
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def atomic_file(target: Path) -> Iterator[Path]:
    """Yields the path of a new empty hidden file beside ``target`` (``.NAME.tmp-*``, with the
    umask's permissions); write it, and on success it replaces ``target`` in one rename (after
    ``fsync``), so readers see the old file or the new one, never a part. On error it is removed.

    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "history.json"
    >>> with atomic_file(out) as tmp:
    ...     _ = tmp.write_text("{}")
    >>> out.read_text()
    '{}'
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(_ATTEMPTS):
        tmp = _sibling(target, "tmp")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        break
    else:
        raise FileExistsError(f"no free temporary name beside {target}")
    try:
        yield tmp
        with open(tmp, "rb+") as file:
            os.fsync(file.fileno())
        os.replace(tmp, target)
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)


def write_atomically(target: Path, data: bytes | str) -> Path:
    """Writes ``data`` (``str`` as UTF-8) to ``target`` through ``atomic_file``; returns it.

    >>> import tempfile, pathlib
    >>> write_atomically(pathlib.Path(tempfile.mkdtemp()) / "a.txt", "hi").read_text()
    'hi'
    """
    target = Path(target)
    with atomic_file(target) as tmp:
        tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return target


def remove_stale_temporaries(folder: Path, names: str) -> list[Path]:
    """Removes the temporaries that killed writers left in ``folder``: the hidden siblings
    ``.NAME.tmp-XXXXXXXX`` and ``.NAME.old-XXXXXXXX`` (8 hex digits, as this module names them)
    whose NAME matches the regular expression ``names`` in full. Nothing else is touched. Returns
    what was removed. Call it only where no other writer of those names runs at the same time.

    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> (folder / ".model.tmp-0123abcd").mkdir()
    >>> _ = (folder / ".notes.tmp-0123abcd").write_text("someone else's")
    >>> [p.name for p in remove_stale_temporaries(folder, "model|notes2")]
    ['.model.tmp-0123abcd']
    >>> sorted(p.name for p in folder.iterdir())
    ['.notes.tmp-0123abcd']
    """
    pattern = re.compile(rf"\.(?:{names})\.(?:tmp|old)-[0-9a-f]{{8}}")
    removed = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    for path in sorted(folder.iterdir()):
        if not pattern.fullmatch(path.name):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed
