"""Evaluator metrics on fixed embeddings, against direct computations and sentence-transformers."""

import itertools
import math
from types import SimpleNamespace

import numpy as np
import pytest
from scipy.stats import pearsonr, spearmanr

from keras_siamese.data import Examples
from keras_siamese.evaluation import (
    BinaryClassificationEvaluator,
    InformationRetrievalEvaluator,
    STSEvaluator,
    TripletEvaluator,
)
from keras_siamese.evaluation.binary_classification import average_precision, best_accuracy, best_f1


class FixedEncoder:
    """Looks embeddings up by text, and records the texts of each call."""

    def __init__(self, vectors: dict[str, np.ndarray]) -> None:
        self.vectors = vectors
        self.calls: list[tuple[list[str], int]] = []

    def encode(self, texts, batch_size=32, normalize=None, show_progress_bar=None):
        self.calls.append((list(texts), batch_size))
        return np.stack([self.vectors[text] for text in texts]).astype(np.float32)


def random_encoder(texts, dim=6, seed=0) -> FixedEncoder:
    rng = np.random.default_rng(seed)
    return FixedEncoder({text: rng.normal(size=dim).astype(np.float32) for text in texts})


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b))


@pytest.fixture
def pairs():
    rng = np.random.default_rng(1)
    first = [f"first {i}" for i in range(30)]
    second = [f"second {i}" for i in range(29)] + ["first 0"]  # a text in both columns
    encoder = random_encoder(first + second[:-1])
    return first, second, rng.uniform(0, 5, 30), encoder


def test_sts_correlations_times_100(pairs):
    first, second, scores, encoder = pairs
    evaluator = STSEvaluator(first, second, scores, name="sts_dev", batch_size=7)
    metrics = evaluator(encoder)
    a = np.stack([encoder.vectors[t] for t in first])
    b = np.stack([encoder.vectors[t] for t in second])
    predicted = {
        "cosine": [cosine(x, y) for x, y in zip(a, b, strict=True)],
        "euclidean": -np.linalg.norm(a - b, axis=1),
        "manhattan": -np.abs(a - b).sum(axis=1),
        "dot": (a * b).sum(axis=1),
    }
    assert len(metrics) == 8
    for name, values in predicted.items():
        spearman = metrics[f"sts_dev_spearman_{name}"]
        assert spearman == pytest.approx(100 * spearmanr(scores, values).statistic, abs=1e-4)
        pearson = metrics[f"sts_dev_pearson_{name}"]
        assert pearson == pytest.approx(100 * pearsonr(scores, values).statistic, abs=1e-4)
    assert evaluator.primary_metric == "sts_dev_spearman_cosine"
    assert encoder.calls == [(list(dict.fromkeys(first + second)), 7)]  # each text once


def brute_force_binary(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float, float]:
    """Best accuracy and F1 over every threshold `score >= t`, and average precision."""
    accuracy, f1 = 0.0, 0.0
    for threshold in [*scores, np.inf]:
        predicted = scores >= threshold
        accuracy = max(accuracy, np.mean(predicted == labels))
        true_positives = np.sum(predicted & (labels == 1))
        f1 = max(f1, 2 * true_positives / (predicted.sum() + labels.sum()))
    ranks = np.argsort(-scores)
    hits = labels[ranks] == 1
    ap = np.mean((np.cumsum(hits) / np.arange(1, len(hits) + 1))[hits])
    return accuracy, f1, ap


def test_binary_metrics_match_brute_force(pairs):
    first, second, _, encoder = pairs
    labels = np.array([1, 0] * 15)
    metrics = BinaryClassificationEvaluator(first, second, labels, name="nli")(encoder)
    scores = np.array(
        [cosine(encoder.vectors[a], encoder.vectors[b]) for a, b in zip(first, second, strict=True)]
    )
    accuracy, f1, ap = brute_force_binary(scores, labels)
    assert metrics["nli_cosine_accuracy"] == pytest.approx(accuracy)
    assert metrics["nli_cosine_f1"] == pytest.approx(f1)
    assert metrics["nli_cosine_ap"] == pytest.approx(ap)
    predicted = scores >= metrics["nli_cosine_accuracy_threshold"] - 1e-6  # float32 scores
    assert np.mean(predicted == labels) == pytest.approx(accuracy)
    predicted = scores >= metrics["nli_cosine_f1_threshold"] - 1e-6
    true_positives = np.sum(predicted & (labels == 1))
    assert metrics["nli_cosine_precision"] == pytest.approx(true_positives / predicted.sum())
    assert metrics["nli_cosine_recall"] == pytest.approx(true_positives / labels.sum())


def test_binary_thresholds_with_ties():
    scores = np.array([0.9, 0.7, 0.7, 0.7, 0.2], np.float32)
    assert best_accuracy(scores, np.array([1, 1, 0, 1, 0])) == pytest.approx((0.8, 0.45))
    assert best_accuracy(scores, np.array([0, 0, 0, 0, 1]))[0] == 0.8  # all negative: above the top
    assert best_accuracy(scores, np.array([0, 0, 0, 0, 1]))[1] > 0.9
    assert best_f1(scores, np.array([0, 1, 0, 1, 1])) == pytest.approx((0.75, 0.6, 1.0, 0.2))
    # Ties count as one step: precision 2/4 at recall 1, after 1/1 at recall 1/2.
    assert average_precision(scores, np.array([1, 0, 1, 0, 0])) == pytest.approx(
        0.5 * 1 + 0.5 * 0.5
    )


@pytest.mark.parametrize(
    ("labels", "message"),
    [([0, 2], "the integers 0 and 1"), ([0.0, 1.0], "the integers 0 and 1"), ([0, 0], "positive")],
)
def test_binary_labels_are_checked(labels, message):
    with pytest.raises(ValueError, match=message):
        BinaryClassificationEvaluator(["a", "b"], ["c", "d"], labels)


def test_triplet_accuracy():
    encoder = FixedEncoder(
        {
            "anchor": np.array([1.0, 0.0]),
            "near": np.array([2.0, 0.1]),  # cosine ~1, though far in euclidean distance
            "far": np.array([0.1, 1.0]),
        }
    )
    triplets = Examples(
        {
            "anchor": ["anchor"] * 3,
            "positive": ["near", "far", "near"],
            "negative": ["far", "near", "near"],
        }
    )
    metrics = TripletEvaluator.from_examples(triplets, name="nli")(encoder)
    assert metrics == {"nli_cosine_accuracy": pytest.approx(1 / 3)}
    with pytest.raises(ValueError, match=r"lack role\(s\) \['negative'\]"):
        TripletEvaluator.from_examples(Examples({"anchor": ["a"], "positive": ["b"]}))


@pytest.fixture
def retrieval():
    rng = np.random.default_rng(2)
    corpus = {f"d{i:02d}": f"document {i}" for i in range(40)}
    corpus["d40"] = "document 3"  # the same text as d03: tied scores, ranked by id
    queries = {f"q{i}": f"query {i}" for i in range(12)}
    relevant = {
        f"q{i}": set(rng.choice(list(corpus), size=rng.integers(1, 5), replace=False))
        for i in range(11)
    }
    relevant["q11"] = set()  # left out, like a query missing from relevant_docs
    encoder = random_encoder(list(queries.values()) + list(corpus.values())[:40], dim=3)
    return queries, corpus, relevant, encoder


def direct_retrieval_metrics(queries, corpus, relevant, encoder) -> dict[str, float]:
    """The definitions of sentence-transformers' InformationRetrievalEvaluator, query by query."""
    per_query = []
    for query_id, query in queries.items():
        if not relevant.get(query_id):
            continue
        vector = encoder.vectors[query]
        ranking = sorted(
            corpus, key=lambda doc: (-cosine(vector, encoder.vectors[corpus[doc]]), doc)
        )
        hits = [doc in relevant[query_id] for doc in ranking]
        count = len(relevant[query_id])
        values = {}
        for k in (1, 3, 5, 10):
            values[f"accuracy@{k}"] = float(any(hits[:k]))
            values[f"precision@{k}"] = sum(hits[:k]) / k
            values[f"recall@{k}"] = sum(hits[:k]) / count
        dcg = sum(hit / math.log2(rank + 2) for rank, hit in enumerate(hits[:10]))
        values["ndcg@10"] = dcg / sum(1 / math.log2(rank + 2) for rank in range(min(count, 10)))
        values["mrr@10"] = next((1 / (rank + 1) for rank, hit in enumerate(hits[:10]) if hit), 0.0)
        found = itertools.accumulate(hits[:100])
        precisions = [
            found_so_far / (rank + 1)
            for rank, (found_so_far, hit) in enumerate(zip(found, hits, strict=False))
            if hit
        ]
        values["map@100"] = sum(precisions) / min(100, count)
        per_query.append(values)
    return {
        f"cosine_{key}": float(np.mean([values[key] for values in per_query]))
        for key in per_query[0]
    }


def test_information_retrieval_metrics(retrieval):
    queries, corpus, relevant, encoder = retrieval
    evaluator = InformationRetrievalEvaluator(queries, corpus, relevant, name="ir")
    metrics = evaluator(encoder)
    expected = direct_retrieval_metrics(queries, corpus, relevant, encoder)
    assert metrics == pytest.approx({f"ir_{key}": value for key, value in expected.items()})
    assert evaluator.primary_metric == "ir_cosine_ndcg@10"
    assert 0 < metrics["ir_cosine_ndcg@10"] < 1


def test_information_retrieval_ties_rank_by_document_id():
    encoder = FixedEncoder(
        {"query": np.array([1.0, 0.0]), "same": np.array([1.0, 0.1]), "other": np.array([0.0, 1.0])}
    )
    corpus = {"d9": "same", "d1": "same", "x": "other", "d5": "same"}
    evaluator = InformationRetrievalEvaluator(
        {"q": "query"},
        corpus,
        {"q": {"d5"}},
        accuracy_at_k=(1,),
        precision_recall_at_k=(1,),
        mrr_at_k=(1, 2),
        ndcg_at_k=(2,),
        map_at_k=(2,),
    )
    assert evaluator(encoder) == pytest.approx(
        {
            "ir_cosine_accuracy@1": 0.0,  # d1 ranks first, then d5
            "ir_cosine_precision@1": 0.0,
            "ir_cosine_recall@1": 0.0,
            "ir_cosine_ndcg@2": 1 / math.log2(3),
            "ir_cosine_mrr@1": 0.0,
            "ir_cosine_mrr@2": 0.5,
            "ir_cosine_map@2": 0.5,
        }
    )


def test_information_retrieval_small_corpus_and_no_queries():
    encoder = random_encoder(["q", "a", "b"])
    evaluator = InformationRetrievalEvaluator(
        {"q": "q"}, {"a": "a", "b": "b"}, {"q": {"b"}}, ndcg_at_k=(1, 5)
    )
    metrics = evaluator(encoder)
    assert metrics["ir_cosine_recall@10"] == 1.0
    assert metrics["ir_cosine_precision@10"] == 0.1
    assert evaluator.primary_metric == "ir_cosine_ndcg@5"
    with pytest.raises(ValueError, match="no query has relevant documents"):
        InformationRetrievalEvaluator({"q": "q"}, {"a": "a"}, {"other": {"a"}})


class SentenceTransformerStub:
    """Just enough of a SentenceTransformer for its evaluators, over fixed embeddings."""

    similarity_fn_name = "cosine"

    def __init__(self, encoder: FixedEncoder) -> None:
        self.encoder = encoder
        self.model_card_data = SimpleNamespace(set_evaluation_metrics=lambda *args: None)

    def encode(self, sentences, convert_to_tensor=False, **kwargs):
        import torch

        embeddings = self.encoder.encode(list(sentences))
        return torch.from_numpy(embeddings) if convert_to_tensor else embeddings

    encode_query = encode_document = encode

    def similarity(self, a, b):
        from sentence_transformers.util import cos_sim

        return cos_sim(a, b)


@pytest.mark.reference
def test_same_metrics_as_sentence_transformers(pairs, retrieval):
    evaluation = pytest.importorskip("sentence_transformers.sentence_transformer.evaluation")
    first, second, scores, encoder = pairs
    stub = SentenceTransformerStub(encoder)
    labels = [1, 0, 0] * 10
    similarities = ["cosine", "euclidean", "manhattan", "dot"]

    theirs = evaluation.EmbeddingSimilarityEvaluator(
        first, second, scores, similarity_fn_names=similarities, name="sts"
    )(stub)
    ours = STSEvaluator(first, second, scores, name="sts")(encoder)
    assert ours == pytest.approx({key: 100 * theirs[key] for key in ours}, abs=1e-4)

    theirs = evaluation.BinaryClassificationEvaluator(
        first, second, labels, similarity_fn_names=["cosine"], name="b"
    )(stub)
    ours = BinaryClassificationEvaluator(first, second, labels, name="b")(encoder)
    assert ours == pytest.approx({key: theirs[key] for key in ours}, abs=1e-6)

    theirs = evaluation.TripletEvaluator(
        first, second, second[::-1], similarity_fn_names=["cosine"], name="t"
    )(stub)
    ours = TripletEvaluator(first, second, second[::-1], name="t")(encoder)
    assert ours == pytest.approx({key: theirs[key] for key in ours})

    queries, corpus, relevant, encoder = retrieval
    theirs = evaluation.InformationRetrievalEvaluator(
        queries, corpus, relevant, name="ir", write_csv=False
    )(SentenceTransformerStub(encoder))
    ours = InformationRetrievalEvaluator(queries, corpus, relevant, name="ir")(encoder)
    assert ours == pytest.approx({key: theirs[key] for key in ours})
