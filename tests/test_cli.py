"""The keras-siamese command line: encode, evaluate, search; clear errors on bad input."""

import json

import numpy as np
import pytest

from keras_siamese.cli.main import main
from keras_siamese.encoders import SentenceEncoder
from keras_siamese.search import semantic_search

CORPUS = ["a man plays the guitar", "a dog runs in the park", "the cat eats food", "a red car"]


def test_encode_writes_embeddings_in_line_order(tiny_model_folder, tmp_path):
    (tmp_path / "in.txt").write_text("\n".join(CORPUS) + "\n")
    out = tmp_path / "out.npy"
    args = ["encode", str(tiny_model_folder), str(tmp_path / "in.txt"), "-o", str(out)]
    assert main([*args, "--batch-size", "3"]) == 0
    expected = SentenceEncoder.from_pretrained(tiny_model_folder).encode(CORPUS)
    np.testing.assert_allclose(np.load(out), expected, atol=1e-5)


def test_encode_names_a_blank_line(tiny_model_folder, tmp_path, capsys):
    (tmp_path / "in.txt").write_text("one\n\nthree\n")
    args = ["encode", str(tiny_model_folder), str(tmp_path / "in.txt"), "-o", "x.npy"]
    assert main(args) == 2
    assert "line 2 is empty" in capsys.readouterr().err


def test_missing_model_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "in.txt").write_text("one\n")
    args = ["encode", str(tmp_path / "no_model"), str(tmp_path / "in.txt"), "-o", "x.npy"]
    assert main(args) == 2
    assert "does not exist" in capsys.readouterr().err


def test_search_prints_ranked_hits(tiny_model_folder, tmp_path, capsys):
    (tmp_path / "corpus.txt").write_text("\n".join(CORPUS) + "\n")
    args = ["search", str(tiny_model_folder), str(tmp_path / "corpus.txt"), "a red car"]
    assert main([*args, "--top-k", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "query: a red car"
    assert len(lines) == 3 and lines[1].endswith("a red car")  # itself is the nearest


def test_semantic_search_chunks_agree_with_brute_force():
    rng = np.random.default_rng(0)
    queries, corpus = rng.normal(size=(7, 8)), rng.normal(size=(50, 8))
    hits = semantic_search(queries, corpus, top_k=5, query_chunk_size=3, corpus_chunk_size=11)
    scores = (queries / np.linalg.norm(queries, axis=1, keepdims=True)) @ (
        corpus / np.linalg.norm(corpus, axis=1, keepdims=True)
    ).T
    for row, query_hits in zip(scores, hits, strict=True):
        assert [h["corpus_id"] for h in query_hits] == list(np.argsort(-row)[:5])
        np.testing.assert_allclose(
            [h["score"] for h in query_hits], np.sort(row)[::-1][:5], rtol=1e-5
        )


def test_semantic_search_rejects_mismatched_sizes():
    with pytest.raises(ValueError, match="Embedding sizes differ"):
        semantic_search(np.ones((1, 4)), np.ones((3, 5)))
    with pytest.raises(ValueError, match="NaN"):
        semantic_search(np.full((1, 4), np.nan), np.ones((3, 4)))


@pytest.mark.integration
def test_evaluate_sts_prints_spearman_json(minilm_path, shared_data, capsys):
    stsb = shared_data / "stsb" / "sts-dev.csv"
    assert main(["evaluate", "sts", str(minilm_path), str(stsb), "--format", "stsb"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["pairs"] == 1500
    assert result["spearman"] == pytest.approx(86.72, abs=0.01)
    assert 80 < result["pearson"] < 95


@pytest.mark.integration
def test_evaluate_sick_trial(minilm_path, shared_data, capsys):
    sick = shared_data / "sick" / "SICK_train_trial.txt"
    args = ["evaluate", "sts", str(minilm_path), str(sick), "--format", "sick", "--split", "TRIAL"]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["pairs"] == 495 and 70 < result["spearman"] < 90
