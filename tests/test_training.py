"""Training: schedule, config, data checks, resumable fit, the `train` command."""

import json

import keras
import numpy as np
import pytest

from conftest import make_tiny_encoder
from keras_siamese import losses as L
from keras_siamese.backbones import TransformerBackbone
from keras_siamese.checkpoints import load_tokenizer
from keras_siamese.cli.main import main
from keras_siamese.data import Examples, read_sick
from keras_siamese.encoders import SentenceEncoder
from keras_siamese.evaluation import STSEvaluator
from keras_siamese.pooling import Pooling
from keras_siamese.training import TrainingConfig, WarmupLinearDecay, check_examples, fit

PAIRS = Examples(
    {
        "text_a": [
            "a man plays the guitar",
            "a dog runs in the park",
            "the cat eats food",
            "a red car",
            "a woman is happy",
            "the big dog",
        ]
        * 4,
        "text_b": [
            "the man is playing a guitar",
            "a cat sleeps",
            "a cat is eating",
            "a blue car",
            "a woman is sad",
            "a small dog",
        ]
        * 4,
    },
    [0.95, 0.1, 0.9, 0.5, 0.3, 0.6] * 4,
)


def test_schedule_warms_up_then_decays_and_serialises():
    schedule = WarmupLinearDecay(2e-5, warmup_steps=10, total_steps=100)
    values = [float(schedule(step)) for step in (0, 5, 10, 55, 100)]
    np.testing.assert_allclose(values, [0, 1e-5, 2e-5, 1e-5, 0], atol=1e-12)
    copy = keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(schedule))
    assert float(copy(55)) == pytest.approx(1e-5)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"loss": "nope"}, "Unknown loss 'nope'"),
        ({"loss": "triplet", "loss_options": {"margin": "x", "nope": 1}}, "bad loss options"),
        ({"loss": L.CoSENTLoss(), "loss_options": {"scale": 5.0}}, "loss_options apply"),
        ({"epochs": 0}, "epochs must be positive"),
        ({"warmup_ratio": 1.5}, "warmup_ratio"),
        ({"mixed_precision": "fp8"}, "mixed_precision"),
        ({"length_bucketing": "no"}, "length_bucketing must be True or False"),
    ],
)
def test_config_rejects_bad_settings(settings, message):
    with pytest.raises(ValueError, match=message):
        TrainingConfig(**settings)


def test_check_examples_names_the_mismatch():
    with pytest.raises(ValueError, match=r"needs columns \('anchor', 'positive', 'negative'\)"):
        check_examples(PAIRS, "triplet")
    with pytest.raises(ValueError, match=r"needs 0/1 labels; row 0 has 0\.95"):
        check_examples(PAIRS, "contrastive")
    scores_out_of_range = Examples(PAIRS.columns, PAIRS.labels * 5)
    with pytest.raises(ValueError, match=r"scores in \[0, 1\]"):
        check_examples(scores_out_of_range, "cosent")
    with pytest.raises(ValueError, match=r"scores in \[0, 1\]"):  # an instance: its inner loss's
        check_examples(scores_out_of_range, L.MatryoshkaLoss(L.CoSENTLoss(), [16, 8]))
    with pytest.raises(ValueError, match=r"'batch-hard-triplet' needs columns \('text',\)"):
        check_examples(PAIRS, L.BatchHardTripletLoss())
    unlabelled = Examples({"text": PAIRS.columns["text_a"]})
    with pytest.raises(ValueError, match="needs numeric class labels"):
        check_examples(unlabelled, "batch-all-triplet")


def test_check_examples_returns_the_roles_with_any_negatives():
    assert check_examples(PAIRS, "cosent") == ("text_a", "text_b")
    assert check_examples(PAIRS, L.MatryoshkaLoss("cosine", [8])) == ("text_a", "text_b")
    anchors, positives = PAIRS.columns.values()
    two = Examples({"anchor": anchors, "positive": positives})
    assert check_examples(two, "mnrl") == ("anchor", "positive")
    hard = Examples({"anchor": anchors, "positive": positives, "negative_1": positives[::-1]})
    assert check_examples(hard, "mnrl") == ("anchor", "positive", "negative_1")
    with pytest.raises(ValueError, match="needs columns"):  # cosent takes no negatives
        check_examples(Examples(hard.columns, [0.5] * len(PAIRS)), "cosent")


def _trained_weights(vocab, interrupt_at=None, backup_dir=None):
    encoder = make_tiny_encoder(vocab)
    callbacks = []
    if interrupt_at is not None:

        class Interrupt(keras.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                if self.model.optimizer.iterations.numpy() >= interrupt_at:
                    raise KeyboardInterrupt

        callbacks.append(Interrupt())
    config = TrainingConfig(loss="cosine", batch_size=4, learning_rate=1e-3, checkpoint_every=2)
    fit(encoder, PAIRS, config, callbacks, backup_dir=backup_dir, verbose=0)
    return [v.numpy() for v in encoder.weights]


def test_killed_run_resumes_from_its_backup(tiny_vocab_folder, tmp_path):
    uninterrupted = _trained_weights(tiny_vocab_folder, backup_dir=tmp_path / "clean")
    with pytest.raises(KeyboardInterrupt):
        _trained_weights(tiny_vocab_folder, interrupt_at=3, backup_dir=tmp_path / "backup")
    assert (tmp_path / "backup").exists()
    resumed = _trained_weights(tiny_vocab_folder, backup_dir=tmp_path / "backup")
    assert not (tmp_path / "backup").exists()  # deleted once training completes
    for a, b in zip(uninterrupted, resumed, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


def test_fit_shares_one_encoder_and_changes_it(tiny_vocab_folder):
    encoder = make_tiny_encoder(tiny_vocab_folder)
    before = encoder.encode(["a man plays the guitar"])
    history = fit(encoder, PAIRS, TrainingConfig(loss="cosent", batch_size=8), verbose=0)
    assert len(history.history["loss"]) == 1
    assert not np.allclose(before, encoder.encode(["a man plays the guitar"]))


def test_train_command_writes_model_history_and_plot(tiny_model_folder, tmp_path):
    data = tmp_path / "pairs.csv"
    rows = ["q,a,score"] + [
        f"{a},{b},{s}"
        for a, b, s in zip(
            PAIRS.columns["text_a"], PAIRS.columns["text_b"], PAIRS.labels, strict=True
        )
    ]
    data.write_text("\n".join(rows) + "\n")
    config = tmp_path / "train.yaml"
    config.write_text(f"model: {tiny_model_folder}\nloss: cosine\nbatch_size: 8\nlr: 0.001\n")
    code = main(
        [
            "train",
            "--config",
            str(config),
            "--data",
            str(data),
            "--format",
            "csv",
            "--columns",
            "text_a=q,text_b=a",
            "--label",
            "score",
            "--output",
            str(tmp_path / "out"),
        ]
    )
    assert code == 0
    out = tmp_path / "out"
    assert {p.name for p in out.iterdir()} >= {
        "model",
        "history.json",
        "history.png",
        "metrics.json",
    }
    assert json.loads((out / "metrics.json").read_text())["config"]["loss"] == "cosine"
    assert SentenceEncoder.from_pretrained(out / "model").encode(["a red car"]).shape == (1, 16)


def test_train_command_reports_bad_settings(tmp_path, capsys):
    assert main(["train", "--model", "x", "--data", "y"]) == 2
    assert "missing required setting(s): --output" in capsys.readouterr().err


@pytest.mark.integration
def test_random_encoder_learns_sick_relatedness(minilm_path, shared_data):
    """A randomly initialised small encoder (real vocabulary) improves its SICK trial Spearman."""
    keras.utils.set_random_seed(1)
    sick = shared_data / "sick" / "SICK_train_trial.txt"
    backbone = TransformerBackbone(
        vocab_size=30522,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=128,
        max_position_embeddings=512,
    )
    tokenizer = load_tokenizer(minilm_path, max_seq_length=64)
    encoder = SentenceEncoder(backbone, Pooling(64), normalize=True, tokenizer=tokenizer)
    encoder.build()
    trial = STSEvaluator.from_examples(read_sick(sick, "TRIAL"), name="trial")
    before = trial(encoder)["trial_spearman_cosine"]
    config = TrainingConfig(loss="cosent", epochs=2, batch_size=32, learning_rate=1e-3)
    fit(encoder, read_sick(sick, "TRAIN"), config, verbose=0)  # 2 x 139 steps
    after = trial(encoder)["trial_spearman_cosine"]
    assert after > before + 10, (before, after)


def test_mixed_bfloat16_training_runs_and_keeps_float32_weights(tiny_vocab_folder):
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        encoder = make_tiny_encoder(tiny_vocab_folder)
        config = TrainingConfig(loss="cosent", batch_size=8, mixed_precision="mixed_bfloat16")
        history = fit(encoder, PAIRS, config, verbose=0)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert np.isfinite(history.history["loss"]).all()
    assert all(v.dtype == "float32" for v in encoder.trainable_variables)
    assert encoder.encode(["a red car"]).dtype == np.float32


def test_mixed_precision_needs_the_policy_before_the_encoder(tiny_vocab_folder):
    config = TrainingConfig(loss="cosent", mixed_precision="mixed_bfloat16")
    with pytest.raises(ValueError, match="set_global_policy"):
        fit(make_tiny_encoder(tiny_vocab_folder), PAIRS, config, verbose=0)


@pytest.mark.integration
def test_train_command_reports_evaluation_before_and_after(
    tiny_model_folder, shared_data, tmp_path
):
    sick = shared_data / "sick" / "SICK_train_trial.txt"
    args = [
        "train",
        "--model",
        str(tiny_model_folder),
        "--data",
        str(sick),
        "--format",
        "sick",
        "--loss",
        "contrastive",
        "--batch-size",
        "32",
        "--eval",
        str(sick),
        "--output",
        str(tmp_path / "out"),
    ]
    assert main(args) == 0
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert set(metrics["before"]) == set(metrics["after"])
    assert "dev_entailment_cosine_accuracy" in metrics["after"]
    history = json.loads((tmp_path / "out" / "history.json").read_text())
    assert history["dev_sts_spearman_cosine"][-1] == metrics["after"]["dev_sts_spearman_cosine"]


def test_config_to_dict_keeps_a_wrapper_loss_and_its_options():
    """A regression: to_dict rebuilt the config with loss="cosent" and the options of another
    loss, so `train --loss matryoshka --loss-option loss=cosent ...` failed after training."""
    options = {"loss": "cosent", "dims": [16, 8]}
    settings = TrainingConfig(loss="matryoshka", loss_options=options).to_dict()
    assert settings["loss"] == "matryoshka" and settings["loss_options"] == options
    assert settings["loss_options"] is not options  # a copy: JSON-ready, not shared


def test_check_examples_names_missing_negatives_and_label_shapes():
    from keras_siamese.training import check_examples

    pairs = Examples({"anchor": ["a q"], "positive": ["a d"]}, [0.5])
    with pytest.raises(ValueError, match=r"needs at least 1 negative column\(s\)"):
        check_examples(pairs, "margin-mse")
    wide = Examples({"text_a": ["a"], "text_b": ["b"]}, np.ones((1, 2), "float32"))
    with pytest.raises(ValueError, match=r"needs one score label per row; got labels of shape"):
        check_examples(wide, "cosent")
    flat = Examples({"text": ["a"]}, np.ones(1, "float32"))
    with pytest.raises(ValueError, match="needs a teacher embedding per row"):
        check_examples(flat, "mse")
