"""Every serialisable object registered under ``keras_siamese`` passes the conformance harness
(``tests/conformance.py``); a newly registered class without a case here fails
``test_every_registered_object_has_a_case``."""

import numpy as np
import pytest

from keras_siamese import backend  # noqa: F401  (selects the TensorFlow backend first)

# isort: split
import conformance
import keras
import tensorflow as tf
from conformance import LayerCase, LossCase, ScheduleCase

from keras_siamese import losses
from keras_siamese.backbones import (
    LayerNorm,
    RelativePositionBias,
    TransformerBackbone,
    TransformerBlock,
    TransformerEmbeddings,
)
from keras_siamese.encoders import SentenceEncoder
from keras_siamese.pooling import DenseProjection, Normalize, Pooling
from keras_siamese.siamese import SCORE_LAYERS, JoinRoles, SplitRoles, Stack
from keras_siamese.siamese.grad_cache import GradCacheModel
from keras_siamese.tokenizers import ByteLevelBPETokenizer, InGraphTokenizer, SentencePieceTokenizer
from keras_siamese.tokenizers.byte_level_bpe_tokenizer import bytes_to_unicode
from keras_siamese.training import WarmupLinearDecay

VOCAB = 30
HIDDEN = 8
TINY_BACKBONE = {
    "vocab_size": VOCAB,
    "hidden_size": HIDDEN,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "intermediate_size": 16,
    "max_position_embeddings": 16,
}
TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "man", "plays", "guitar", "##s"]
PIECES = [["<s>", 0.0], ["<pad>", 0.0], ["</s>", 0.0], ["<unk>", 0.0], ["▁hi", -1.0], ["h", -3.0]]
ADDED_PIECES = [{"content": t, "id": i} for i, t in enumerate(["<s>", "<pad>", "</s>", "<unk>"])]


BYTE_SYMBOLS = list(bytes_to_unicode().values())
BPE_VOCAB = {t: i for i, t in enumerate(["<s>", "<pad>", "</s>", "<unk>", *BYTE_SYMBOLS, "hi"])}
BPE_ADDED = [
    {"content": t, "id": i, "lstrip": False, "rstrip": False, "normalized": False}
    for i, t in enumerate(["<s>", "<pad>", "</s>", "<unk>"])
]


def _rng():
    return np.random.default_rng(0)


def _floats(*shape):
    return _rng().normal(size=shape).astype("float32")


def _mask():
    return np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype="int32")


def _token_inputs():
    ids = _rng().integers(5, VOCAB, size=(2, 5)).astype("int32") * _mask()
    return {"input_ids": ids, "attention_mask": _mask()}


def _pair():
    return ([_floats(3, HIDDEN), _floats(3, HIDDEN) + 0.5],)


def _encoder(**kwargs):
    keras.utils.set_random_seed(0)
    return SentenceEncoder(
        TransformerBackbone(**TINY_BACKBONE),
        Pooling(HIDDEN, ("mean", "max")),
        [DenseProjection(4, activation="tanh")],
        True,
        **kwargs,
    )


LAYERS = {
    "LayerNorm": LayerCase(lambda **kw: LayerNorm(**kw), lambda: (_floats(2, 5, HIDDEN),)),
    "TransformerEmbeddings": LayerCase(
        lambda **kw: TransformerEmbeddings(
            vocab_size=VOCAB, hidden_size=HIDDEN, max_position_embeddings=16, **kw
        ),
        lambda: (_token_inputs()["input_ids"],),
        dtype_kwarg=False,
    ),
    "TransformerBlock": LayerCase(
        lambda **kw: TransformerBlock(hidden_size=HIDDEN, num_heads=2, intermediate_size=16, **kw),
        lambda: (_floats(2, 5, HIDDEN), _mask()),
        dtype_kwarg=False,
    ),
    "RelativePositionBias": LayerCase(
        lambda **kw: RelativePositionBias(num_buckets=32, num_heads=2, **kw),
        lambda: (_token_inputs()["input_ids"],),
        dtype_kwarg=False,
    ),
    "TransformerBackbone": LayerCase(
        lambda **kw: TransformerBackbone(**TINY_BACKBONE, **kw),
        lambda: (_token_inputs(),),
        dtype_kwarg=False,
    ),
    "Pooling": LayerCase(
        lambda **kw: Pooling(HIDDEN, ("cls", "mean", "max", "lasttoken"), **kw),
        lambda: (_floats(2, 5, HIDDEN), _mask()),
    ),
    "DenseProjection": LayerCase(
        lambda **kw: DenseProjection(4, activation="tanh", **kw), lambda: (_floats(3, HIDDEN),)
    ),
    "Normalize": LayerCase(lambda **kw: Normalize(**kw), lambda: (_floats(3, HIDDEN),)),
    "InGraphTokenizer": LayerCase(
        lambda **kw: InGraphTokenizer(TOKENS, max_seq_length=8, **kw),
        lambda: (tf.constant(["A man plays guitars.", "", "mans"]),),
        mixed_dtype=None,
    ),
    "SentencePieceTokenizer": LayerCase(
        lambda **kw: SentencePieceTokenizer(
            PIECES, unk_id=3, added_tokens=ADDED_PIECES, max_seq_length=8, **kw
        ),
        lambda: (tf.constant(["Hi hi </s>", "", "hih"]),),
        mixed_dtype=None,
    ),
    "ByteLevelBPETokenizer": LayerCase(
        lambda **kw: ByteLevelBPETokenizer(
            BPE_VOCAB, [["h", "i"]], added_tokens=BPE_ADDED, max_seq_length=8, **kw
        ),
        lambda: (tf.constant(["hi hi </s>", "", "hih"]),),
        mixed_dtype=None,
    ),
    "SentenceEncoder": LayerCase(_encoder, lambda: (_token_inputs(),), dtype_kwarg=False),
    "GradCacheModel": LayerCase(
        lambda **kw: GradCacheModel(_encoder(), ("anchor", "positive"), mini_batch_size=1, **kw),
        lambda: (
            {f"{r}_{k}": v for r in ("anchor", "positive") for k, v in _token_inputs().items()},
        ),
        dtype_kwarg=False,
    ),
    "Stack": LayerCase(lambda **kw: Stack(**kw), _pair),
    "JoinRoles": LayerCase(
        lambda **kw: JoinRoles(**kw),
        lambda: (
            (
                [_token_inputs()["input_ids"], _token_inputs()["input_ids"][:, :3]],
                [_mask(), _mask()[:, :3]],
            ),
        ),
        mixed_dtype=None,
    ),
    "SplitRoles": LayerCase(lambda **kw: SplitRoles(2, **kw), lambda: (_floats(4, HIDDEN),)),
    "PairFeatures": LayerCase(
        lambda **kw: losses.PairFeatures(multiplication=True, **kw),
        lambda: (_floats(3, 2, HIDDEN),),
    ),
    **{cls.__name__: LayerCase(lambda cls=cls, **kw: cls(**kw), _pair) for cls in SCORE_LAYERS},
}

_SCORES = np.array([0.9, 0.1, 0.6, 0.3], dtype="float32")
_BINARY = np.array([1, 0, 1, 0], dtype="float32")
_CLASSES = np.array([0, 0, 1, 1, 2, 2], dtype="int32")
_NONE = np.zeros(4, dtype="float32")
_TEACHER_SCORES = np.array([[3.0, 1.0, 0.5], [2.0, 2.5, -1.0], [0.0, -1.0, 1.0], [4.0, 1.0, 1.0]])


def _stacked(roles: int, batch: int = 4, dim: int = HIDDEN):
    return _floats(batch, roles, dim)


LOSSES = {
    "CoSENTLoss": LossCase(lambda: losses.CoSENTLoss(scale=10.0), _SCORES, _stacked(2)),
    "AnglELoss": LossCase(lambda: losses.AnglELoss(scale=10.0), _SCORES, _stacked(2)),
    "CosineSimilarityLoss": LossCase(lambda: losses.CosineSimilarityLoss(), _SCORES, _stacked(2)),
    "OnlineContrastiveLoss": LossCase(
        lambda: losses.OnlineContrastiveLoss(margin=0.5), _BINARY, _stacked(2)
    ),
    "ContrastiveLoss": LossCase(
        lambda: losses.ContrastiveLoss(margin=0.5, size_average=False), _BINARY, _stacked(2)
    ),
    "TripletLoss": LossCase(lambda: losses.TripletLoss(margin=1.0), _NONE, _stacked(3)),
    "MultipleNegativesRankingLoss": LossCase(
        lambda: losses.MultipleNegativesRankingLoss(symmetric=True), _NONE, _stacked(3)
    ),
    "BatchHardTripletLoss": LossCase(
        lambda: losses.BatchHardTripletLoss(margin=1.0), _CLASSES, _floats(6, HIDDEN)
    ),
    "BatchHardSoftMarginTripletLoss": LossCase(
        lambda: losses.BatchHardSoftMarginTripletLoss(distance="cosine"),
        _CLASSES,
        _floats(6, HIDDEN),
    ),
    "MegaBatchMarginLoss": LossCase(
        lambda: losses.MegaBatchMarginLoss(positive_margin=0.9, negative_margin=0.1),
        _NONE,
        _stacked(2),
    ),
    "BatchSemiHardTripletLoss": LossCase(
        lambda: losses.BatchSemiHardTripletLoss(margin=1.0), _CLASSES, _floats(6, HIDDEN)
    ),
    "BatchAllTripletLoss": LossCase(
        lambda: losses.BatchAllTripletLoss(margin=1.0, distance="cosine"),
        _CLASSES,
        _floats(6, HIDDEN),
    ),
    "MSELoss": LossCase(
        lambda: losses.MSELoss(columns=("english", "french")), _floats(4, HIDDEN), _stacked(2)
    ),
    "MarginMSELoss": LossCase(
        lambda: losses.MarginMSELoss(similarity="cosine"),
        _TEACHER_SCORES.astype("float32"),
        _stacked(4),
    ),
    "DistillKLDivLoss": LossCase(
        lambda: losses.DistillKLDivLoss(temperature=2.0, teacher_temperature=0.5),
        _TEACHER_SCORES.astype("float32"),
        _stacked(4),
    ),
    "GISTEmbedLoss": LossCase(  # y_true: the guide's embeddings of each column
        lambda: losses.GISTEmbedLoss(temperature=0.05, margin=0.1), _floats(4, 3, 5), _stacked(3)
    ),
    "CachedMultipleNegativesRankingLoss": LossCase(  # its value is MNRL's
        lambda: losses.CachedMultipleNegativesRankingLoss(mini_batch_size=2), _NONE, _stacked(3)
    ),
    "SoftmaxLoss": LossCase(  # y_pred: its head's logits, as the training model gives them
        lambda: losses.SoftmaxLoss(num_labels=3), _CLASSES, _floats(6, 3)
    ),
    "MatryoshkaLoss": LossCase(
        lambda: losses.MatryoshkaLoss(
            losses.MultipleNegativesRankingLoss(scale=10.0), dims=[8, 4], weights=[1.0, 0.5]
        ),
        _NONE,
        _stacked(2),
    ),
}

SCHEDULES = {
    "WarmupLinearDecay": ScheduleCase(
        lambda: WarmupLinearDecay(peak=2e-5, warmup_steps=10, total_steps=100), (0, 5, 10, 99, 200)
    ),
}

FIXTURES = {**LAYERS, **LOSSES, **SCHEDULES}


def test_every_registered_object_has_a_case():
    registered = conformance.registered_objects()
    assert set(registered) == set(FIXTURES), (
        f"without a conformance case: {sorted(set(registered) - set(FIXTURES))}; "
        f"cases for nothing registered: {sorted(set(FIXTURES) - set(registered))}"
    )
    for name, case in FIXTURES.items():
        kind = conformance.case_kind(case)
        base = {
            "layer": keras.layers.Layer,
            "loss": keras.losses.Loss,
            "schedule": keras.optimizers.schedules.LearningRateSchedule,
        }[kind]
        assert issubclass(registered[name], base), (name, kind)


@pytest.fixture(autouse=True)
def _float32_policy():
    keras.config.set_dtype_policy("float32")
    yield
    keras.config.set_dtype_policy("float32")


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_serialization(name):
    conformance.run_layer_serialization_test(LAYERS[name])


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_functional_api(name):
    conformance.run_functional_test(LAYERS[name])


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_keras_file_round_trip(name, tmp_path):
    conformance.run_model_saving_test(LAYERS[name], tmp_path)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_mixed_precision_global_policy(name):
    conformance.run_precision_test(LAYERS[name], via="global")


@pytest.mark.parametrize("name", sorted(n for n, case in LAYERS.items() if case.dtype_kwarg))
def test_layer_mixed_precision_dtype_argument(name):
    conformance.run_precision_test(LAYERS[name], via="kwarg")


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_round_trips_and_value(name):
    conformance.run_loss_test(LOSSES[name])


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_trains_a_tiny_model(name):
    conformance.run_loss_training_test(LOSSES[name])


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_schedule_round_trips(name):
    conformance.run_schedule_test(SCHEDULES[name])
