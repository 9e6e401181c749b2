"""The loss registry: `get_loss` by name, its errors; every loss through Keras serialisation."""

import keras
import numpy as np
import pytest

import keras_siamese as ks
from keras_siamese import losses as L

RNG = np.random.default_rng(3)
B, D = 6, 8
EMBEDDINGS = {  # y_pred for n stacked roles (0: a single role, [B, D])
    0: RNG.normal(size=(B, D)).astype("float32"),
    2: RNG.normal(size=(B, 2, D)).astype("float32"),
    3: RNG.normal(size=(B, 3, D)).astype("float32"),
}
LABELS = {
    "score": RNG.uniform(size=B).astype("float32"),
    "binary": np.array([1, 0, 1, 1, 0, 0], "float32"),
    "class": np.array([0, 0, 1, 1, 2, 2]),
    "none": np.zeros(B, "float32"),
    "embedding": RNG.normal(size=(B, D)).astype("float32"),  # a teacher's embeddings
    "scores": RNG.normal(size=(B, 2)).astype("float32"),  # a teacher's (positive, negative)
}


GUIDE = RNG.normal(size=(B, 3, 5)).astype("float32")  # a guide model's, for GISTEmbedLoss
OPTIONS = {  # their required options
    "matryoshka": {"loss": "cosent", "dims": [8, 4]},
    "softmax": {"num_labels": 3},
}


def registered_loss(name: str) -> keras.losses.Loss:
    return L.get_loss(name, OPTIONS.get(name))


def data(loss: keras.losses.Loss):
    roles = len(loss.roles) + getattr(loss, "min_negatives", 0)
    embeddings = EMBEDDINGS[0 if roles == 1 else roles]
    head = getattr(loss, "head", None)  # the training model applies it: the loss gets its output
    labels = LABELS[loss.label_kind]
    if isinstance(loss, L.GISTEmbedLoss):  # a guide's embeddings of each column
        labels = GUIDE[:, :roles]
    return labels, head(embeddings) if head else embeddings


@pytest.mark.parametrize("name", sorted(L.LOSSES))
def test_get_loss_by_name_builds_the_registered_class(name):
    loss = registered_loss(name)
    assert type(loss) is L.LOSSES[name]
    assert type(L.get_loss(name.upper(), OPTIONS.get(name))) is type(loss)  # any case
    assert L.get_loss(loss) is loss  # an instance is used as it is
    assert np.isfinite(float(loss(*data(loss))))


def test_get_loss_options():
    loss = L.get_loss("triplet", {"margin": 1.5, "distance": "manhattan"})
    assert loss.get_config()["margin"] == 1.5 and loss.get_config()["distance"] == "manhattan"
    wrapped = L.get_loss("matryoshka", {"loss": L.TripletLoss(margin=2.0), "dims": [4, 2]})
    assert isinstance(wrapped.loss, L.TripletLoss) and wrapped.dims == [4, 2]
    assert wrapped.roles == ("anchor", "positive", "negative")


def test_get_loss_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match="Unknown loss 'hamming'") as error:
        L.get_loss("hamming")
    assert all(name in str(error.value) for name in L.LOSSES)
    with pytest.raises(ValueError, match="Unknown loss 'hamming'"):
        ks.TrainingConfig(loss="hamming")
    with pytest.raises(ValueError, match="Unknown loss 42"):
        L.get_loss(42)


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("cosent", {"margin": 1.0}, "margin"),  # not an option of this loss
        ("triplet", {"distance": "dot"}, "Unknown distance 'dot'"),
        ("cosent", {"similarity": "cosine_distance"}, "Unknown similarity 'cosine_distance'"),
        ("matryoshka", {"loss": "cosent"}, "dims"),  # a required option missing
        ("matryoshka", {"loss": "nope", "dims": [4]}, "Unknown loss 'nope'"),
        ("matryoshka", {"loss": "cosent", "dims": [4, 2], "weights": [1.0]}, "must match"),
    ],
)
def test_get_loss_bad_options_name_the_loss(name, options, message):
    with pytest.raises(ValueError, match=message) as error:
        L.get_loss(name, options)
    assert str(error.value).startswith(f"Loss {name!r}: bad loss options {options}: ")
    with pytest.raises(ValueError, match=message):
        ks.TrainingConfig(loss=name, loss_options=options)


def test_options_apply_only_to_a_loss_by_name():
    with pytest.raises(ValueError, match="loss_options apply to a loss given by name"):
        L.get_loss(L.CoSENTLoss(), {"scale": 5.0})


CONFIGURED = [
    L.CoSENTLoss(scale=5.0, similarity="euclidean"),
    L.CosineSimilarityLoss(similarity="dot", reduction="sum"),
    L.ContrastiveLoss(margin=1.5, distance="manhattan", size_average=False),
    L.OnlineContrastiveLoss(margin=0.2, name="online"),
    L.TripletLoss(margin=0.5, distance="cosine"),
    L.MultipleNegativesRankingLoss(scale=30.0, similarity="dot", symmetric=True),
    L.BatchHardTripletLoss(margin=0.3, distance="cosine"),
    L.BatchSemiHardTripletLoss(distance="manhattan"),
    L.BatchAllTripletLoss(margin=1.0, reduction=None),
    L.MatryoshkaLoss(L.CoSENTLoss(scale=10.0), dims=[8, 4], weights=[1.0, 0.5]),
    L.MatryoshkaLoss("batch-all-triplet", dims=[4], normalize=False),
    L.MatryoshkaLoss(L.MatryoshkaLoss("triplet", [8, 4]), dims=[8]),  # nested
    L.MSELoss(columns=("english", "french")),
    L.MarginMSELoss(similarity="cosine"),
    L.DistillKLDivLoss(temperature=2.0, teacher_temperature=0.5),
]
LOSSES = [registered_loss(name) for name in sorted(L.LOSSES)] + CONFIGURED


@pytest.mark.parametrize("loss", LOSSES, ids=lambda loss: f"{type(loss).__name__}-{loss.name}")
def test_every_loss_round_trips_keras_serialisation(loss):
    config = loss.get_config()
    serialized = keras.losses.serialize(loss)
    restored = keras.losses.deserialize(serialized)
    assert type(restored) is type(loss)
    assert restored.get_config() == config
    assert keras.losses.serialize(restored) == serialized
    assert restored.reduction == loss.reduction and restored.name == loss.name
    assert (restored.roles, restored.label_kind) == (loss.roles, loss.label_kind)
    if isinstance(loss, L.MatryoshkaLoss):
        assert type(restored.loss) is type(loss.loss)
        assert restored.loss.get_config() == loss.loss.get_config()
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(restored(*data(loss))),
        keras.ops.convert_to_numpy(loss(*data(loss))),
        rtol=1e-6,
    )
