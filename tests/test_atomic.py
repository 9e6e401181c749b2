"""Everything the library writes gets the umask's normal permissions (a TF Serving process running
as another user must read exports), and is written atomically."""

import os
import stat
from pathlib import Path

import pytest
from test_training import PAIRS

from conftest import make_tiny_encoder
from keras_siamese.atomic import atomic_directory, atomic_file, write_atomically
from keras_siamese.export import saved_model, tflite
from keras_siamese.training import TrainingConfig, fit
from keras_siamese.training.history import save_history


@pytest.fixture
def umask_0022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def assert_readable_by_others(root: Path) -> None:
    paths = [root, *root.rglob("*")] if root.is_dir() else [root]
    assert paths
    for path in paths:
        mode = stat.S_IMODE(path.stat().st_mode)
        expected = 0o755 if path.is_dir() else 0o644
        assert mode & expected == expected, f"{path} is {oct(mode)}"
        assert not path.name.startswith("."), f"a temporary file was left: {path}"


def test_atomic_directory_shares_even_private_files(tmp_path, umask_0022):
    target = tmp_path / "out"
    with atomic_directory(target) as tmp:
        private = tmp / "weights.safetensors"
        private.write_text("x")
        private.chmod(0o600)  # as safetensors' save_file writes them
        (tmp / "sub").mkdir(mode=0o700)
    assert_readable_by_others(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_atomic_file_and_write_atomically_use_the_umask(tmp_path, umask_0022):
    with atomic_file(tmp_path / "a.json") as tmp:
        tmp.write_text("{}")
    write_atomically(tmp_path / "b.txt", "b")
    for name in ("a.json", "b.txt"):
        assert_readable_by_others(tmp_path / name)


def test_a_stricter_umask_is_respected(tmp_path):
    previous = os.umask(0o077)
    try:
        write_atomically(tmp_path / "secret.txt", "s")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "secret.txt").stat().st_mode) == 0o600


def test_models_exports_and_histories_are_readable_by_others(
    tiny_vocab_folder, tmp_path, umask_0022
):
    encoder = make_tiny_encoder(tiny_vocab_folder)
    encoder.save_pretrained(tmp_path / "model")
    encoder.save(tmp_path / "encoder.keras")
    version = saved_model(encoder, tmp_path / "serving")
    tflite(encoder, tmp_path / "encoder.tflite")
    history = fit(encoder, PAIRS, TrainingConfig(batch_size=4), verbose=0)
    json_path, png_path = save_history(history, tmp_path / "run")
    for path in (
        tmp_path / "model",
        tmp_path / "encoder.keras",
        tmp_path / "serving",
        version,
        tmp_path / "encoder.tflite",
        json_path,
        png_path,
    ):
        assert path is not None
        assert_readable_by_others(path)
