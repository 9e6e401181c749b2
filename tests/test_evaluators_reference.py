"""Every evaluator against sentence-transformers' own evaluator on the same fixed embeddings (issue
10): both sides read the embeddings from one table of text -> vector, so any difference is in the
metrics, not in the model."""

from types import SimpleNamespace

import numpy as np
import pytest

from keras_siamese.evaluation import (
    BinaryClassificationEvaluator,
    InformationRetrievalEvaluator,
    LabelAccuracyEvaluator,
    MSEEvaluator,
    ParaphraseMiningEvaluator,
    RerankingEvaluator,
    SequentialEvaluator,
    TranslationEvaluator,
    TripletEvaluator,
)
from keras_siamese.evaluation.paraphrase_mining import mine_pairs, ranking_metrics
from keras_siamese.evaluation.reranking import tie_averaged_ndcg

torch = pytest.importorskip("torch")
evaluation = pytest.importorskip("sentence_transformers.sentence_transformer.evaluation")
pytestmark = pytest.mark.reference


class FixedEncoder:
    """Our side: looks embeddings up by text (the `Encoder` protocol)."""

    def __init__(self, vectors: dict[str, np.ndarray]) -> None:
        self.vectors = vectors

    def encode(self, texts, batch_size=32, normalize=None, show_progress_bar=None):
        return np.stack([self.vectors[text] for text in texts]).astype(np.float32)


class Stub:
    """Their side: just enough of a SentenceTransformer for its evaluators, on the same table."""

    similarity_fn_name = "cosine"
    device = torch.device("cpu")

    def __init__(self, encoder: FixedEncoder) -> None:
        self.encoder = encoder
        self.model_card_data = SimpleNamespace(set_evaluation_metrics=lambda *args: None)

    def encode(self, sentences, convert_to_tensor=False, convert_to_numpy=True, **kwargs):
        embeddings = self.encoder.encode(list(sentences))
        if convert_to_tensor:
            return torch.from_numpy(embeddings)
        return embeddings if convert_to_numpy else list(torch.from_numpy(embeddings))

    encode_query = encode_document = encode

    def similarity(self, a, b):
        from sentence_transformers.util import cos_sim

        return cos_sim(a, b)


def random_encoder(texts, dim=8, seed=0) -> FixedEncoder:
    rng = np.random.default_rng(seed)
    return FixedEncoder({text: rng.normal(size=dim).astype(np.float32) for text in texts})


def same(ours: dict, theirs: dict, abs: float = 1e-6, subset: bool = False) -> None:
    """Our metrics equal theirs, key for key (each of ours, with `subset`)."""
    assert set(ours) <= set(theirs) if subset else set(ours) == set(theirs), (
        sorted(ours),
        sorted(theirs),
    )
    assert ours == pytest.approx({key: theirs[key] for key in ours}, abs=abs)


@pytest.fixture(scope="module")
def retrieval():
    rng = np.random.default_rng(3)
    corpus = {f"d{i:03d}": f"document {i}" for i in range(120)}
    corpus["d120"] = "document 7"  # the text of d007 again: tied scores, ranked by id
    queries = {f"q{i}": f"query {i}" for i in range(25)}
    relevant = {
        f"q{i}": set(rng.choice(list(corpus), size=rng.integers(1, 8), replace=False))
        for i in range(24)
    }
    relevant["q0"].add("not-in-corpus")  # counts in recall, never retrieved
    relevant["q24"] = set()
    encoder = random_encoder([*queries.values(), *corpus.values()], dim=4)
    return queries, corpus, relevant, encoder


@pytest.mark.parametrize("chunk", [7, 50_000])
def test_information_retrieval_cosine_and_dot(retrieval, chunk):
    from sentence_transformers.util import cos_sim, dot_score

    queries, corpus, relevant, encoder = retrieval
    cutoffs = {
        "accuracy_at_k": [1, 3, 5, 10],
        "precision_recall_at_k": [1, 3, 5, 10, 200],
        "mrr_at_k": [1, 10, 200],
        "ndcg_at_k": [5, 10, 200],
        "map_at_k": [3, 100, 200],
    }
    theirs = evaluation.InformationRetrievalEvaluator(
        queries,
        corpus,
        relevant,
        name="ir",
        write_csv=False,
        score_functions={"cosine": cos_sim, "dot": dot_score},
        main_score_function="dot",
        corpus_chunk_size=chunk,
        **cutoffs,
    )
    their_metrics = theirs(Stub(encoder))
    ours = InformationRetrievalEvaluator(
        queries,
        corpus,
        relevant,
        name="ir",
        score_functions=("cosine", "dot"),
        main_score_function="dot",
        corpus_chunk_size=chunk,
        **cutoffs,
    )
    metrics = ours(encoder)
    same(metrics, their_metrics)
    assert list(metrics) == list(their_metrics)  # the same order too
    assert ours.primary_metric == theirs.primary_metric == "ir_dot_ndcg@200"
    assert 0 < metrics["ir_cosine_ndcg@10"] < 1 and metrics["ir_dot_recall@200"] < 1


def test_information_retrieval_chunks_and_ties_do_not_change_the_ranking():
    """Ten documents of one text tie for every query: ranked by id whatever the chunk size."""
    texts = {f"d{i}": "same" for i in range(10)} | {"x": "other"}
    encoder = random_encoder(["q", "same", "other"])
    relevant = {"q": {"d3", "d7"}}
    results = [
        InformationRetrievalEvaluator(
            {"q": "q"}, texts, relevant, corpus_chunk_size=chunk, ndcg_at_k=(3,), map_at_k=(4,)
        )(encoder)
        for chunk in (1, 3, 4, 100)
    ]
    assert all(result == results[0] for result in results)
    theirs = evaluation.InformationRetrievalEvaluator(
        {"q": "q"}, texts, relevant, write_csv=False, ndcg_at_k=[3], map_at_k=[4], name="ir"
    )(Stub(encoder))
    same(results[0], theirs)


def test_information_retrieval_arguments_are_checked(retrieval):
    queries, corpus, relevant, _ = retrieval
    with pytest.raises(ValueError, match="unknown score function"):
        InformationRetrievalEvaluator(queries, corpus, relevant, score_functions=("cos",))
    with pytest.raises(ValueError, match="not one of the score functions"):
        InformationRetrievalEvaluator(queries, corpus, relevant, main_score_function="dot")
    custom = InformationRetrievalEvaluator(
        queries, corpus, relevant, score_functions={"neg_l1": lambda a, b: -np.abs(a @ b.T)}
    )
    assert custom.primary_metric == "ir_neg_l1_ndcg@10"


@pytest.mark.parametrize(
    ("top_k", "max_pairs", "closure"), [(100, 500_000, False), (3, 25, False), (5, 500, True)]
)
def test_paraphrase_mining(top_k, max_pairs, closure):
    rng = np.random.default_rng(4)
    sentences = {f"s{i}": f"sentence {i}" for i in range(60)}
    sentences["s60"] = "sentence 1"  # a text twice: its two ids are each other's best match
    pairs = [(f"s{a}", f"s{b}") for a, b in rng.integers(0, 61, size=(25, 2)) if a != b]
    pairs += [("s1", "s60"), ("s2", "unknown")]
    encoder = random_encoder(list(dict.fromkeys(sentences.values())))
    theirs = evaluation.ParaphraseMiningEvaluator(
        sentences,
        pairs,
        add_transitive_closure=closure,
        top_k=top_k,
        max_pairs=max_pairs,
        name="pm",
        write_csv=False,
    )(Stub(encoder))
    ours = ParaphraseMiningEvaluator(
        sentences,
        pairs,
        name="pm",
        add_transitive_closure=closure,
        top_k=top_k,
        max_pairs=max_pairs,
        chunk_size=16,
    )
    same(ours(encoder), theirs)
    assert ours.primary_metric == "pm_average_precision"
    assert 0 < theirs["pm_average_precision"] < 1


def test_mined_pairs_equal_sentence_transformers():
    from sentence_transformers.util import paraphrase_mining_embeddings

    embeddings = np.random.default_rng(5).normal(size=(50, 6)).astype(np.float32)
    expected = paraphrase_mining_embeddings(torch.from_numpy(embeddings), top_k=4, max_pairs=70)
    scores, first, second = mine_pairs(embeddings, top_k=4, max_pairs=70, chunk_size=9)
    assert [(i, j) for _, i, j in expected] == list(
        zip(first.tolist(), second.tolist(), strict=True)
    )
    assert scores == pytest.approx([score for score, _, _ in expected], abs=1e-6)


def test_paraphrase_ranking_ties_act_as_one():
    scores = np.array([0.9, 0.7, 0.7, 0.2])
    metrics = ranking_metrics(scores, np.array([0, 1, 0, 1]), total=2)
    # The two pairs at 0.7 are called together: precision 1/3 at recall 1/2, then 2/4 at 1.
    assert metrics["average_precision"] == pytest.approx((1 / 3 + 2 / 4) / 2)
    assert metrics["f1"] == pytest.approx(2 / 3) and metrics["threshold"] == pytest.approx(0.2)


def reranking_samples(rng):
    samples = []
    for i in range(20):
        positives = [f"doc {i} {j}" for j in range(rng.integers(1, 4))]
        negatives = [f"doc {i} {j}" for j in range(3, 3 + rng.integers(1, 15))]
        samples.append({"query": f"query {i}", "positive": positives, "negative": negatives})
    # (No text on both sides of a sample: float32 noise decides their ties; see tie_averaged_ndcg.)
    samples[1]["positive"] = samples[1]["positive"][0]  # one text, not a list
    samples.append({"query": "query x", "positive": [], "negative": ["doc 0 3"]})  # left out
    return samples


@pytest.mark.parametrize("at_k", [1, 3, 10])
def test_reranking(at_k):
    samples = reranking_samples(np.random.default_rng(6))
    texts = {s["query"] for s in samples} | {
        t for s in samples for key in ("positive", "negative") for t in np.atleast_1d(s[key])
    }
    encoder = random_encoder(sorted(texts))
    theirs = evaluation.RerankingEvaluator(samples, at_k=at_k, name="rr", write_csv=False)(
        Stub(encoder)
    )
    ours = RerankingEvaluator(samples, name="rr", at_k=at_k)
    same(ours(encoder), theirs)
    assert ours.primary_metric == f"rr_ndcg@{at_k}"


def test_tie_averaged_ndcg_equals_scikit_learn():
    from sklearn.metrics import ndcg_score

    rng = np.random.default_rng(7)
    for _ in range(50):
        size = int(rng.integers(2, 12))
        scores = rng.integers(0, 4, size).astype(float)  # many ties
        relevant = rng.random(size) < 0.4
        relevant[0] = True
        k = int(rng.integers(1, 14))
        expected = ndcg_score([relevant.astype(int)], [scores], k=k)
        assert tie_averaged_ndcg(scores, relevant, k) == pytest.approx(expected)


def test_mse_with_a_teacher_encoder_or_precomputed_embeddings():
    sources = [f"english {i}" for i in range(30)]
    targets = [f"german {i}" for i in range(30)]
    teacher = random_encoder(sources, seed=1)
    student = random_encoder(sources + targets, seed=2)
    for target_sentences in (None, targets):
        theirs = evaluation.MSEEvaluator(
            sources,
            sources if target_sentences is None else targets,
            teacher_model=Stub(teacher),
            name="mse",
        )(Stub(student))
        ours = MSEEvaluator(sources, target_sentences, teacher=teacher, name="mse")(student)
        same(ours, theirs, abs=1e-3)  # x100 figures near 200, theirs summed in float32
        given = teacher.encode(sources)
        ours = MSEEvaluator(sources, target_sentences, teacher_embeddings=given, name="mse")
        same(ours(student), theirs, abs=1e-3)
    with pytest.raises(ValueError, match="either a teacher encoder or teacher_embeddings"):
        MSEEvaluator(sources)
    with pytest.raises(ValueError, match="dimensions must match"):
        MSEEvaluator(sources, teacher=teacher)(random_encoder(sources, dim=3))


def test_translation():
    sources = [f"source {i}" for i in range(40)]
    targets = [f"target {i}" for i in range(40)]
    targets[5] = targets[6]  # one target twice: either copy counts as found
    rng = np.random.default_rng(8)
    vectors = {text: rng.normal(size=6).astype(np.float32) for text in sources}
    for i, text in enumerate(dict.fromkeys(targets)):  # near their sources, some close enough
        vectors[text] = vectors[sources[i]] + rng.normal(scale=0.8, size=6).astype(np.float32)
    encoder = FixedEncoder(vectors)
    theirs = evaluation.TranslationEvaluator(sources, targets, name="tr")(Stub(encoder))
    ours = TranslationEvaluator(sources, targets, name="tr")
    metrics = ours(encoder)
    same(metrics, theirs)
    assert 0 < metrics["tr_src2trg_accuracy"] < 1 and ours.primary_metric == "tr_mean_accuracy"


class PairsStub(torch.nn.Module):
    """Their LabelAccuracyEvaluator's model: batches of pair indices in, embeddings out."""

    def __init__(self, first: np.ndarray, second: np.ndarray) -> None:
        super().__init__()
        self.columns = [torch.from_numpy(first), torch.from_numpy(second)]
        self.model_card_data = SimpleNamespace(set_evaluation_metrics=lambda *args: None)
        self.device = torch.device("cpu")

    def smart_batching_collate(self, batch):
        rows = torch.tensor([row for row, _ in batch])
        labels = torch.tensor([label for _, label in batch])
        return [{"rows": rows, "column": 0}, {"rows": rows, "column": 1}], labels

    def forward(self, features):
        return {"sentence_embedding": self.columns[features["column"]][features["rows"]]}


def test_label_accuracy_with_a_keras_dense_head():
    import keras
    from sentence_transformers.sentence_transformer.losses import SoftmaxLoss
    from torch.utils.data import DataLoader

    rng = np.random.default_rng(9)
    first = [f"premise {i}" for i in range(64)]
    second = [f"hypothesis {i}" for i in range(64)]
    labels = rng.integers(0, 3, 64)
    encoder = random_encoder(first + second, dim=5)

    stub = PairsStub(encoder.encode(first), encoder.encode(second))
    softmax = SoftmaxLoss(stub, 5, num_labels=3)
    dataloader = DataLoader(list(zip(range(64), labels.tolist(), strict=True)), batch_size=10)
    theirs = evaluation.LabelAccuracyEvaluator(
        dataloader, name="nli", softmax_model=softmax, write_csv=False
    )(stub)

    head = keras.layers.Dense(3)
    head.build((None, 15))
    weight = softmax.classifier.weight.detach().numpy()
    bias = softmax.classifier.bias.detach().numpy()
    head.set_weights([weight.T, bias])
    ours = LabelAccuracyEvaluator(first, second, labels, classifier=head, name="nli")
    same(ours(encoder), theirs)
    assert 0 < theirs["nli_accuracy"] < 1
    as_function = LabelAccuracyEvaluator(
        first, second, labels, classifier=lambda x: x @ weight.T + bias, name="nli"
    )
    assert as_function(encoder)["nli_accuracy"] == pytest.approx(theirs["nli_accuracy"])
    with pytest.raises(ValueError, match="class ids"):
        LabelAccuracyEvaluator(first[:2], second[:2], [0.5, 1.0], classifier=head)


def test_sequential_combines_primary_metrics(retrieval):
    queries, corpus, relevant, encoder = retrieval
    texts = [f"query {i}" for i in range(20)]
    labels = [1, 0] * 5
    for combine in (None, lambda scores: sum(scores) / len(scores)):
        extra = {} if combine is None else {"main_score_function": combine}
        theirs = evaluation.SequentialEvaluator(
            [
                evaluation.BinaryClassificationEvaluator(
                    texts[:10], texts[10:], labels, similarity_fn_names=["cosine"], name="b"
                ),
                evaluation.InformationRetrievalEvaluator(
                    queries, corpus, relevant, name="ir", write_csv=False
                ),
                evaluation.TripletEvaluator(
                    texts[:10], texts[10:], texts[::-1][:10], similarity_fn_names=["cosine"]
                ),
            ],
            **extra,
        )(Stub(encoder))
        ours = SequentialEvaluator(
            [
                BinaryClassificationEvaluator(texts[:10], texts[10:], labels, name="b"),
                InformationRetrievalEvaluator(queries, corpus, relevant, name="ir"),
                TripletEvaluator(texts[:10], texts[10:], texts[::-1][:10], name="t"),
            ],
            **extra,
        )
        metrics = ours(encoder)
        # Their unnamed triplet evaluator's keys lack the "t_" prefix.
        theirs = {
            ("t_" + k if k.startswith("cosine_accuracy") else k): v for k, v in theirs.items()
        }
        same(metrics, theirs, subset=True)
        assert ours.primary_metric == "sequential_score" and metrics["sequential_score"] > 0


def test_binary_and_triplet_still_equal_sentence_transformers():
    first = [f"a {i}" for i in range(40)]
    second = [f"b {i}" for i in range(40)]
    encoder = random_encoder(first + second)
    labels = np.random.default_rng(11).integers(0, 2, 40)
    theirs = evaluation.BinaryClassificationEvaluator(
        first, second, labels.tolist(), similarity_fn_names=["cosine"], name="b"
    )(Stub(encoder))
    ours = BinaryClassificationEvaluator(first, second, labels, name="b")(encoder)
    same(ours, theirs, subset=True)
    theirs = evaluation.TripletEvaluator(
        first, second, second[::-1], similarity_fn_names=["cosine"], name="t"
    )(Stub(encoder))
    same(TripletEvaluator(first, second, second[::-1], name="t")(encoder), theirs)
