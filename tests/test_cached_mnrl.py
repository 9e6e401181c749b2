"""``CachedMultipleNegativesRankingLoss`` (GradCache): the cached train step gives MNRL's loss and
gradients on the whole batch, with dropout too (its masks replayed); ``fit`` and ``train`` reach
it by name."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from test_distribute import PRELUDE, run_isolated_python

from keras_siamese import losses as L
from keras_siamese.cli.main import main
from keras_siamese.data import from_lists, make_dataset
from keras_siamese.siamese import training_model
from keras_siamese.siamese.grad_cache import GradCacheModel, _seed_generators
from keras_siamese.testing import TINY_WORDS, make_tiny_encoder
from keras_siamese.training import TrainingConfig, fit
from keras_siamese.training.trainer import reseed_dropout

WORDS = [word for word in TINY_WORDS if word.isalpha()]
MASKED = ("input_ids", "attention_mask")


def texts(rng, count: int, length: int) -> list[str]:
    return [" ".join(rng.choice(WORDS, rng.integers(1, length + 1))) for _ in range(count)]


def triples(count: int, seed: int = 0):
    """``count`` distinct anchors with a positive and a hard negative, of varying lengths."""
    rng = np.random.default_rng(seed)
    anchors = list(dict.fromkeys(texts(rng, 4 * count, 6)))[:count]
    return from_lists(
        anchor=anchors, positive=texts(rng, count, 8), negative_1=texts(rng, count, 8)
    )


def batch(encoder, size: int, negatives: int):
    columns = dict(triples(size).columns)
    if not negatives:
        del columns["negative_1"]
    dataset = make_dataset(from_lists(**columns), encoder.in_graph_tokenizer(), size, False)
    return next(iter(dataset))


def tiny_encoder(vocab, dropout: float = 0.0):
    """The tiny encoder, with this dropout rate (the same weights for any rate)."""
    tiny = make_tiny_encoder(vocab, seed=0)
    config = tiny.get_config()
    rates = {"hidden_dropout_prob": dropout, "attention_probs_dropout_prob": dropout}
    config["backbone"]["config"].update(rates)
    encoder = type(tiny).from_config(config)
    encoder.tokenizer = tiny.tokenizer
    encoder.build()
    encoder.set_weights(tiny.get_weights())
    return encoder


@pytest.fixture(scope="module")
def vocab(tmp_path_factory):
    from keras_siamese.testing import write_tiny_vocabulary

    return write_tiny_vocabulary(tmp_path_factory.mktemp("vocab"))


@pytest.fixture(scope="module")
def encoder(vocab):
    return tiny_encoder(vocab)


def cached_step(encoder, loss, x, y, run_eagerly: bool = False):
    """The cached model's loss and gradients on one batch (one step of SGD, rate 1, undone)."""
    model = training_model(encoder, loss, num_negatives=len(x) // 2 - 2)
    optimizer = keras.optimizers.SGD(1.0)
    model.compile(optimizer=optimizer, loss=loss, jit_compile=False, run_eagerly=run_eagerly)
    before = [variable.numpy() for variable in encoder.trainable_variables]
    value = model.train_on_batch(x, y)
    grads = [old - v.numpy() for old, v in zip(before, encoder.trainable_variables, strict=True)]
    for variable, old in zip(encoder.trainable_variables, before, strict=True):
        variable.assign(old)
    return value, grads


def reference_step(encoder, loss, x, y, mini_batch_size: int):
    """MNRL's loss and gradients under one tape over the whole batch, the encoder called on the
    same mini-batches as the cached step, each cut to its longest text (with dropout, the same
    random draws)."""
    roles = [key.removesuffix("_input_ids") for key in x if key.endswith("_input_ids")]

    def mini_batch(role: str, i: int) -> dict:
        """Rows ``i:i + mini_batch_size`` of ``role``, up to their longest text."""
        rows = {k: x[f"{role}_{k}"][i : i + mini_batch_size].numpy() for k in MASKED}
        width = np.flatnonzero(rows["attention_mask"].any(axis=0)).max() + 1
        return {k: v[:, :width] for k, v in rows.items()}

    with tf.GradientTape() as tape:
        embeddings = [
            tf.concat(
                [
                    encoder(mini_batch(role, i), training=True)
                    for i in range(0, len(y), mini_batch_size)
                ],
                axis=0,
            )
            for role in roles
        ]
        value = loss(y, tf.stack(embeddings, axis=1))  # MNRL's value
    return float(value), numpy_gradients(tape, value, encoder)


def numpy_gradients(tape, value, encoder) -> list[np.ndarray]:
    grads = tape.gradient(value, encoder.trainable_variables)
    return [tf.convert_to_tensor(grad).numpy() for grad in grads]


def assert_same_step(cached, reference):
    assert cached[0] == pytest.approx(reference[0], abs=1e-5)
    for got, expected in zip(cached[1], reference[1], strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def plain_step(encoder, x, y, **options):
    """MNRL's loss and gradients on the whole batch, with the plain training model."""
    loss = L.MultipleNegativesRankingLoss(**options)
    model = training_model(encoder, loss, num_negatives=len(x) // 2 - 2)
    with tf.GradientTape() as tape:
        value = loss(y, model(x, training=True))
    return float(value), numpy_gradients(tape, value, encoder)


@pytest.mark.parametrize(("size", "mini_batch_size"), [(8, 8), (8, 4), (8, 3), (5, 2)])
@pytest.mark.parametrize("negatives", [0, 1])
def test_cached_step_is_mnrl_on_the_whole_batch(encoder, size, mini_batch_size, negatives):
    """Eagerly, for speed (the same code; the other tests trace it, as ``fit`` runs it)."""
    x, y = batch(encoder, size, negatives)
    loss = L.CachedMultipleNegativesRankingLoss(mini_batch_size=mini_batch_size)
    cached = cached_step(encoder, loss, x, y, run_eagerly=True)
    assert_same_step(cached, plain_step(encoder, x, y))


def test_cached_step_is_symmetric_mnrl(encoder):
    x, y = batch(encoder, 8, 1)
    loss = L.CachedMultipleNegativesRankingLoss(mini_batch_size=3, symmetric=True)
    cached = cached_step(encoder, loss, x, y, run_eagerly=True)
    assert_same_step(cached, plain_step(encoder, x, y, symmetric=True))


@pytest.mark.parametrize(("mini_batch_size", "run_eagerly"), [(8, True), (3, False)])
def test_cached_step_replays_the_dropout_masks(vocab, mini_batch_size, run_eagerly):
    """With dropout, the second pass draws the first one's masks: the gradients are those of
    the loss it reports, and the random state moves on as after one forward pass. Traced as
    ``fit`` runs it. (Not the plain model's masks: that one embeds all roles in one call, the
    cached one each role's mini-batches, as sentence-transformers' cached loss does.)"""
    encoder = tiny_encoder(vocab, dropout=0.3)
    x, y = batch(encoder, 8, 1)
    loss = L.CachedMultipleNegativesRankingLoss(mini_batch_size=mini_batch_size)
    reseed_dropout(encoder, 7)
    reference = reference_step(encoder, loss, x, y, mini_batch_size)
    after = [generator.state.numpy() for generator in _seed_generators(encoder)]
    reseed_dropout(encoder, 7)
    assert_same_step(cached_step(encoder, loss, x, y, run_eagerly), reference)
    for generator, state in zip(_seed_generators(encoder), after, strict=True):
        np.testing.assert_array_equal(generator.state.numpy(), state)
    reseed_dropout(encoder, 8)  # other masks: another loss
    assert reference_step(encoder, loss, x, y, mini_batch_size)[0] != reference[0]


def test_each_mini_batch_is_cut_to_its_own_longest_text(encoder, monkeypatch):
    """A role's rows are padded to its longest text; each mini-batch drops the padding columns
    all its rows share (as sentence-transformers' GradCache does), in both passes."""
    short, long = "one two", " ".join(WORDS[:12])
    pairs = from_lists(anchor=[long, short, short, short], positive=[short, short, short, long])
    x, y = next(iter(make_dataset(pairs, encoder.in_graph_tokenizer(), 4, False)))
    loss = L.CachedMultipleNegativesRankingLoss(mini_batch_size=2)
    model = training_model(encoder, loss)
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss=loss, run_eagerly=True)
    widths, call = [], encoder.call

    def recording(inputs, training=None):
        widths.append(int(tf.shape(inputs["input_ids"])[1]))
        return call(inputs, training=training)

    monkeypatch.setattr(encoder, "call", recording)
    model.train_on_batch(x, y)
    full = x["anchor_input_ids"].shape[1]
    cut = int(tf.reduce_sum(x["anchor_attention_mask"][1]))
    assert full > cut and x["positive_input_ids"].shape[1] == full
    # anchor (long, short | short, short), then positive (short, short | short, long), twice
    assert widths == [full, cut, cut, full] * 2


def test_loss_value_options_and_config_round_trip():
    y_pred = np.random.default_rng(0).normal(size=(6, 3, 4)).astype("float32")
    options = {"scale": 10.0, "directions": ["query_to_doc", "query_to_query"]}
    loss = L.get_loss("cached-mnrl", {"mini_batch_size": 4, **options})
    assert isinstance(loss, L.CachedMultipleNegativesRankingLoss) and loss.mini_batch_size == 4
    zeros = np.zeros(6, "float32")
    expected = L.MultipleNegativesRankingLoss(**options)(zeros, y_pred)
    np.testing.assert_allclose(loss(zeros, y_pred), expected, rtol=1e-6)
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert type(restored) is type(loss) and restored.get_config() == loss.get_config()
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="mini_batch_size"):
            L.get_loss("cached-mnrl", {"mini_batch_size": bad})


def test_grad_cache_model_is_the_training_model_with_the_encoders_weights(encoder):
    loss = L.CachedMultipleNegativesRankingLoss(mini_batch_size=3)
    model = training_model(encoder, loss, num_negatives=1)
    assert isinstance(model, GradCacheModel) and model.mini_batch_size == 3
    assert all(
        m is e for m, e in zip(model.trainable_variables, encoder.trainable_variables, strict=True)
    )
    x, _ = batch(encoder, 5, 1)
    plain = training_model(encoder, L.MultipleNegativesRankingLoss(), num_negatives=1)
    np.testing.assert_allclose(model.predict(x, verbose=0), plain.predict(x, verbose=0))
    restored = GradCacheModel.from_config(model.get_config())
    assert (restored.roles, restored.mini_batch_size) == (model.roles, 3)
    assert restored.output.shape == model.output.shape == (None, 3, 16)


def sgd_run(vocab, loss: keras.losses.Loss):
    """Six steps of SGD on batches of 8, 8 and 4 (the last one smaller), twice."""
    encoder = tiny_encoder(vocab)
    model = training_model(encoder, loss, num_negatives=1)
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss=loss, jit_compile=False)
    batches = make_dataset(triples(20), encoder.in_graph_tokenizer(), 8, shuffle=False)
    losses = model.fit(batches, epochs=2, verbose=0, shuffle=False).history["loss"]
    return losses, np.concatenate([np.ravel(w) for w in encoder.get_weights()])


def test_sgd_steps_of_the_cached_model_are_mnrl_steps(vocab):
    cached = sgd_run(vocab, L.CachedMultipleNegativesRankingLoss(mini_batch_size=3))
    plain = sgd_run(vocab, L.MultipleNegativesRankingLoss())
    assert cached[0][-1] < cached[0][0]
    np.testing.assert_allclose(cached[0], plain[0], atol=1e-5)
    np.testing.assert_allclose(cached[1], plain[1], atol=1e-4)


def test_fit_by_name_lowers_the_loss(vocab):
    """(AdamW, ``fit``'s optimizer, turns the float noise of near-zero gradients into whole
    steps, so its weights are not compared with MNRL's: the SGD test above does that.)"""
    encoder = tiny_encoder(vocab)
    options = {"mini_batch_size": 3}
    config = TrainingConfig(
        loss="cached-mnrl", loss_options=options, batch_size=8, epochs=3, learning_rate=1e-3
    )
    history = fit(encoder, triples(20), config, verbose=0)
    assert len(history.losses) == 9 and history.history["loss"][-1] < history.history["loss"][0]


def test_train_command_takes_the_mini_batch_size(tiny_model_folder, tmp_path, capsys):
    data = tmp_path / "pairs.csv"
    pairs = triples(6).columns
    rows = [f"{a},{p}" for a, p in zip(pairs["anchor"], pairs["positive"], strict=True)]
    data.write_text("\n".join(["q,a", *rows]) + "\n")
    common = ["train", "--model", str(tiny_model_folder), "--data", str(data), "--format", "csv"]
    common += ["--columns", "anchor=q,positive=a", "--output", str(tmp_path / "out")]
    assert main([*common, "--mini-batch-size", "2"]) == 2  # the default loss is not cached
    assert "--mini-batch-size applies to a cached loss" in capsys.readouterr().err
    flags = ["--loss", "cached-mnrl", "--mini-batch-size", "2", "--batch-size", "4"]
    assert main([*common, *flags]) == 0
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["config"]["loss"] == "cached-mnrl"
    assert metrics["config"]["loss_options"] == {"mini_batch_size": 2}


REPLICAS_SCRIPT = (
    PRELUDE
    + """
import contextlib
import keras
from keras_siamese import losses as L
from keras_siamese.data import from_lists, make_dataset
from keras_siamese.siamese import training_model
from keras_siamese.testing import TINY_WORDS, make_tiny_encoder

rng = np.random.default_rng(0)
words = [w for w in TINY_WORDS if w.isalpha()]
pairs = {}
while len(pairs) < 32:
    pairs.setdefault(" ".join(rng.choice(words, 4)), " ".join(rng.choice(words, 5)))
train = from_lists(anchor=list(pairs), positive=list(pairs.values()),
                   negative_1=[" ".join(rng.choice(words, 3)) for _ in pairs])
results = {}
for name, gather, run_strategy in (("one", False, None), ("gather", True, strategy),
                                   ("local", False, strategy)):
    with run_strategy.scope() if run_strategy else contextlib.nullcontext():
        tiny = make_tiny_encoder(sys.argv[1], seed=0)
        config = tiny.get_config()
        config["backbone"]["config"].update(
            hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
        encoder = type(tiny).from_config(config)
        encoder.tokenizer = tiny.tokenizer
        encoder.build()
        encoder.set_weights(tiny.get_weights())
        if name == "one":
            loss = L.MultipleNegativesRankingLoss()
        else:
            loss = L.CachedMultipleNegativesRankingLoss(
                mini_batch_size=3, gather_across_replicas=gather)
        model = training_model(encoder, loss, num_negatives=1)
        model.compile(optimizer=keras.optimizers.SGD(0.5), loss=loss, jit_compile=False)
    batches = make_dataset(train, encoder.in_graph_tokenizer(), 16, shuffle=False).repeat()
    history = model.fit(batches, steps_per_epoch=1, epochs=3, verbose=0, shuffle=False)
    weights = np.concatenate([np.ravel(w) for w in encoder.get_weights()])
    results[name] = {"losses": history.history["loss"], "weights": weights.tolist()}
print(json.dumps(results))
"""
)


def test_on_two_replicas_gathering_equals_one_device(vocab):
    """Global batch 16 on two replicas (8 each, mini-batches of 3): with
    ``gather_across_replicas``, MNRL's steps on one device; without, each replica ranks among
    its own 8 (a lower loss)."""
    runs = run_isolated_python(REPLICAS_SCRIPT, str(vocab))
    one, gather, local = ({k: np.array(v) for k, v in runs[n].items()} for n in runs)
    np.testing.assert_allclose(gather["losses"], one["losses"], atol=1e-5)
    np.testing.assert_allclose(gather["weights"], one["weights"], atol=1e-4)
    assert (local["losses"] < one["losses"] - 0.3).all()
