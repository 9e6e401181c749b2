"""sentence-transformers / Hugging Face checkpoint folders: module layout and backbone weights.

The layout is sentence-transformers': ``modules.json`` lists the module stack (Transformer,
Pooling, Dense..., Normalize), each in its folder. Module types are matched by name only; nothing
from a checkpoint is ever imported or executed.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
from safetensors.numpy import save_file

from keras_siamese.encoders.safetensors_io import checked_weight, read_safetensors
from keras_siamese.encoders.transformer_backbone import TransformerBackbone
from keras_siamese.encoders.transformer_config import TransformerConfig

MODULE_KINDS = ("Transformer", "Pooling", "Dense", "Normalize")


@dataclass
class ModuleLayout:
    """Where each module of a sentence-transformers model lives inside its folder."""

    transformer: Path
    pooling: Path | None = None
    dense: list[Path] = field(default_factory=list)
    normalize: bool = False


def read_module_layout(folder: Path) -> ModuleLayout:
    """Reads ``modules.json``; a plain Hugging Face folder is a Transformer with mean pooling."""
    folder = Path(folder)
    modules_file = folder / "modules.json"
    if not modules_file.is_file():
        return ModuleLayout(transformer=folder)
    layout: ModuleLayout | None = None
    for module in sorted(json.loads(modules_file.read_text()), key=lambda m: m["idx"]):
        kind = module["type"].rsplit(".", 1)[-1]
        path = folder / module.get("path", "")
        if kind not in MODULE_KINDS:
            raise ValueError(
                f"{modules_file}: module type {module['type']!r} is not supported; "
                f"supported module types: {list(MODULE_KINDS)}."
            )
        if kind == "Transformer":
            layout = ModuleLayout(transformer=path)
        elif layout is None:
            raise ValueError(f"{modules_file}: the first module must be a Transformer.")
        elif kind == "Pooling":
            layout.pooling = path
        elif kind == "Dense":
            layout.dense.append(path)
        else:
            layout.normalize = True
    if layout is None:
        raise ValueError(f"{modules_file} lists no Transformer module.")
    return layout


def load_backbone(folder: Path) -> TransformerBackbone:
    """A backbone built from ``config.json`` with the weights of ``model.safetensors``."""
    folder = Path(folder)
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise FileNotFoundError(f"No config.json in {folder}: not a transformer checkpoint.")
    backbone = TransformerBackbone(**TransformerConfig.from_file(config_file).to_dict())
    backbone.build()
    tensors = read_safetensors(folder)
    prefix = _weight_prefix(backbone, tensors, folder)
    for keys, variable, linear in backbone.weight_bindings():
        keys = keys if isinstance(keys, tuple) else (keys,)
        shape = tuple(variable.shape)
        part_shape = shape[::-1] if linear else shape
        parts = [
            checked_weight(
                tensors,
                prefix + key,
                (part_shape[0] // len(keys), *part_shape[1:]),
                folder,
            )
            for key in keys
        ]
        value = np.concatenate(parts, axis=0) if len(parts) > 1 else parts[0]
        variable.assign(value.T if linear else value)
    return backbone


def _weight_prefix(backbone: TransformerBackbone, tensors: dict, folder: Path) -> str:
    spec = backbone.architecture
    probe = spec.embeddings["word_embeddings"]
    for prefix in spec.prefixes:
        if prefix + probe in tensors:
            return prefix
    raise ValueError(
        f"{folder}: the weights do not look like a {spec.model_type} checkpoint "
        f"(no {probe!r}, with any of the prefixes {spec.prefixes})."
    )


def save_backbone(backbone: TransformerBackbone, folder: Path) -> None:
    """Writes ``config.json`` and ``model.safetensors`` in Hugging Face naming."""
    folder = Path(folder)
    tensors: dict[str, np.ndarray] = {}
    for keys, variable, linear in backbone.weight_bindings():
        value = keras.ops.convert_to_numpy(variable).astype(np.float32)
        value = value.T if linear else value
        keys = keys if isinstance(keys, tuple) else (keys,)
        for key, part in zip(keys, np.split(value, len(keys), axis=0), strict=True):
            tensors[key] = np.ascontiguousarray(part)
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
    (folder / "config.json").write_text(json.dumps(backbone.config.to_hf_dict(), indent=2))
