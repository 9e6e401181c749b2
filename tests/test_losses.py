"""Losses against direct numpy computations of their formulas, gradient directions, configs."""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from keras_siamese import losses as L

RNG = np.random.default_rng(42)
B, D = 6, 5
ANCHORS = RNG.normal(size=(B, D)).astype("float32")
NOISE = np.array([0.1, 0.6, 1.0, 2.0, 0.3, 0.9], "float32")[:, None]
PAIRS = np.stack([ANCHORS, ANCHORS + NOISE * RNG.normal(size=(B, D))], 1).astype("float32")
BINARY = np.array([1, 0, 1, 1, 0, 0], "float32")
SCORES = RNG.uniform(size=B).astype("float32")
TRIPLETS = np.concatenate([PAIRS, RNG.normal(size=(B, 1, D))], 1).astype("float32")
IN_BATCH = np.concatenate([PAIRS, RNG.normal(size=(B, 2, D))], 1).astype("float32")
CLASSES = np.array([0, 0, 1, 1, 2, 2, 0, 1])
POINTS = (RNG.normal(size=(8, D)) + 0.8 * np.eye(3, D)[CLASSES]).astype("float32")


def value(loss, y_true, y_pred) -> float:
    return float(ops.convert_to_numpy(loss(y_true, y_pred)))


# -- numpy references -------------------------------------------------------------------------


def np_cos(a, b):
    return np.sum(a * b, -1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


NP_DISTANCE = {
    "cosine": lambda a, b: 1.0 - np_cos(a, b),
    "euclidean": lambda a, b: np.linalg.norm(a - b, axis=-1),
    "manhattan": lambda a, b: np.sum(np.abs(a - b), -1),
}


def np_contrastive(y, d, margin):
    return np.mean(0.5 * (y * d**2 + (1 - y) * np.maximum(margin - d, 0) ** 2))


def np_online_contrastive(y, d, margin):
    pos, neg = d[y == 1], d[y == 0]
    hard_neg = neg[neg < (pos.max() if len(pos) else neg.mean())]
    hard_pos = pos[pos > (neg.min() if len(neg) else pos.mean())]
    return np.sum(hard_pos**2) + np.sum(np.maximum(margin - hard_neg, 0) ** 2)


def np_cosent(y, s, scale):
    total = sum(
        np.exp(scale * (s[j] - s[i]))
        for i, j in itertools.product(range(len(y)), repeat=2)
        if y[i] > y[j]
    )
    return np.log1p(total)


def np_matrix(points, distance):
    return NP_DISTANCE[distance](points[:, None], points[None])


def np_batch_hard(labels, points, margin, distance):
    d = np_matrix(points, distance)
    losses = []
    for a in range(len(labels)):
        positives = [d[a, p] for p in range(len(labels)) if p != a and labels[p] == labels[a]]
        negatives = [d[a, n] for n in range(len(labels)) if labels[n] != labels[a]]
        losses.append(max(max(positives, default=0.0) - min(negatives) + margin, 0.0))
    return np.mean(losses)


def np_batch_semi_hard(labels, points, margin, distance):
    d = np_matrix(points, distance)
    losses = []
    for a, p in itertools.permutations(range(len(labels)), 2):
        if labels[a] != labels[p]:
            continue
        negatives = [d[a, n] for n in range(len(labels)) if labels[n] != labels[a]]
        farther = [x for x in negatives if x > d[a, p]]
        negative = min(farther) if farther else max(negatives)
        losses.append(max(d[a, p] - negative + margin, 0.0))
    return np.mean(losses)


def np_batch_all(labels, points, margin, distance):
    d = np_matrix(points, distance)
    losses = [
        max(d[a, p] - d[a, n] + margin, 0.0)
        for a, p, n in itertools.product(range(len(labels)), repeat=3)
        if a != p and labels[a] == labels[p] and labels[n] != labels[a]
    ]
    return np.sum(losses) / (np.sum(np.array(losses) > 1e-16) + 1e-16)


def np_log_softmax_at(scores, index):
    return scores[index] - np.log(np.sum(np.exp(scores)))


def np_mnrl(embeddings, scale, symmetric):
    anchors, positives = embeddings[:, 0], embeddings[:, 1]
    candidates = np.concatenate([embeddings[:, k] for k in range(1, embeddings.shape[1])])
    losses = []
    for i in range(len(anchors)):
        loss = -np_log_softmax_at(scale * np_cos(anchors[i], candidates), i)
        if symmetric:
            loss = 0.5 * (loss - np_log_softmax_at(scale * np_cos(positives[i], anchors), i))
        losses.append(loss)
    return np.mean(losses)


# -- formulas ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("distance", "margin"), [("cosine", 0.5), ("euclidean", 2.0)])
def test_contrastive_matches_numpy(distance, margin):
    d = NP_DISTANCE[distance](PAIRS[:, 0], PAIRS[:, 1])
    expected = np_contrastive(BINARY, d, margin)
    loss = L.ContrastiveLoss(margin=margin, distance=distance)
    assert value(loss, BINARY, PAIRS) == pytest.approx(expected, rel=1e-5)
    summed = L.ContrastiveLoss(margin=margin, distance=distance, size_average=False)
    assert value(summed, BINARY, PAIRS) == pytest.approx(expected * B, rel=1e-5)


@pytest.mark.parametrize(
    "labels",
    [BINARY, np.ones(B, "float32"), np.zeros(B, "float32"), np.array([1, 0, 2, 1, 0, 0.5])],
)
def test_online_contrastive_matches_numpy(labels):
    d = NP_DISTANCE["euclidean"](PAIRS[:, 0], PAIRS[:, 1])
    loss = L.OnlineContrastiveLoss(margin=4.0, distance="euclidean")
    expected = np_online_contrastive(labels, d, 4.0)
    assert expected > 0
    assert value(loss, labels.astype("float32"), PAIRS) == pytest.approx(expected, rel=1e-5)


def test_cosine_similarity_loss_matches_numpy():
    cos = np_cos(PAIRS[:, 0], PAIRS[:, 1])
    expected = np.mean((cos - SCORES) ** 2)
    assert value(L.CosineSimilarityLoss(), SCORES, PAIRS) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("scale", [20.0, 5.0])
def test_cosent_matches_numpy(scale):
    cos = np_cos(PAIRS[:, 0], PAIRS[:, 1])
    expected = np_cosent(SCORES, cos, scale)
    loss = L.CoSENTLoss(scale=scale)
    assert value(loss, SCORES, PAIRS) == pytest.approx(expected, rel=1e-4)
    ties = np.zeros(B, "float32")
    assert value(loss, ties, PAIRS) == pytest.approx(0.0, abs=1e-7)  # no ordered pair
    euclid = L.CoSENTLoss(scale=scale, similarity="euclidean")
    negated = -NP_DISTANCE["euclidean"](PAIRS[:, 0], PAIRS[:, 1])
    assert value(euclid, SCORES, PAIRS) == pytest.approx(
        np_cosent(SCORES, negated, scale), rel=1e-4
    )


@pytest.mark.parametrize(("distance", "margin"), [("euclidean", 5.0), ("cosine", 0.3)])
def test_triplet_matches_numpy(distance, margin):
    d_ap = NP_DISTANCE[distance](TRIPLETS[:, 0], TRIPLETS[:, 1])
    d_an = NP_DISTANCE[distance](TRIPLETS[:, 0], TRIPLETS[:, 2])
    expected = np.mean(np.maximum(d_ap - d_an + margin, 0))
    loss = L.TripletLoss(margin=margin, distance=distance)
    zeros = np.zeros(B, "float32")
    assert value(loss, zeros, TRIPLETS) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize(
    ("cls", "reference"),
    [
        (L.BatchHardTripletLoss, np_batch_hard),
        (L.BatchSemiHardTripletLoss, np_batch_semi_hard),
        (L.BatchAllTripletLoss, np_batch_all),
    ],
)
@pytest.mark.parametrize(
    ("distance", "margin"), [("euclidean", 5.0), ("euclidean", 1.0), ("cosine", 0.2)]
)
def test_batch_triplets_match_numpy(cls, reference, distance, margin):
    expected = reference(CLASSES, POINTS, margin, distance)
    assert expected > 0
    got = value(cls(margin=margin, distance=distance), CLASSES, POINTS)
    assert got == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize("symmetric", [False, True])
@pytest.mark.parametrize("embeddings", [PAIRS, IN_BATCH], ids=["pairs", "hard-negatives"])
def test_mnrl_matches_numpy(embeddings, symmetric):
    expected = np_mnrl(embeddings, 20.0, symmetric)
    got = value(L.MultipleNegativesRankingLoss(symmetric=symmetric), np.zeros(B), embeddings)
    assert got == pytest.approx(expected, rel=1e-4)


def test_matryoshka_sums_the_inner_loss_on_normalised_prefixes():
    dims, weights = [5, 3, 2], [1.0, 0.5, 0.25]

    def prefix(x, dim):
        x = x[..., :dim]
        return x / np.linalg.norm(x, axis=-1, keepdims=True)

    cosent = sum(
        w * np_cosent(SCORES, np_cos(prefix(PAIRS[:, 0], d), prefix(PAIRS[:, 1], d)), 20.0)
        for d, w in zip(dims, weights, strict=True)
    )
    loss = L.MatryoshkaLoss(L.CoSENTLoss(), dims, weights)
    assert value(loss, SCORES, PAIRS) == pytest.approx(cosent, rel=1e-4)
    batch_all = sum(np_batch_all(CLASSES, prefix(POINTS, d), 1.0, "euclidean") for d in dims)
    loss = L.MatryoshkaLoss(L.BatchAllTripletLoss(margin=1.0), dims)
    assert value(loss, CLASSES, POINTS) == pytest.approx(batch_all, rel=1e-4)
    raw = L.MatryoshkaLoss(L.TripletLoss(), [2], normalize=False)
    expected = value(L.TripletLoss(), np.zeros(B), TRIPLETS[..., :2])
    assert value(raw, np.zeros(B), TRIPLETS) == pytest.approx(expected, rel=1e-5)


def test_plain_functions_return_per_example_or_batch_values():
    per_example = {
        L.contrastive_loss: (BINARY, PAIRS),
        L.cosine_similarity_loss: (SCORES, PAIRS),
        L.triplet_loss: (BINARY, TRIPLETS),
        L.multiple_negatives_ranking_loss: (BINARY, IN_BATCH),
        L.batch_hard_triplet_loss: (CLASSES, POINTS),
    }
    for fn, (y_true, y_pred) in per_example.items():
        assert tuple(fn(y_true, y_pred).shape) == (len(y_pred),), fn.__name__
    batch = {
        L.cosent_loss: (SCORES, PAIRS),
        L.online_contrastive_loss: (BINARY, PAIRS),
        L.batch_semi_hard_triplet_loss: (CLASSES, POINTS),
        L.batch_all_triplet_loss: (CLASSES, POINTS),
    }
    for fn, (y_true, y_pred) in batch.items():
        assert tuple(fn(y_true, y_pred).shape) == (), fn.__name__


def test_sample_weight_and_no_reduction_on_per_example_losses():
    loss = L.TripletLoss(reduction=None)
    per_example = ops.convert_to_numpy(loss(np.zeros(B), TRIPLETS))
    weighted = L.TripletLoss()(np.zeros(B), TRIPLETS, sample_weight=np.arange(B, dtype="float32"))
    assert float(weighted) == pytest.approx(np.sum(per_example * np.arange(B)) / B, rel=1e-5)


def test_misuse_raises():
    # A similarity is no distance, a distance name no similarity; the valid names are listed.
    with pytest.raises(ValueError, match=r"Unknown distance 'dot'.*'cosine', 'euclidean'"):
        L.ContrastiveLoss(distance="dot")
    with pytest.raises(ValueError, match="Unknown distance 'dot'"):
        L.BatchHardTripletLoss(distance="dot")
    with pytest.raises(ValueError, match="Unknown distance 'cosine_distance'"):
        L.TripletLoss(distance="cosine_distance")
    with pytest.raises(ValueError, match="Unknown distance 'hamming'"):
        L.OnlineContrastiveLoss(distance="hamming")
    with pytest.raises(ValueError, match="Unknown similarity 'cosine_distance'"):
        L.CoSENTLoss(similarity="cosine_distance")
    with pytest.raises(TypeError, match="distance"):
        L.CoSENTLoss(distance="euclidean")  # similarity losses take `similarity`
    # y_pred is embeddings: scores, or the wrong number of roles, are refused.
    d = NP_DISTANCE["euclidean"](PAIRS[:, 0], PAIRS[:, 1])
    with pytest.raises(ValueError, match=r"takes stacked embeddings \[B, 2, D\]"):
        L.ContrastiveLoss()(BINARY, d[:, None])
    with pytest.raises(ValueError, match=r"takes stacked embeddings \[B, 2, D\]"):
        L.CoSENTLoss()(SCORES, TRIPLETS)
    with pytest.raises(ValueError, match=r"takes stacked embeddings \[B, 3, D\]"):
        L.TripletLoss()(BINARY, PAIRS)
    with pytest.raises(ValueError, match=r"takes stacked embeddings \[B, 2\+, D\]"):
        L.MultipleNegativesRankingLoss()(np.zeros(B), SCORES)
    with pytest.raises(ValueError, match=r"take embeddings \[B, D\]"):
        L.BatchHardTripletLoss()(BINARY, PAIRS)
    with pytest.raises(ValueError, match="at least 8 wide"):
        L.MatryoshkaLoss(L.CoSENTLoss(), [8, 2])(SCORES, PAIRS)
    with pytest.raises(ValueError, match="must match"):
        L.MatryoshkaLoss(L.CoSENTLoss(), [4, 2], weights=[1.0])
    with pytest.raises(ValueError, match="positive"):
        L.MatryoshkaLoss(L.CoSENTLoss(), [])


# -- gradients --------------------------------------------------------------------------------


def _step(loss, y_true, embeddings, lr=0.05):
    x = tf.Variable(embeddings)
    with tf.GradientTape() as tape:
        before = loss(y_true, x)
    x.assign_sub(lr * tape.gradient(before, x))
    assert float(loss(y_true, x)) < float(before)
    return x.numpy()


def _pair_distances(pairs):
    return NP_DISTANCE["euclidean"](pairs[:, 0], pairs[:, 1])


@pytest.mark.parametrize(
    "loss",
    [
        L.ContrastiveLoss(margin=4.0, distance="euclidean"),
        L.OnlineContrastiveLoss(margin=4.0, distance="euclidean"),
        L.CoSENTLoss(similarity="euclidean", scale=1.0),
        L.CosineSimilarityLoss(),
        L.MatryoshkaLoss(L.ContrastiveLoss(margin=1.5, distance="euclidean"), [5, 3]),
    ],
    ids=lambda loss: loss.name,
)
def test_pair_losses_pull_positives_and_push_negatives(loss):
    before = _pair_distances(PAIRS)
    after = _pair_distances(_step(loss, BINARY, PAIRS))
    assert np.mean(after[BINARY == 1]) < np.mean(before[BINARY == 1])
    assert np.mean(after[BINARY == 0]) > np.mean(before[BINARY == 0])


def test_triplet_and_mnrl_pull_positives_and_push_negatives():
    for loss, embeddings in [
        (L.TripletLoss(), TRIPLETS),
        (L.MultipleNegativesRankingLoss(similarity="euclidean", scale=1.0), IN_BATCH),
    ]:
        after = _step(loss, np.zeros(B, "float32"), embeddings)
        for k, sign in [(1, -1), (2, 1)]:
            moved = _pair_distances(after[:, [0, k]]) - _pair_distances(embeddings[:, [0, k]])
            assert np.all(sign * moved > 0), (loss.name, k)


def test_mnrl_raises_positive_over_in_batch_cosines():
    after = _step(L.MultipleNegativesRankingLoss(symmetric=True), np.zeros(B, "float32"), PAIRS)
    cos_before = np_cos(PAIRS[:, None, 0], PAIRS[None, :, 1])
    cos_after = np_cos(after[:, None, 0], after[None, :, 1])
    assert np.mean(np.diag(cos_after)) > np.mean(np.diag(cos_before))
    off = ~np.eye(B, dtype=bool)
    assert np.mean(cos_after[off]) < np.mean(cos_before[off])


def _class_gaps(points, hardest: bool):
    """Mean same-class and other-class distance; with ``hardest``, only each anchor's hardest."""
    same = CLASSES[:, None] == CLASSES[None]
    d = np_matrix(points, "euclidean")
    if hardest:
        return np.mean(np.max(np.where(same, d, 0), 1)), np.mean(
            np.min(np.where(same, np.inf, d), 1)
        )
    return np.mean(d[same & ~np.eye(len(CLASSES), dtype=bool)]), np.mean(d[~same])


@pytest.mark.parametrize(
    ("loss", "hardest"),
    [
        (L.BatchHardTripletLoss(margin=1.0), True),
        (L.BatchSemiHardTripletLoss(margin=1.0), False),
        (L.BatchAllTripletLoss(margin=1.0), False),
        (L.BatchHardSoftMarginTripletLoss(), True),
    ],
    ids=["batch-hard", "batch-semi-hard", "batch-all", "batch-hard-soft-margin"],
)
def test_batch_triplets_pull_classes_together(loss, hardest):
    positive_before, negative_before = _class_gaps(POINTS, hardest)
    positive_after, negative_after = _class_gaps(_step(loss, CLASSES, POINTS), hardest)
    assert positive_after < positive_before
    assert negative_after > negative_before


# -- configs and registry ---------------------------------------------------------------------

CONFIGURED = [
    L.ContrastiveLoss(margin=0.7, distance="euclidean", size_average=False),
    L.OnlineContrastiveLoss(margin=0.3, distance="manhattan"),
    L.CosineSimilarityLoss(similarity="dot"),
    L.CoSENTLoss(scale=10.0, similarity="manhattan"),
    L.TripletLoss(margin=1.0, distance="cosine"),
    L.BatchHardTripletLoss(margin=2.0, distance="cosine"),
    L.BatchSemiHardTripletLoss(margin=2.0),
    L.BatchAllTripletLoss(margin=2.0, name="all"),
    L.MultipleNegativesRankingLoss(scale=10.0, symmetric=True, reduction="sum"),
    L.MatryoshkaLoss(L.TripletLoss(margin=2.0), [4, 2], [1.0, 0.5], normalize=False),
    L.AnglELoss(scale=10.0),
    L.MegaBatchMarginLoss(positive_margin=0.7, negative_margin=0.2),
    L.BatchHardSoftMarginTripletLoss(distance="manhattan"),
]


@pytest.mark.parametrize("loss", CONFIGURED, ids=lambda loss: type(loss).__name__)
def test_config_round_trips(loss):
    config = loss.get_config()
    clone = type(loss).from_config(config)
    assert clone.get_config() == config
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert type(restored) is type(loss) and restored.get_config() == config
    assert restored.reduction == loss.reduction
    data = {
        L.BatchHardTripletLoss: (CLASSES, POINTS),
        L.BatchSemiHardTripletLoss: (CLASSES, POINTS),
        L.BatchAllTripletLoss: (CLASSES, POINTS),
        L.BatchHardSoftMarginTripletLoss: (CLASSES, POINTS),
        L.TripletLoss: (BINARY, TRIPLETS),
        L.MatryoshkaLoss: (BINARY, TRIPLETS),
        L.MultipleNegativesRankingLoss: (BINARY, IN_BATCH),
    }.get(type(loss), (BINARY, PAIRS))
    assert value(restored, *data) == pytest.approx(value(loss, *data), rel=1e-6)


def test_losses_registry_from_the_classes_declarations():
    assert list(L.LOSSES) == [
        "cosent",
        "angle",
        "cosine",
        "online-contrastive",
        "contrastive",
        "triplet",
        "mnrl",
        "cached-mnrl",
        "mega-batch-margin",
        "batch-hard-triplet",
        "batch-hard-soft-margin-triplet",
        "batch-semi-hard-triplet",
        "batch-all-triplet",
        "matryoshka",
        "mse",
        "margin-mse",
        "distill-kl-div",
        "gist",
        "softmax",
    ]
    consumes = {
        "cosent": (("text_a", "text_b"), "score"),
        "cosine": (("text_a", "text_b"), "score"),
        "online-contrastive": (("text_a", "text_b"), "binary"),
        "contrastive": (("text_a", "text_b"), "binary"),
        "triplet": (("anchor", "positive", "negative"), "none"),
        "mnrl": (("anchor", "positive"), "none"),
        "batch-hard-triplet": (("text",), "class"),
        "batch-semi-hard-triplet": (("text",), "class"),
        "batch-all-triplet": (("text",), "class"),
        "angle": (("text_a", "text_b"), "score"),
        "mega-batch-margin": (("anchor", "positive"), "none"),
        "batch-hard-soft-margin-triplet": (("text",), "class"),
        "mse": (("text",), "embedding"),
        "margin-mse": (("anchor", "positive"), "scores"),
        "distill-kl-div": (("anchor", "positive"), "scores"),
        "cached-mnrl": (("anchor", "positive"), "none"),
        "gist": (("anchor", "positive"), "embedding"),
        "softmax": (("text_a", "text_b"), "class"),
    }
    for name, cls in L.LOSSES.items():
        assert issubclass(cls, keras.losses.Loss) and cls.registry_name == name, name
        assert cls in L.LOSS_CLASSES
        if name == "matryoshka":
            continue
        assert (cls.roles, cls.label_kind) == consumes[name], name
        assert cls.label_kind in L.LABEL_KINDS
        with_negatives = ("mnrl", "cached-mnrl", "margin-mse", "distill-kl-div", "gist")
        assert cls.takes_negatives == (name in with_negatives), name
    assert L.LOSSES["mnrl"] is L.MultipleNegativesRankingLoss
    assert L.LOSSES["matryoshka"] is L.MatryoshkaLoss
    assert L.get_loss("batch-hard-triplet").roles == ("text",)
    assert L.negative_roles(2) == ("negative_1", "negative_2")


@pytest.mark.parametrize("inner", ["cosent", L.BatchAllTripletLoss(), "mnrl"])
def test_matryoshka_consumes_what_its_inner_loss_consumes(inner):
    loss = L.MatryoshkaLoss(inner, [4, 2])
    inner_loss = L.get_loss(inner)
    assert type(loss.loss) is type(inner_loss)
    assert loss.roles == inner_loss.roles
    assert loss.label_kind == inner_loss.label_kind
    assert loss.takes_negatives == inner_loss.takes_negatives
    assert loss.reduction == inner_loss.reduction


def test_loss_table_lists_every_loss_and_what_it_consumes():
    table = L.loss_table().splitlines()
    assert len(table) == 2 + len(L.LOSSES)
    rows = {line.split("|")[1].strip(): line for line in table[2:]}
    assert set(rows) == {f"`{name}`" for name in L.LOSSES}
    assert "`anchor`, `positive` (+ `negative_1` ... `negative_k`)" in rows["`mnrl`"]
    assert "int class id" in rows["`batch-all-triplet`"]
    assert "as the inner loss" in rows["`matryoshka`"]
