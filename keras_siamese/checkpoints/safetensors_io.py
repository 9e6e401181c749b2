"""Reading checkpoint weights: safetensors only, never pickle."""

import json
from pathlib import Path

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file

PICKLE_WEIGHT_FILES = ("pytorch_model.bin", "tf_model.h5", "model.ckpt", "flax_model.msgpack")


def path_inside(folder: Path, relative: str, source: Path) -> Path:
    """``folder / relative``, which must stay inside ``folder`` (no ``..``, no absolute path, no
    link out): a checkpoint never names a file outside itself; ``source`` names it.

    >>> path_inside(Path("ckpt"), "../etc/passwd", Path("ckpt/modules.json"))
    Traceback (most recent call last):
    ...
    ValueError: ckpt/modules.json: the path '../etc/passwd' leads outside ckpt.
    """
    path = folder / relative
    if not path.resolve().is_relative_to(folder.resolve()):
        raise ValueError(f"{source}: the path {relative!r} leads outside {folder}.")
    return path


def read_safetensors(folder: Path) -> dict[str, np.ndarray]:
    """All tensors of ``model.safetensors`` (or of its shards) in ``folder``.

    Raises ``FileNotFoundError`` when there is none, naming any pickle checkpoint found instead
    (it is refused: loading pickle can execute code), and ``ValueError`` for a corrupt file, a
    shard outside ``folder`` or a weight holding NaN or infinite values.
    """
    folder = Path(folder)
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
            shards = sorted(set(weight_map.values()))
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise ValueError(f"{index}: not a safetensors index ({err!r})") from None
        files = [path_inside(folder, str(shard), index) for shard in shards]
    else:
        files = [folder / "model.safetensors"]
    missing = [f for f in files if not f.is_file()]
    if missing:
        found = [name for name in PICKLE_WEIGHT_FILES if (folder / name).exists()]
        refused = (
            f" Found {found}, which keras-siamese refuses: it loads safetensors only, since pickle "
            "checkpoints can execute code. Convert them with safetensors' converter first."
            if found
            else ""
        )
        raise FileNotFoundError(f"No weights file {missing[0].name} in {folder}.{refused}")
    tensors: dict[str, np.ndarray] = {}
    for file in files:
        try:
            tensors.update(load_file(str(file)))
        except (SafetensorError, OSError, ValueError) as err:
            raise ValueError(f"Corrupt safetensors checkpoint {file}: {err}") from None
    for key, value in tensors.items():
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            raise ValueError(f"{folder}: weight {key!r} holds NaN or infinite values.")
    return tensors


def checked_weight(
    tensors: dict[str, np.ndarray], key: str, shape: tuple[int, ...], where: Path
) -> np.ndarray:
    """``tensors[key]`` if present with ``shape``, else a ``ValueError`` naming the problem."""
    if key not in tensors:
        raise ValueError(f"{where}: checkpoint has no weight {key!r}.")
    value = tensors[key]
    if tuple(value.shape) != tuple(shape):
        raise ValueError(
            f"{where}: weight {key!r} has shape {tuple(value.shape)}, expected {tuple(shape)}."
        )
    return value
