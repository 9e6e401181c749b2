"""Reading checkpoint weights: safetensors only, never pickle."""

import json
from pathlib import Path

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file

PICKLE_WEIGHT_FILES = ("pytorch_model.bin", "tf_model.h5", "model.ckpt", "flax_model.msgpack")


def read_safetensors(folder: Path) -> dict[str, np.ndarray]:
    """All tensors of ``model.safetensors`` (or of its shards) in ``folder``.

    Raises ``FileNotFoundError`` when there is none, naming any pickle checkpoint found instead
    (it is refused: loading pickle can execute code), and ``ValueError`` for a corrupt file.
    """
    folder = Path(folder)
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        files = [folder / shard for shard in shards]
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
