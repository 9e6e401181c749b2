"""The package's architecture: rooms import only rooms below them, every room that uses Keras or
TensorFlow loads ``keras_siamese.backend`` first, and imports stay light where they should."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "keras_siamese"

# Rooms from the lowest up; a room may import rooms of earlier tiers only (and itself).
TIERS: tuple[tuple[str, ...], ...] = (
    ("backend", "validation", "atomic", "progress", "killpoints"),
    ("similarity",),
    ("tokenizers",),
    ("backbones",),
    ("pooling",),
    ("checkpoints",),
    ("encoders",),
    ("testing",),
    ("losses",),
    ("siamese",),
    ("data",),
    ("evaluation", "search"),
    ("mining",),
    ("training", "export", "serving"),
    ("beam",),
    ("cli",),
)
RANK = {room: rank for rank, rooms in enumerate(TIERS) for room in rooms}
# The one import upward, inside a function: ``SentenceEncoder.use_backend("litert")`` runs
# ``encode`` on the TFLite export (as sentence-transformers' ``backend="onnx"`` loads ONNX).
LAZY_UPWARD = {("keras_siamese.encoders.sentence_encoder", "keras_siamese.export.litert_backend")}
HEAVY = ("keras", "tensorflow", "tensorflow_text", "tensorflow_datasets")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _room(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def _imported(node: ast.AST) -> list[str]:
    """The absolute module names an import statement loads (``from pkg import mod`` as
    ``pkg.mod``, for names that may be submodules)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and not node.level and node.module:
        return [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
    return []


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _internal(names: list[str]) -> list[str]:
    return [name for name in names if name in MODULES and name != "keras_siamese"]


def test_every_room_has_a_tier():
    rooms = {_room(module) for module in MODULES} - {None}
    assert rooms == set(RANK), (rooms - set(RANK), set(RANK) - rooms)


def test_no_room_imports_a_room_above_it():
    """Module-level and function-level imports alike."""
    upward = []
    for module, path in MODULES.items():
        room = _room(module)
        if room is None:  # the package's lazy facade
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            for target in _internal(_imported(node)):
                other = _room(target)
                if (module, target) in LAZY_UPWARD and node.col_offset > 0:  # in a function
                    continue
                if other != room and RANK[other] >= RANK[room]:
                    upward.append(f"{module}:{node.lineno} imports {target}")
    assert not upward, "\n".join(upward)


def _top_level_imports(path: Path) -> list[str]:
    names = []
    for node in ast.parse(path.read_text()).body:
        names.extend(_imported(node))
    return names


def _guarded(module: str, seen: frozenset = frozenset()) -> bool:
    """Whether ``keras_siamese.backend`` is loaded before the module's first Keras/TensorFlow
    import: by its package's ``__init__``, or by a guarded ``keras_siamese`` import before it."""
    if module == "keras_siamese.backend" or module in seen:
        return True
    parent = module.rpartition(".")[0]
    path = MODULES[module]
    if path.name != "__init__.py" and parent != "keras_siamese" and _guarded(parent, seen):
        return True
    for name in _top_level_imports(path):
        internal = _internal([name])
        if internal and _guarded(internal[0], seen | {module}):
            return True
        if name.split(".")[0] in HEAVY:
            return False
    return True  # no Keras or TensorFlow import of its own


def test_keras_and_tensorflow_come_after_the_backend_guard():
    unguarded = [module for module in MODULES if not _guarded(module)]
    assert not unguarded


def _run(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True
    )
    return result.stdout.strip()


def test_importing_the_package_loads_no_tensorflow():
    loaded = _run(
        "import sys, keras_siamese; "
        "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))"
    )
    assert loaded == "[]"


@pytest.mark.integration
def test_encoding_loads_nothing_it_does_not_need(minilm_path):
    """The issue's command: the top-level names, then an encoding, load none of these beyond what
    TensorFlow and Keras themselves import (TensorFlow 2.21 imports scipy, Keras 3 matplotlib,
    when they are installed: measured here in the same process, first)."""
    heavy = ("scipy", "tensorflow_datasets", "matplotlib", "yaml", "transformers", "torch")
    loaded = _run(
        "import sys; import tensorflow, keras; before = set(sys.modules); "
        "import keras_siamese as ks; ks.SentenceEncoder; ks.fit; ks.semantic_search; "
        "ks.losses.CoSENTLoss; ks.TrainingConfig; ks.evaluation; ks.data; ks.export; "
        f"ks.SentenceEncoder.from_pretrained({str(minilm_path)!r}).encode(['x']); "
        "print(sorted(m for m in set(sys.modules) - before "
        f"if m.split('.')[0] in {heavy!r}))"
    )
    assert loaded == "[]"
