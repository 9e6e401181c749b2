"""The model card (issue 10): ``README.md`` in every saved folder, with the training story when
there is one, and correct (the numbers are the run's own)."""

import json

import pytest
from test_training import PAIRS
from test_training_recovery import _train, _write_stsb

from conftest import make_tiny_encoder
from keras_siamese.encoders import SentenceEncoder
from keras_siamese.training import TrainingConfig, fit


def test_a_saved_folder_has_a_card_that_says_what_the_model_is(tiny_model_folder, tmp_path):
    encoder = SentenceEncoder.from_pretrained(tiny_model_folder)
    encoder.save_pretrained(tmp_path / "copy")
    card = (tmp_path / "copy" / "README.md").read_text(encoding="utf-8")
    assert card.startswith("---\nlibrary_name: keras-siamese\n")
    assert f"base_model: {tiny_model_folder}" in card
    assert "| Transformer | bert, 2 layers, hidden size 16 |" in card
    assert "| Embedding | 16 dimensions, L2-normalised |" in card
    assert f'SentenceEncoder.from_pretrained("{tmp_path / "copy"}")' in card
    assert "## Training" not in card  # nothing trained: nothing claimed


def test_fit_adds_the_training_to_the_card(tiny_vocab_folder, tmp_path):
    encoder = make_tiny_encoder(tiny_vocab_folder)
    config = TrainingConfig(loss="cosine", batch_size=4, learning_rate=1e-3, seed=3)
    fit(encoder, PAIRS, config, verbose=0)
    encoder.save_pretrained(tmp_path / "trained")
    card = (tmp_path / "trained" / "README.md").read_text(encoding="utf-8")
    training = card.split("## Training")[1]
    assert "- Loss: `cosine`" in training and "- Training examples: 24" in training
    for row in ("| batch_size | 4 |", "| learning_rate | 0.001 |", "| seed | 3 |"):
        assert row in training
    assert "| batch_sampler | batch_sampler |" in training
    assert "| length_bucketing | True |" in training


def test_the_train_command_card_holds_its_metrics(tiny_model_folder, tmp_path):
    pytest.importorskip("sentence_transformers")
    from sentence_transformers import SentenceTransformer

    dev = _write_stsb(tmp_path / "dev.tsv")
    output = tmp_path / "run"
    assert _train(tiny_model_folder, tmp_path, output, "--eval", str(dev)) == 0
    metrics = json.loads((output / "metrics.json").read_text())
    card = (output / "model" / "README.md").read_text(encoding="utf-8")
    key = "dev_sts_spearman_cosine"
    before, after = metrics["before"][key], metrics["after"][key]
    assert f"| {key} | {before:.4f} | {after:.4f} |" in card
    assert "- Loss: `cosine`" in card and "| epochs | 2 |" in card
    SentenceTransformer(str(output / "model"), device="cpu")  # the card does not disturb it
