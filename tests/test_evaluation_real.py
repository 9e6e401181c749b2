"""The pipeline and evaluators on SICK TRIAL with the real all-MiniLM-L6-v2."""

import numpy as np
import pytest
from test_evaluation_metrics import FixedEncoder, SentenceTransformerStub

from keras_siamese.data import make_dataset, read_sick, sick_binary_pairs, sick_triplets
from keras_siamese.evaluation import (
    BinaryClassificationEvaluator,
    InformationRetrievalEvaluator,
    STSEvaluator,
    TripletEvaluator,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def sick_trial(shared_data):
    return read_sick(shared_data / "sick" / "SICK_train_trial.txt", "TRIAL", label="entailment")


def test_pipeline_tokenises_like_the_encoder(minilm, sick_trial):
    pairs = sick_binary_pairs(sick_trial)
    dataset = make_dataset(pairs, minilm.in_graph_tokenizer(), 16, shuffle=False)
    features, labels = next(iter(dataset))
    expected = minilm.tokenizer(pairs.columns["text_b"][:16])
    np.testing.assert_array_equal(features["text_b_input_ids"], expected["input_ids"])
    np.testing.assert_array_equal(features["text_b_attention_mask"], expected["attention_mask"])
    np.testing.assert_array_equal(labels, pairs.labels[:16])


def retrieval_task(nli):
    """Queries: the first sentences; relevant documents: the second sentences they entail."""
    corpus = {f"d{i}": text for i, text in enumerate(dict.fromkeys(nli.columns["text_b"]))}
    queries = {f"q{i}": text for i, text in enumerate(dict.fromkeys(nli.columns["text_a"]))}
    document_ids = {text: key for key, text in corpus.items()}
    query_ids = {text: key for key, text in queries.items()}
    relevant: dict[str, set[str]] = {}
    for query, document, label in zip(*nli.columns.values(), nli.labels, strict=True):
        if label == "ENTAILMENT":
            relevant.setdefault(query_ids[query], set()).add(document_ids[document])
    return queries, corpus, relevant


@pytest.mark.reference
def test_evaluators_match_sentence_transformers(reference_minilm, sick_trial):
    evaluation = pytest.importorskip("sentence_transformers.sentence_transformer.evaluation")
    texts = list(dict.fromkeys(sick_trial.columns["text_a"] + sick_trial.columns["text_b"]))
    encoder = FixedEncoder(
        dict(zip(texts, reference_minilm.encode(texts, batch_size=64), strict=True))
    )
    stub = SentenceTransformerStub(encoder)
    first, second = sick_trial.columns.values()
    relatedness = np.arange(len(first)) % 5  # any scores will do: the texts are real
    binary = sick_binary_pairs(sick_trial)
    triplets = sick_triplets(sick_trial, both_directions=True)
    queries, corpus, relevant = retrieval_task(sick_trial)
    similarities = ["cosine", "euclidean", "manhattan", "dot"]
    comparisons = [
        (
            STSEvaluator(first, second, relatedness, name="x"),
            evaluation.EmbeddingSimilarityEvaluator(
                first, second, relatedness, similarity_fn_names=similarities, name="x"
            ),
            100,
        ),
        (
            BinaryClassificationEvaluator.from_examples(binary, name="x"),
            evaluation.BinaryClassificationEvaluator(
                *binary.columns.values(), binary.labels.tolist(), name="x"
            ),
            1,
        ),
        (
            TripletEvaluator.from_examples(triplets, name="x"),
            evaluation.TripletEvaluator(*triplets.columns.values(), name="x"),
            1,
        ),
        (
            InformationRetrievalEvaluator(queries, corpus, relevant, name="x"),
            evaluation.InformationRetrievalEvaluator(
                queries, corpus, relevant, name="x", write_csv=False
            ),
            1,
        ),
    ]
    for ours, theirs, scale in comparisons:
        our_metrics, their_metrics = ours(encoder), theirs(stub)
        assert our_metrics == pytest.approx(
            {key: scale * their_metrics[key] for key in our_metrics}, abs=1e-4
        )
