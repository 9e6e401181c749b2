"""The token-id contract, the same in the Keras model, the SavedModel's ``embed_token_ids`` and the
TFLite file (issue 12, item 11), fuzzed: ids outside ``[0, vocab_size)`` (negative ones included:
they used to wrap around to the end of the vocabulary) are an error; an all-zero mask gives a zero
vector; an empty batch gives ``(0, dim)``. The one documented difference: LiteRT's XNNPACK
delegate refuses a zero-length sequence (no tokenizer makes one: [CLS] and [SEP] are always
there), where the others give zero vectors."""

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keras_siamese.encoders import SentenceEncoder
from keras_siamese.export import saved_model, tflite, tflite_interpreter
from keras_siamese.similarity import cosine_similarity

# Eager Keras warns on the one-token softmax of a length-1 batch; the result is right.
pytestmark = pytest.mark.filterwarnings("ignore:You are using a softmax over axis")


@pytest.fixture(scope="module")
def engines(tiny_model_folder, tmp_path_factory):
    """name -> a function of (input_ids, attention_mask) giving embeddings (or raising)."""
    encoder = SentenceEncoder.from_pretrained(tiny_model_folder)
    work = tmp_path_factory.mktemp("token_ids")
    serve = tf.saved_model.load(str(saved_model(encoder, work / "sm"))).signatures
    path = tflite(encoder, work / "tiny.tflite")

    def keras_model(ids, mask):
        return np.asarray(encoder({"input_ids": ids, "attention_mask": mask}))

    def saved(ids, mask):
        out = serve["embed_token_ids"](input_ids=tf.constant(ids), attention_mask=tf.constant(mask))
        return out["embeddings"].numpy()

    def litert(ids, mask):  # a fresh interpreter: a failed invoke leaves one unusable
        runner = tflite_interpreter(path).get_signature_runner()
        return runner(input_ids=ids, attention_mask=mask)["embeddings"]

    vocab_size = encoder.backbone.config.vocab_size
    return {"keras": keras_model, "saved_model": saved, "tflite": litert}, vocab_size


ERRORS = (tf.errors.InvalidArgumentError, RuntimeError, ValueError)


def _outcomes(engines, ids, mask):
    results = {}
    for name, run in engines.items():
        try:
            results[name] = run(ids.astype("int32"), mask.astype("int32"))
        except ERRORS as error:
            results[name] = error
    return results


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    batch=st.integers(0, 3),
    length=st.integers(1, 6),
    data=st.data(),
)
def test_fuzzed_ids_and_masks_agree_in_all_three(engines, batch, length, data):
    runs, vocab_size = engines
    low = data.draw(st.sampled_from([0, -3]))
    high = data.draw(st.sampled_from([vocab_size - 1, vocab_size + 3]))
    ids = np.array(
        data.draw(
            st.lists(st.integers(low, high), min_size=batch * length, max_size=batch * length)
        )
    ).reshape(batch, length)
    mask = np.array(
        data.draw(st.lists(st.integers(0, 1), min_size=batch * length, max_size=batch * length))
    ).reshape(batch, length)
    results = _outcomes(runs, ids, mask)
    valid = bool(((ids >= 0) & (ids < vocab_size)).all())
    for name, result in results.items():
        if not valid:
            assert isinstance(result, Exception), f"{name}: out-of-range ids gave no error"
            continue
        assert not isinstance(result, Exception), f"{name}: {result}"
        assert result.shape == (batch, 16) and np.isfinite(result).all(), name
        empty_rows = mask.sum(axis=1) == 0
        assert not result[empty_rows].any(), f"{name}: an all-zero mask is not a zero vector"
    if valid and batch:
        reference, full = results["keras"], mask.sum(axis=1) > 0
        for name in ("saved_model", "tflite"):
            agreement = cosine_similarity(results[name][full], reference[full], xp=np)
            assert agreement.min(initial=1.0) >= 0.9999, name


@pytest.mark.parametrize("bad_id", [-1, -16, "vocab_size", 2**31 - 1])
def test_one_bad_id_is_an_error_everywhere_never_a_wrapped_vector(engines, bad_id):
    runs, vocab_size = engines
    bad_id = vocab_size if bad_id == "vocab_size" else bad_id
    ids, mask = np.array([[2, bad_id, 3]]), np.ones((1, 3))
    for name, result in _outcomes(runs, ids, mask).items():
        assert isinstance(result, Exception), f"{name}: id {bad_id} gave {result}"
    keras_error = _outcomes({"keras": runs["keras"]}, ids, mask)["keras"]
    assert f"input_ids must lie in [0, {vocab_size})" in str(keras_error)


def test_empty_batch_and_zero_length(engines):
    runs, _ = engines
    for name, result in _outcomes(runs, np.zeros((0, 4)), np.zeros((0, 4))).items():
        assert not isinstance(result, Exception) and result.shape == (0, 16), name
    zero_length = _outcomes(runs, np.zeros((2, 0)), np.zeros((2, 0)))
    for name in ("keras", "saved_model"):
        assert zero_length[name].shape == (2, 16) and not zero_length[name].any(), name
    assert isinstance(zero_length["tflite"], RuntimeError)  # documented: XNNPACK refuses it
