"""The options of the distillation losses and of MNRL (sentence-transformers 6's ``directions``,
``partition_mode``, ``hardness_mode``): invalid ones are refused by name, valid ones round-trip."""

import keras
import numpy as np
import pytest

from keras_siamese import losses as L


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"directions": ("doc_to_query",)}, "include 'query_to_doc'"),
        ({"directions": ("query_to_doc", "sideways")}, "directions must be"),
        (
            {"directions": ("query_to_doc", "doc_to_doc"), "partition_mode": "per_direction"},
            "joint",
        ),
        ({"partition_mode": "both"}, "partition_mode must be"),
        ({"hardness_mode": "hardest"}, "hardness_mode must be"),
        ({"hardness_strength": -1.0}, "non-negative"),
        ({"scale": 0.0}, "scale must be positive"),
        ({"symmetric": True, "directions": ("query_to_doc", "doc_to_query")}, "one or the other"),
    ],
)
def test_mnrl_refuses_bad_options(options, message):
    with pytest.raises(ValueError, match=message):
        L.MultipleNegativesRankingLoss(**options)
    with pytest.raises(ValueError, match=message):
        L.get_loss("mnrl", options)


def test_mnrl_symmetric_is_its_two_directions_per_direction():
    y_pred = np.random.default_rng(0).normal(size=(5, 3, 4)).astype("float32")
    symmetric = L.MultipleNegativesRankingLoss(symmetric=True)
    spelled = L.MultipleNegativesRankingLoss(
        directions=["query_to_doc", "doc_to_query"], partition_mode="per_direction"
    )
    zeros = np.zeros(5, "float32")
    np.testing.assert_allclose(symmetric(zeros, y_pred), spelled(zeros, y_pred), rtol=1e-6)
    restored = keras.losses.deserialize(keras.losses.serialize(spelled))
    assert restored.get_config() == spelled.get_config()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: L.MSELoss(columns=()), "non-empty"),
        (lambda: L.MSELoss(columns="text"), "non-empty sequence"),
        (lambda: L.MSELoss(columns=("a b",)), "identifiers"),
        (lambda: L.DistillKLDivLoss(temperature=0.0), "temperature must be"),
        (lambda: L.DistillKLDivLoss(teacher_temperature=float("inf")), "teacher_temperature"),
    ],
)
def test_distillation_losses_refuse_bad_options(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_distillation_losses_name_the_labels_they_need():
    rng = np.random.default_rng(0)
    triplets, quads = rng.normal(size=(4, 3, 8)), rng.normal(size=(4, 4, 8))
    with pytest.raises(ValueError, match=r"\[B, 2\] .* \[B, 3\]"):
        L.MarginMSELoss()(rng.normal(size=(4, 5)), quads)
    with pytest.raises(ValueError, match=r"takes teacher scores \[B, 2\]"):
        L.DistillKLDivLoss()(rng.normal(size=(4, 3)), triplets)
    with pytest.raises(ValueError, match=r"\[B, 3\+, D\]"):
        L.DistillKLDivLoss()(rng.normal(size=(4, 1)), rng.normal(size=(4, 2, 8)))  # no negative
    with pytest.raises(ValueError, match="8 dimensions, the teacher's 6"):
        L.MSELoss()(rng.normal(size=(4, 6)), rng.normal(size=(4, 8)))
    with pytest.raises(ValueError, match=r"\[B, D\] or \[B, 3, D\]"):
        L.MSELoss(columns=("a", "b", "c"))(rng.normal(size=(4, 2, 8)), triplets)
