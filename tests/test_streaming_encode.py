"""``encode_file`` and ``keras-siamese encode``: a text file encoded in chunks gives ``encode``'s
matrix (the same header, rows equal up to float noise), and an interrupted run (an exception, a
SIGKILL) goes on from its last finished chunk, or starts over when the input or settings changed."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from keras_siamese.cli import common
from keras_siamese.cli import encode as encode_command
from keras_siamese.cli.main import main
from keras_siamese.encoders.streaming import CHUNK_LINES, count_lines, encode_file, partial_paths
from keras_siamese.killpoints import ENV as KILL_ENV
from keras_siamese.testing import TINY_WORDS

REPO = Path(__file__).resolve().parent.parent
WORDS = [word for word in TINY_WORDS if word.isalpha()]
LINES = 40  # 6 chunks of 7 lines, the last one of 5
CHUNK = 7


def _texts(count: int, seed: int = 0) -> list[str]:
    """Sentences of 1 to 12 words, so that sorting by length reorders them."""
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=rng.integers(1, 13))) for _ in range(count)]


def _write(path: Path, texts: list[str]) -> Path:
    path.write_text("".join(f"{text}\n" for text in texts), encoding="utf-8")
    return path


class _Interrupted(Exception):
    pass


class _Counting:
    """The encoder, counting ``encode`` calls and their sizes; raises on call ``fail_at``."""

    def __init__(self, encoder, fail_at: int | None = None) -> None:
        self.encoder, self.fail_at, self.sizes = encoder, fail_at, []

    def __getattr__(self, name: str):
        return getattr(self.encoder, name)

    def encode(self, texts, **kwargs) -> np.ndarray:
        if len(self.sizes) + 1 == self.fail_at:
            raise _Interrupted
        self.sizes.append(len(texts))
        return self.encoder.encode(texts, **kwargs)


@pytest.fixture(scope="module")
def tiny(tiny_model_folder):
    from keras_siamese.encoders import SentenceEncoder

    return SentenceEncoder.from_pretrained(tiny_model_folder)


def _interrupt(tiny, source: Path, out: Path, after_chunks: int = 2) -> None:
    with pytest.raises(_Interrupted):
        encode_file(_Counting(tiny, after_chunks + 1), source, out, chunk_size=CHUNK)


def test_chunks_give_the_matrix_of_encode(tiny, tmp_path):
    texts = _texts(LINES)
    counting = _Counting(tiny)
    out = tmp_path / "out.npy"
    assert encode_file(counting, _write(tmp_path / "in.txt", texts), out, CHUNK, 4) == (40, 16)
    assert counting.sizes == [7, 7, 7, 7, 7, 5]
    expected = tiny.encode(texts, batch_size=4)
    saved = io.BytesIO()
    np.save(saved, expected)
    assert out.read_bytes()[:128] == saved.getvalue()[:128]  # np.save's header
    result = np.load(out)
    assert result.dtype == np.float32 and result.shape == expected.shape
    np.testing.assert_allclose(result, expected, atol=1e-5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt", "out.npy"]


def test_lines_follow_the_rules_of_read_lines(tiny, tmp_path):
    source = tmp_path / "in.txt"
    source.write_bytes("\ufeffa man\u2028plays\r\nthe dog\x0cruns\rfast\nred car".encode())
    texts = common.read_lines(source)
    assert count_lines(source) == len(texts) == 3
    encode_file(tiny, source, tmp_path / "out.npy", chunk_size=2)
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), tiny.encode(texts), atol=1e-5)


@pytest.mark.parametrize(
    ("data", "problem"),
    [(b"one\n\ntwo\n", "in.txt:2: empty line"), (b"one\ntwo\n\xff\n", "in.txt:3: not UTF-8")],
)
def test_bad_lines_are_named_before_anything_is_encoded(tiny, tmp_path, data, problem):
    (tmp_path / "in.txt").write_bytes(data)
    counting = _Counting(tiny)
    with pytest.raises(ValueError, match=problem):
        encode_file(counting, tmp_path / "in.txt", tmp_path / "out.npy", chunk_size=1)
    assert counting.sizes == [] and list(tmp_path.iterdir()) == [tmp_path / "in.txt"]


def test_an_empty_input_gives_an_empty_matrix_and_a_warning(tiny, tmp_path, capsys):
    (tmp_path / "in.txt").write_bytes(b"")
    assert encode_file(tiny, tmp_path / "in.txt", tmp_path / "out.npy", truncate_dim=8) == (0, 8)
    result = np.load(tmp_path / "out.npy")
    assert result.shape == (0, 8) and result.dtype == np.float32
    assert "in.txt has no text; writing an empty matrix" in capsys.readouterr().err


def test_an_interrupted_run_goes_on_from_its_last_chunk(tiny, tmp_path, capsys):
    source = _write(tmp_path / "in.txt", _texts(LINES))
    out = tmp_path / "out.npy"
    _interrupt(tiny, source, out)
    partial, record = partial_paths(out)
    assert not out.exists() and partial.is_file()
    assert json.loads(record.read_text())["rows_done"] == 2 * CHUNK
    capsys.readouterr()
    counting = _Counting(tiny)
    encode_file(counting, source, out, chunk_size=CHUNK, batch_size=2)  # a smaller batch resumes
    assert counting.sizes == [7, 7, 7, 5]
    assert f"resuming {out}: 14 of 40 lines already encoded" in capsys.readouterr().err
    assert not partial.exists() and not record.exists()
    np.testing.assert_allclose(np.load(out), tiny.encode(_texts(LINES)), atol=1e-5)


def test_a_changed_input_starts_over(tiny, tmp_path, capsys):
    source = _write(tmp_path / "in.txt", _texts(LINES))
    out = tmp_path / "out.npy"
    _interrupt(tiny, source, out)
    changed = _texts(LINES, seed=1)
    _write(source, changed)
    counting = _Counting(tiny)
    encode_file(counting, source, out, chunk_size=CHUNK)
    assert sum(counting.sizes) == LINES
    assert "was written for another input (or the input has changed); starting over" in (
        capsys.readouterr().err
    )
    np.testing.assert_allclose(np.load(out), tiny.encode(changed), atol=1e-5)


@pytest.mark.parametrize(
    "settings", [{"truncate_dim": 8}, {"prompt": "the dog, "}], ids=["truncate_dim", "prompt"]
)
def test_other_settings_start_over(tiny, tmp_path, capsys, settings):
    source = _write(tmp_path / "in.txt", _texts(LINES))
    out = tmp_path / "out.npy"
    _interrupt(tiny, source, out)
    counting = _Counting(tiny)
    encode_file(counting, source, out, chunk_size=CHUNK, **settings)
    assert sum(counting.sizes) == LINES
    assert "other settings (model, prompt or dimensions); starting over" in capsys.readouterr().err
    expected = tiny.encode(_texts(LINES), **settings)
    np.testing.assert_allclose(np.load(out), expected, atol=1e-5)


def test_another_model_starts_over(tiny, tmp_path, tiny_vocab_folder):
    from keras_siamese.testing import make_tiny_encoder

    source = _write(tmp_path / "in.txt", _texts(LINES))
    out = tmp_path / "out.npy"
    _interrupt(tiny, source, out)
    other = make_tiny_encoder(tiny_vocab_folder, seed=1)
    counting = _Counting(other)
    encode_file(counting, source, out, chunk_size=CHUNK)
    assert sum(counting.sizes) == LINES
    np.testing.assert_allclose(np.load(out), other.encode(_texts(LINES)), atol=1e-5)


def test_a_spoilt_partial_file_starts_over(tiny, tmp_path, capsys):
    source = _write(tmp_path / "in.txt", _texts(LINES))
    out = tmp_path / "out.npy"
    _interrupt(tiny, source, out)
    partial, _ = partial_paths(out)
    with partial.open("r+b") as file:
        file.truncate(100)
    encode_file(tiny, source, out, chunk_size=CHUNK)
    assert "a record that does not fit it; starting over" in capsys.readouterr().err
    np.testing.assert_allclose(np.load(out), tiny.encode(_texts(LINES)), atol=1e-5)


def _command(model: Path, source: Path, out: Path) -> list[str]:
    return ["encode", str(model), str(source), "-o", str(out), "--chunk-size", str(CHUNK)]


def test_the_command_killed_anywhere_ends_with_the_uninterrupted_matrix(
    tiny_model_folder, tmp_path
):
    """SIGKILLed with rows written but not recorded (redone on the rerun), then after the final
    rename but before the record is deleted (a stale record, ignored); the last run ends."""
    source = _write(tmp_path / "in.txt", _texts(LINES))
    clean, out = tmp_path / "clean.npy", tmp_path / "out.npy"
    assert main(_command(tiny_model_folder, source, clean)) == 0
    partial, record = partial_paths(out)
    for point, done in (("encode-flushed#2", 7), ("encode-renamed", None)):
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "keras_siamese.cli.main",
                *_command(tiny_model_folder, source, out),
            ],
            env={**os.environ, KILL_ENV: point},
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == -9, result.stderr
        if done is not None:
            assert json.loads(record.read_text())["rows_done"] == done and not out.exists()
    assert out.is_file() and record.is_file() and not partial.exists()
    np.testing.assert_allclose(np.load(out), np.load(clean), atol=1e-6)
    assert main(_command(tiny_model_folder, source, out)) == 0
    assert not record.exists() and not partial.exists()
    np.testing.assert_allclose(np.load(out), np.load(clean), atol=1e-6)


def test_the_command_and_the_library_share_the_chunk_size():
    assert encode_command.CHUNK_LINES == CHUNK_LINES


@pytest.mark.integration
def test_minilm_in_chunks_matches_encode(minilm, sts_sentences, tmp_path):
    texts = sts_sentences[:60]
    source = _write(tmp_path / "in.txt", texts)
    encode_file(minilm, source, tmp_path / "out.npy", chunk_size=CHUNK, batch_size=16)
    expected = minilm.encode(texts, batch_size=16, show_progress_bar=False)
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, atol=1e-5)
