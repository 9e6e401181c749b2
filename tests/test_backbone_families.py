"""DistilBERT, RoBERTa and XLM-RoBERTa backbones: random-weight models built with transformers
(LayerNorm and biases perturbed away from their initial values), compared with torch layer by
layer, plus the checks every family shares (config field names, types, leftover weights)."""

import json

import numpy as np
import pytest

from keras_siamese.backbones import TransformerBackbone
from keras_siamese.backbones.transformer_config import TransformerConfig
from keras_siamese.checkpoints.sentence_transformers_format import load_backbone, save_backbone
from keras_siamese.encoders import SentenceEncoder
from keras_siamese.similarity import cosine_similarity
from keras_siamese.testing import (
    TINY_VOCAB,
    write_roberta_tokenizer,
    write_tiny_vocabulary,
    write_xlm_roberta_tokenizer,
)

FAMILIES = ("distilbert", "roberta", "xlm-roberta")
SIZES = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4}


def _hf_config(transformers, family: str, vocab_size: int = 60, positions: int = 40):
    if family == "distilbert":
        return transformers.DistilBertConfig(
            vocab_size=vocab_size, dim=32, n_layers=2, n_heads=4, hidden_dim=64,
            max_position_embeddings=positions,
        )  # fmt: skip
    config_class = {
        "roberta": transformers.RobertaConfig,
        "xlm-roberta": transformers.XLMRobertaConfig,
    }[family]
    return config_class(
        vocab_size=vocab_size, intermediate_size=64, max_position_embeddings=positions + 2,
        type_vocab_size=1, pad_token_id=1, layer_norm_eps=1e-5, **SIZES,
    )  # fmt: skip


def random_hf_model(
    torch, transformers, family: str, folder, vocab_size: int = 60, positions: int = 40
):
    """A random Hugging Face model of ``family`` saved in ``folder`` (safetensors), with
    LayerNorm weights and biases perturbed so that they are not at their defaults; it holds
    ``positions`` tokens."""
    torch.manual_seed(0)
    config = _hf_config(transformers, family, vocab_size, positions)
    model = transformers.AutoModel.from_config(config).eval()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "LayerNorm" in name or "layer_norm" in name or name.endswith("bias"):
                parameter.add_(0.3 * torch.randn_like(parameter))
    model.save_pretrained(str(folder))
    return model


@pytest.fixture(scope="module", params=FAMILIES)
def random_family(request, tmp_path_factory):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    folder = tmp_path_factory.mktemp(request.param.replace("-", "_"))
    return request.param, folder, random_hf_model(torch, transformers, request.param, folder)


def _ids(family: str) -> tuple[np.ndarray, np.ndarray]:
    """Two texts' ids (the second padded) and their attention mask."""
    pad = 0 if family == "distilbert" else 1
    ids = np.array([[2, 7, 9, 12, 30, 59, 3], [2, 8, 3, pad, pad, pad, pad]], dtype="int32")
    return ids, (ids != pad).astype("int32")


def test_random_family_layers_equal_torch(random_family):
    import torch

    family, folder, model = random_family
    backbone = load_backbone(folder)
    assert backbone.config.model_type == family
    ids, mask = _ids(family)
    with torch.no_grad():
        out = model(
            input_ids=torch.from_numpy(ids).long(),
            attention_mask=torch.from_numpy(mask).long(),
            output_hidden_states=True,
        )
    theirs = [h.numpy() for h in out.hidden_states]
    real = mask.astype(bool)
    x = backbone.embeddings(ids)
    np.testing.assert_allclose(np.asarray(x)[real], theirs[0][real], atol=1e-5)
    for block, expected in zip(backbone.blocks, theirs[1:], strict=True):
        x = block(x, mask)
        np.testing.assert_allclose(np.asarray(x)[real], expected[real], atol=1e-5)
    final = backbone({"input_ids": ids, "attention_mask": mask})
    np.testing.assert_allclose(np.asarray(final)[real], theirs[-1][real], atol=1e-5)


def test_random_family_saved_by_us_loads_in_transformers(random_family, tmp_path):
    import torch
    import transformers

    family, folder, model = random_family
    save_backbone(load_backbone(folder), tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model_type"] == family
    if family == "distilbert":
        assert config["dim"] == 32 and "hidden_size" not in config
        assert "layer_norm_eps" not in config
    again = transformers.AutoModel.from_pretrained(str(tmp_path)).eval()
    ids, mask = _ids(family)
    inputs = {
        "input_ids": torch.from_numpy(ids).long(),
        "attention_mask": torch.from_numpy(mask).long(),
    }
    with torch.no_grad():
        expected = model(**inputs).last_hidden_state.numpy()
        got = again(**inputs).last_hidden_state.numpy()
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_more_layers_in_the_checkpoint_than_the_config_is_an_error(random_family, tmp_path):
    family, folder, _ = random_family
    config = json.loads((folder / "config.json").read_text())
    config["n_layers" if family == "distilbert" else "num_hidden_layers"] = 1
    (tmp_path / "config.json").write_text(json.dumps(config))
    (tmp_path / "model.safetensors").symlink_to(folder / "model.safetensors")
    with pytest.raises(ValueError, match=r"has no place for: '.*layer\.1\..*num_hidden_layers"):
        load_backbone(tmp_path)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("hidden_size", "32", r"'hidden_size' must be an integer, got '32'"),
        ("num_attention_heads", 4.0, r"'num_attention_heads' must be an integer"),
        ("layer_norm_eps", "1e-5", r"'layer_norm_eps' must be a number"),
        ("hidden_act", 3, r"'hidden_act' must be a string"),
        ("vocab_size", 10**9, r"word_embeddings.weight' has shape \(60, 32\), expected"),
        ("vocab_size", 0, r"vocab_size must be at least 1"),
    ],
)
def test_bad_config_values_are_named_before_building(tmp_path, field, value, message):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    random_hf_model(torch, transformers, "roberta", tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, field: value}))
    with pytest.raises(ValueError, match=message) as error:
        load_backbone(tmp_path)
    assert str(tmp_path) in str(error.value)


@pytest.mark.parametrize("family", FAMILIES)
def test_family_backbone_config_round_trip(family):
    config = TransformerConfig(
        vocab_size=20, intermediate_size=16, max_position_embeddings=24, model_type=family,
        pad_token_id=0 if family == "distilbert" else 1, **{**SIZES, "hidden_size": 8},
    )  # fmt: skip
    backbone = TransformerBackbone(**config.to_dict())
    copy = TransformerBackbone.from_config(backbone.get_config())
    assert copy.config == backbone.config
    assert (copy.embeddings.token_type_embeddings is None) == (family == "distilbert")
    assert TransformerConfig.from_dict(config.to_hf_dict()) == config
    assert copy.config.max_sequence_length == (24 if family == "distilbert" else 22)


TOKENIZER_WRITERS = {
    "distilbert": lambda folder, sentences: write_tiny_vocabulary(folder),
    "roberta": write_roberta_tokenizer,
    "xlm-roberta": write_xlm_roberta_tokenizer,
}


@pytest.fixture(scope="module", params=FAMILIES)
def random_checkpoint(request, tmp_path_factory, sts_sentences):
    """A plain Hugging Face folder of ``family``: random weights and a real tokenizer (DistilBERT:
    the tiny WordPiece vocabulary; RoBERTa: byte-level BPE, XLM-RoBERTa: SentencePiece Unigram,
    both trained on STSb dev), at most 128 tokens."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from tokenizers import Tokenizer

    family = request.param
    folder = TOKENIZER_WRITERS[family](tmp_path_factory.mktemp("checkpoint"), sts_sentences)
    if (folder / "tokenizer.json").is_file():
        vocab_size = Tokenizer.from_file(str(folder / "tokenizer.json")).get_vocab_size()
    else:
        vocab_size = len(TINY_VOCAB)
    random_hf_model(torch, transformers, family, folder, vocab_size, positions=128)
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 128}))
    return family, folder


def test_random_family_like_sentence_transformers(random_checkpoint, sts_sentences, tmp_path):
    """sentence-transformers reads the folder as Transformer + mean pooling, and so do we: the
    same ids and embeddings on every STSb dev sentence; then our saved copy, read back by it."""
    st = pytest.importorskip("sentence_transformers")
    family, folder = random_checkpoint
    ours = SentenceEncoder.from_pretrained(folder)
    theirs = st.SentenceTransformer(str(folder), device="cpu")
    some = sts_sentences[:100]
    np.testing.assert_array_equal(
        ours.tokenizer(some)["input_ids"], theirs.tokenize(some)["input_ids"].numpy()
    )
    expected = theirs.encode(sts_sentences, batch_size=64)
    got = ours.encode(sts_sentences, batch_size=64)
    assert cosine_similarity(got, expected, xp=np).min() >= 0.99999
    ours.save_pretrained(tmp_path / "copy")
    config = json.loads((tmp_path / "copy" / "config.json").read_text())
    assert config["model_type"] == family
    again = st.SentenceTransformer(str(tmp_path / "copy"), device="cpu")
    assert cosine_similarity(again.encode(some), expected[:100], xp=np).min() >= 0.99999


def test_random_family_saved_model_matches_encode(random_checkpoint, tmp_path):
    """RoBERTa (byte-level BPE), XLM-RoBERTa (SentencePiece) and DistilBERT (WordPiece) tokenise
    in the graph: the raw-string SavedModel, served in a fresh process with only TensorFlow and
    tensorflow-text, equals ``encode``."""
    from conftest import serve_in_a_fresh_process
    from keras_siamese.export import saved_model

    _, folder = random_checkpoint
    encoder = SentenceEncoder.from_pretrained(folder)
    texts = ["A man is playing a guitar.", "Straße, café: ÉCOLE! 中文 <mask>", "x" * 300]
    expected = encoder.encode(texts)
    served = serve_in_a_fresh_process(saved_model(encoder, tmp_path / "sm"), texts, tmp_path)
    assert cosine_similarity(served, expected, xp=np).min() >= 0.99999
