"""Every mistake a user can make is one line naming the file and the problem; an internal error is
one line with a hint (tests/test_cli.py); nothing is silently wrong (issue 12, item 12)."""

import numpy as np
import pytest

from keras_siamese.cli.main import main


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    return err


def test_encode_of_an_empty_file_warns_and_writes_an_empty_matrix(
    tiny_model_folder, tmp_path, capsys
):
    (tmp_path / "empty.txt").write_text("")
    out = tmp_path / "out.npy"
    args = ["encode", str(tiny_model_folder), str(tmp_path / "empty.txt"), "-o", str(out)]
    assert main(args) == 0
    assert "has no text" in capsys.readouterr().err
    assert np.load(out).shape == (0, 16)


def test_search_over_an_empty_file_is_an_error(tiny_model_folder, tmp_path, capsys):
    (tmp_path / "empty.txt").write_text("")
    assert main(["search", str(tiny_model_folder), str(tmp_path / "empty.txt"), "a dog"]) == 2
    assert f"{tmp_path / 'empty.txt'}: no text" in _one_line_error(capsys)


def test_a_query_with_undecodable_bytes_is_a_clear_error(tiny_model_folder, tmp_path, capsys):
    (tmp_path / "corpus.txt").write_text("a dog runs\n")
    query = b"caf\xe9".decode("utf-8", "surrogateescape")  # as Python reads such an argument
    assert main(["search", str(tiny_model_folder), str(tmp_path / "corpus.txt"), query]) == 2
    assert "not valid Unicode: a lone surrogate" in _one_line_error(capsys)


@pytest.mark.parametrize("name", ["embeddings", "embeddings.bin"])
def test_encode_writes_exactly_the_path_given_atomically(tiny_model_folder, tmp_path, name):
    (tmp_path / "in.txt").write_text("a man plays\n")
    out = tmp_path / name
    assert main(["encode", str(tiny_model_folder), str(tmp_path / "in.txt"), "-o", str(out)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["in.txt", name])
    assert np.load(out).shape == (1, 16)


def test_evaluate_on_constant_gold_scores_is_an_error_not_nan(tiny_model_folder, tmp_path, capsys):
    """Correlations with equal gold scores are undefined: the output was `"spearman": NaN`."""
    rows = ["main\tf\t2012\t1\t2.0\ta dog runs\ta dog is running"] * 3
    (tmp_path / "sts.csv").write_text("\n".join(rows) + "\n")
    assert main(["evaluate", "sts", str(tiny_model_folder), str(tmp_path / "sts.csv")]) == 2
    assert "the gold scores need two different values" in _one_line_error(capsys)


def test_out_of_memory_is_one_line_with_advice(tiny_model_folder, tmp_path, capsys, monkeypatch):
    """TensorFlow's ResourceExhaustedError (its message runs over many lines) is one line that
    says what to do, exit status 1, no traceback hint."""
    import tensorflow as tf

    from keras_siamese.encoders import SentenceEncoder

    def exhausted(*args, **kwargs):
        message = "OOM when allocating tensor with shape[64,12,512,512]\nHint: details..."
        raise tf.errors.ResourceExhaustedError(None, None, message)

    monkeypatch.setattr(SentenceEncoder, "encode", exhausted)
    (tmp_path / "in.txt").write_text("a dog\n")
    args = ["encode", str(tiny_model_folder), str(tmp_path / "in.txt"), "-o", str(tmp_path / "o")]
    assert main(args) == 1
    err = _one_line_error(capsys)
    assert "out of memory (OOM when allocating tensor with shape[64,12,512,512])" in err
    assert "smaller --batch-size" in err and "--verbose" not in err
