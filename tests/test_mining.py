"""Hard-negative mining equals sentence-transformers' ``mine_hard_negatives`` on the same
embeddings: the same negatives for ``sampling_strategy="top"``, negatives from the same candidates
in the same numbers for ``"random"``; chunked search equals one pass (issue 10)."""

import numpy as np
import pytest

from keras_siamese.data import from_lists, read_sick
from keras_siamese.mining import mine_hard_negatives

DIM = 12


class StubModel:
    """Precomputed unit vectors by text: the encoder for ours, and for sentence-transformers the
    part of a ``SentenceTransformer`` that ``mine_hard_negatives`` uses."""

    device = "cpu"

    def __init__(self, vectors: dict[str, np.ndarray]) -> None:
        self.vectors = vectors
        self.encoded: list[str] = []

    def encode_query(self, texts, **kwargs) -> np.ndarray:
        self.encoded += list(texts)
        return np.stack([self.vectors[text] for text in texts]).astype(np.float32)

    encode_document = encode_query

    def similarity(self, a, b):
        from sentence_transformers.util import cos_sim

        return cos_sim(a, b)

    def similarity_pairwise(self, a, b):
        from sentence_transformers.util import pairwise_cos_sim

        return pairwise_cos_sim(a, b)


def _unit(vector: np.ndarray) -> np.ndarray:
    return (vector / np.linalg.norm(vector)).astype(np.float32)


@pytest.fixture(scope="module")
def data():
    """16 anchors over 22 rows (some anchors have 2-3 positives, one positive is shared), a
    corpus of 40 texts, half of them near an anchor (hard negatives)."""
    rng = np.random.default_rng(7)
    vectors: dict[str, np.ndarray] = {}
    centres = rng.normal(size=(16, DIM))
    anchors, positives = [], []
    for i, centre in enumerate(centres):
        vectors[f"anchor {i}"] = _unit(centre)
        for j in range(1 + (i % 5 == 0) + (i % 7 == 0)):
            vectors[f"positive {i}.{j}"] = _unit(centre + rng.normal(scale=0.6, size=DIM))
            anchors.append(f"anchor {i}")
            positives.append(f"positive {i}.{j}")
    anchors.append("anchor 3")  # a duplicate row, and a positive shared by two anchors
    positives.append("positive 3.0")
    anchors.append("anchor 4")
    positives.append("positive 3.0")
    corpus = []
    for k in range(40):
        near = centres[k % 16] + rng.normal(scale=0.9, size=DIM) if k < 20 else None
        vectors[f"doc {k}"] = _unit(near if near is not None else rng.normal(size=DIM))
        corpus.append(f"doc {k}")
    corpus.append("positive 1.0")  # a positive in the corpus too
    return StubModel(vectors), from_lists(anchor=anchors, positive=positives), corpus


def _reference(model, pairs, corpus, **options):
    datasets = pytest.importorskip("datasets", reason="the reference needs `datasets` (bench)")
    from sentence_transformers.util import mine_hard_negatives as reference

    dataset = datasets.Dataset.from_dict(pairs.columns)
    return reference(dataset, model, corpus=corpus, verbose=False, **options)


def _as_ours(output, output_format: str) -> dict[str, list]:
    """sentence-transformers' output in our roles: labelled pairs as text_a, text_b, labels."""
    columns = {name: list(output[name]) for name in output.column_names}
    if output_format == "labeled-pair":
        return {
            "text_a": columns["anchor"],
            "text_b": columns["positive"],
            "labels": columns["label"],
        }
    return columns


def _columns(examples) -> dict[str, list]:
    columns = dict(examples.columns)
    if examples.labels is not None:
        columns["labels"] = examples.labels.tolist()
    return columns


OPTIONS = {
    "defaults": {},
    "range": {"range_min": 2, "range_max": 9, "num_negatives": 2},
    "absolute_margin": {"absolute_margin": 0.05, "num_negatives": 4},
    "relative_margin": {"relative_margin": 0.2},
    "max_score": {"max_score": 0.3, "range_max": 12},
    "min_score": {"min_score": 0.15, "num_negatives": 5},
    "everything": {"range_min": 1, "range_max": 20, "absolute_margin": 0.0, "max_score": 0.6},
}


@pytest.mark.parametrize("output_format", ["triplet", "n-tuple", "labeled-pair"])
@pytest.mark.parametrize("name", OPTIONS)
@pytest.mark.parametrize("with_corpus", [True, False], ids=["corpus", "positives"])
def test_top_negatives_equal_sentence_transformers(data, name, output_format, with_corpus):
    model, pairs, corpus = data
    corpus = corpus if with_corpus else None
    options = {**OPTIONS[name], "output_format": output_format}
    expected = _as_ours(_reference(model, pairs, corpus, **options), output_format)
    try:
        ours = _columns(mine_hard_negatives(model, pairs, corpus, **options))
    except ValueError as error:  # nothing to output: theirs is empty
        assert "no anchor got all" in str(error) or "no negatives" in str(error)
        assert not expected["anchor" if "anchor" in expected else "text_a"]
        return
    assert ours == expected


@pytest.mark.parametrize("name", ["defaults", "range", "absolute_margin", "max_score"])
def test_random_negatives_come_from_the_same_candidates(data, name):
    """The candidates: sentence-transformers' "top" with as many negatives as the window holds.
    Each anchor gets min(num_negatives, candidates) of them, as many as it gets from theirs."""
    model, pairs, corpus = data
    options = dict(OPTIONS[name])
    num_negatives = options.pop("num_negatives", 3)
    range_min = options.get("range_min", 0)
    range_max = options.pop("range_max", range_min + num_negatives * 10 + 3)
    window = {"range_max": range_max, **options}
    candidates = _by_anchor(
        _reference(model, pairs, corpus, num_negatives=range_max - range_min, **window)
    )
    random = {"num_negatives": num_negatives, "sampling_strategy": "random", **window}
    theirs = _by_anchor(_reference(model, pairs, corpus, **random))
    ours = mine_hard_negatives(model, pairs, corpus, seed=3, **random)
    assert _columns(ours) == _columns(mine_hard_negatives(model, pairs, corpus, seed=3, **random))
    ours_by_anchor = _by_anchor(ours.columns)
    assert {a: len(n) for a, n in ours_by_anchor.items()} == {a: len(n) for a, n in theirs.items()}
    for anchor, negatives in ours_by_anchor.items():
        assert len(set(negatives)) == len(negatives)
        assert set(negatives) <= set(candidates[anchor])
        assert len(negatives) == min(num_negatives, len(candidates[anchor]))
    other_seed = mine_hard_negatives(model, pairs, corpus, seed=4, **random)
    assert _columns(other_seed) != _columns(ours)


def _by_anchor(columns) -> dict[str, list[str]]:
    """The distinct negatives of each anchor, in order (triplet rows repeat them per positive)."""
    found: dict[str, dict[str, None]] = {}
    for anchor, negative in zip(columns["anchor"], columns["negative"], strict=True):
        found.setdefault(anchor, {})[negative] = None
    return {anchor: list(negatives) for anchor, negatives in found.items()}


@pytest.mark.parametrize("name", ["defaults", "max_score"])
def test_an_anchor_in_the_corpus_is_never_its_own_negative(data, name):
    """sentence-transformers drops the anchor's own text from its candidates and searches one
    candidate more for it (found when its max_score cases stopped matching ours)."""
    model, pairs, corpus = data
    corpus = [*corpus, "anchor 2", "anchor 9"]
    expected = _reference(model, pairs, corpus, **OPTIONS[name])
    ours = mine_hard_negatives(model, pairs, corpus, **OPTIONS[name])
    assert _columns(ours) == _as_ours(expected, "triplet")
    rows = zip(ours.columns["anchor"], ours.columns["negative"], strict=True)
    assert all(anchor != negative for anchor, negative in rows)


@pytest.mark.parametrize("sampling_strategy", ["top", "random"])
def test_chunked_search_equals_one_pass_and_encodes_each_text_once(data, sampling_strategy):
    model, pairs, corpus = data
    options = {"num_negatives": 3, "range_max": 15, "sampling_strategy": sampling_strategy}
    whole = mine_hard_negatives(model, pairs, corpus, **options)
    model.encoded.clear()
    chunked = mine_hard_negatives(
        model, pairs, corpus, query_chunk_size=3, corpus_chunk_size=7, **options
    )
    assert _columns(chunked) == _columns(whole)
    queries = len(set(pairs.columns["anchor"]))
    assert len(model.encoded) == queries + len(set(corpus) | set(pairs.columns["positive"]))


def test_a_corpus_smaller_than_the_window_and_the_errors(data):
    model, pairs, _ = data
    rows = [pairs.columns["anchor"].index(f"anchor {i}") for i in (1, 2, 3)]
    small = pairs.select(rows)  # 3 anchors, 3 positives: 2 candidates each
    mined = mine_hard_negatives(model, small, num_negatives=3, output_format="triplet")
    assert len(mined) == 3 * 2
    with pytest.raises(ValueError, match="no anchor got all 3"):
        mine_hard_negatives(model, small, num_negatives=3, output_format="n-tuple")
    with pytest.raises(ValueError, match="no negatives found"):
        mine_hard_negatives(model, small, max_score=-2.0)
    bad = [
        ({"num_negatives": 0}, "num_negatives must be at least 1"),
        ({"range_min": 5, "range_max": 5}, "range_min .5. must be smaller"),
        ({"num_negatives": 4, "range_max": 3}, "cannot mine 4 negatives"),
        ({"sampling_strategy": "best"}, "sampling_strategy must be one of top, random"),
        ({"output_format": "labeled-list"}, "output_format must be one of"),
        ({"anchor_role": "query"}, "no role 'query'"),
    ]
    for options, message in bad:
        with pytest.raises(ValueError, match=message):
            mine_hard_negatives(model, small, **options)
    with pytest.raises(ValueError, match="corpus text 1 is ' '"):
        mine_hard_negatives(model, small, ["doc 1", " "])


@pytest.mark.integration
def test_minilm_on_sick_mines_what_sentence_transformers_mines(
    minilm, reference_minilm, shared_data
):
    """The real model on 150 SICK entailment pairs: the same triplets, up to the ties that
    TensorFlow's and torch's last bits can swap."""
    datasets = pytest.importorskip("datasets", reason="the reference needs `datasets` (bench)")
    from sentence_transformers.util import mine_hard_negatives as reference

    sick = read_sick(shared_data / "sick" / "SICK_train_trial.txt", "TRAIN", label="entailment")
    sick = sick.select(np.flatnonzero(sick.labels == "ENTAILMENT")[:150])
    pairs = from_lists(anchor=sick.columns["text_a"], positive=sick.columns["text_b"])
    options = {"num_negatives": 3, "range_max": 10, "relative_margin": 0.05}
    ours = mine_hard_negatives(minilm, pairs, **options)
    theirs = reference(datasets.Dataset.from_dict(pairs.columns), reference_minilm, **options)
    assert abs(len(ours) - len(theirs)) <= 3
    ours_rows = set(zip(*ours.columns.values(), strict=True))
    theirs_rows = set(zip(theirs["anchor"], theirs["positive"], theirs["negative"], strict=True))
    assert len(ours_rows & theirs_rows) >= 0.97 * len(theirs_rows)
