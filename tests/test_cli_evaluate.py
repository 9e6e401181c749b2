"""``keras-siamese evaluate ir | triplet | binary | paraphrase`` end to end on tiny files with the
tiny random model: one JSON object of metrics, and one-line errors naming the file and line."""

import json

import pytest

from keras_siamese.cli.main import main


def write(path, text: str):
    path.write_text(text.strip() + "\n", encoding="utf-8")
    return str(path)


def run(capsys, *args) -> dict:
    assert main(["evaluate", *map(str, args)]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert len(out.splitlines()) == 1
    return json.loads(out)


def error(capsys, *args) -> str:
    assert main(["evaluate", *map(str, args)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


@pytest.fixture
def ir_files(tmp_path):
    queries = write(tmp_path / "queries.csv", "id,text\nq1,what do cats eat\nq2,where is paris")
    corpus = write(
        tmp_path / "corpus.jsonl",
        '{"id": "d1", "text": "cats eat fish"}\n'
        '{"id": "d2", "text": "paris is in france"}\n'
        '{"id": 3, "text": "a dog runs"}',
    )
    qrels = write(tmp_path / "qrels.tsv", "query_id\tdoc_id\tscore\nq1\td1\t1\nq2\td2\t1\nq2\t3\t0")
    return queries, corpus, qrels


def test_ir_prints_the_evaluators_metrics(tiny_model_folder, ir_files, capsys):
    from keras_siamese.encoders import SentenceEncoder
    from keras_siamese.evaluation import InformationRetrievalEvaluator

    result = run(capsys, "ir", tiny_model_folder, *ir_files, "--score-functions", "cosine", "dot")
    assert result["queries"] == 2 and result["documents"] == 3
    expected = InformationRetrievalEvaluator(
        {"q1": "what do cats eat", "q2": "where is paris"},
        {"d1": "cats eat fish", "d2": "paris is in france", "3": "a dog runs"},
        {"q1": {"d1"}, "q2": {"d2"}},  # the score-0 judgement is left out
        score_functions=("cosine", "dot"),
    )(SentenceEncoder.from_pretrained(tiny_model_folder))
    for key, value in expected.items():
        assert result[key.removeprefix("ir_")] == round(value, 4)
    assert result["cosine_recall@10"] == 1.0 and "dot_ndcg@10" in result


def test_triplet_binary_and_paraphrase(tiny_model_folder, tmp_path, capsys):
    triplets = write(
        tmp_path / "triplets.csv",
        'anchor,positive,negative\na dog runs,"a dog, running",the car is red\n'
        "a man sings,a man is singing,a cat eats",
    )
    result = run(capsys, "triplet", tiny_model_folder, triplets)
    assert result["triplets"] == 2 and result["cosine_accuracy"] in (0.0, 0.5, 1.0)

    pairs = write(
        tmp_path / "pairs.jsonl",
        '{"text_a": "a dog runs", "text_b": "a dog is running", "label": 1}\n'
        '{"text_a": "a man sings", "text_b": "the car is red", "label": "0"}',
    )
    result = run(capsys, "binary", tiny_model_folder, pairs, "--batch-size", "1")
    assert result["pairs"] == 2 and 0 < result["cosine_ap"] <= 1
    assert {"cosine_accuracy", "cosine_f1", "cosine_f1_threshold"} <= set(result)

    sentences = write(
        tmp_path / "sentences.csv",
        "id,text\n1,how old are you\n2,what is your age\n3,where is rome\n4,how tall are you",
    )
    known = write(tmp_path / "known.csv", "id1,id2\n1,2\n2,4")
    result = run(capsys, "paraphrase", tiny_model_folder, sentences, known, "--transitive-closure")
    assert result["sentences"] == 4 and result["paraphrase_pairs"] == 3
    assert set(result) >= {"average_precision", "f1", "precision", "recall", "threshold"}


def test_bad_inputs_are_one_line_naming_file_and_line(
    tiny_model_folder, ir_files, tmp_path, capsys
):
    queries, corpus, qrels = ir_files
    model = tiny_model_folder
    bad = write(tmp_path / "bad_qrels.csv", "query_id,doc_id\nq1,d1\nq1,d9")
    assert error(capsys, "ir", model, queries, corpus, bad) == (
        f"keras-siamese evaluate: error: {bad}: line 3: document 'd9' is not in {corpus}"
    )
    twice = write(tmp_path / "twice.csv", "id,text\nq1,a\nq1,b")
    assert f"{twice}: line 3: id 'q1' repeats line 2" in error(
        capsys, "ir", model, twice, corpus, qrels
    )

    labels = write(tmp_path / "labels.csv", "text_a,text_b,label\na,b,1\nc,d,yes")
    assert f"{labels}: line 3: label 'yes' is not 0 or 1" in error(capsys, "binary", model, labels)
    columns = write(tmp_path / "columns.csv", "anchor,positive\na,b")
    err = error(capsys, "triplet", model, columns)
    assert f"{columns}: line 2: no 'negative' column" in err
    empty = write(tmp_path / "empty.jsonl", '{"anchor": "a", "positive": " ", "negative": "c"}')
    assert f"{empty}: line 1: 'positive' is empty" in error(capsys, "triplet", model, empty)

    sentences = write(tmp_path / "s.csv", "id,text\n1,a\n2,b")
    unknown = write(tmp_path / "p.csv", "id1,id2\n1,2\n1,7")
    err = error(capsys, "paraphrase", model, sentences, unknown)
    assert f"{unknown}: line 3: sentence '7' is not in {sentences}" in err
    text = write(tmp_path / "triplets.txt", "a\tb\tc")
    assert "name a table .csv, .tsv or .jsonl" in error(capsys, "triplet", model, text)
