"""RoBERTa (byte-level BPE) and XLM-RoBERTa (SentencePiece Unigram) tokenizers, trained on the
shared data: Python ids equal transformers', in-graph Unigram ids equal the Python ones, saving
round-trips; in_graph_tokenizer picks the in-graph twin of each family (byte-level BPE's own tests:
tests/test_byte_level_bpe.py), and raw-string TFLite files stay WordPiece-only."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer

from keras_siamese.checkpoints.sentence_transformers_format import load_tokenizer, save_tokenizer
from keras_siamese.testing import write_xlm_roberta_tokenizer
from keras_siamese.tokenizers import (
    ByteLevelBPETokenizer,
    RawStringsUnavailable,
    SentencePieceTokenizer,
    TextTokenizer,
    in_graph_tokenizer,
)

# isort: split
import keras

pytest.importorskip("sentencepiece")

MAX_LENGTH = 128
EDGE_TEXTS = [
    "",
    " ",
    "Hello <mask> world",
    "a<mask>b <s> x</s> <pad><unk>",
    "ﬁne ＦＵＬＬ ΟΔΟΣ straße İstanbul Ünïcödé e\u0301",
    "tabs\tand\nnew\r\nlines\u3000\u00a0nbsp\u200bzw\x00nul\ufffd\x07  ",
    "中文字 日本語 한국어 emoji 🙂👍🏽 7000 000",
    "▁x ▁▁y  ▁",
    "x" * 400,
]
FULL_WIDTH_SPECIALS = ["＜ｓ＞", "＜／ｓ＞", "＜ｐａｄ＞", "＜ｕｎｋ＞", "＜ｍａｓｋ＞"]


def rows(batch: dict) -> list[list[int]]:
    ids, mask = (np.asarray(batch[name]) for name in ("input_ids", "attention_mask"))
    return [row[keep == 1].tolist() for row, keep in zip(ids, mask, strict=True)]


def python_ids(tokenizer: TextTokenizer, texts: list[str]) -> list[list[int]]:
    return [ids.tolist() for ids in tokenizer.encode_ids(texts)]


def known_difference(text: str, unigram: TextTokenizer) -> bool:
    """The two known differences (module docstring of sentencepiece_tokenizer): full-width
    spellings of the special tokens, and texts that Hugging Face's grapheme-wise `Precompiled`
    normaliser and sentencepiece's longest-prefix one normalise differently ("\\xa0\\u0300")."""
    import base64

    import sentencepiece

    from keras_siamese.tokenizers.sentencepiece_tokenizer import CHAR, UNKNOWN, model_proto

    state = json.loads(unigram.to_str())
    charsmap = base64.b64decode(state["normalizer"]["precompiled_charsmap"])
    processor = sentencepiece.SentencePieceProcessor(
        model_proto=model_proto([("<unk>", 0.0, UNKNOWN)], CHAR, charsmap)
    )
    hf = unigram._tokenizer.normalizer.normalize_str(text.replace("\x00", ""))
    return (
        any(special in text for special in FULL_WIDTH_SPECIALS)
        or processor.normalize(text.replace("\x00", "")) != hf
    )


@pytest.fixture(scope="module")
def xlmr_folder(tmp_path_factory, all_sentences) -> Path:
    return write_xlm_roberta_tokenizer(tmp_path_factory.mktemp("xlmr"), all_sentences)


@pytest.fixture(scope="module")
def folders(roberta_folder, xlmr_folder) -> dict[str, Path]:
    return {"bpe": roberta_folder, "unigram": xlmr_folder}


@pytest.fixture(scope="module")
def unigram(xlmr_folder) -> TextTokenizer:
    return load_tokenizer(xlmr_folder, max_seq_length=MAX_LENGTH)


@pytest.fixture(scope="module")
def in_graph(unigram) -> SentencePieceTokenizer:
    return SentencePieceTokenizer.from_text_tokenizer(unigram)


@pytest.fixture(scope="module")
def tokenize(in_graph):
    return tf.function(in_graph)


# -- Python: the checkpoint's ids -----------------------------------------------------------


@pytest.mark.parametrize("family", ["bpe", "unigram"])
def test_python_ids_are_transformers_ids(folders, family, all_sentences):
    from transformers import AutoTokenizer

    tokenizer = load_tokenizer(folders[family], max_seq_length=MAX_LENGTH)
    reference = AutoTokenizer.from_pretrained(str(folders[family]))
    texts = all_sentences + EDGE_TEXTS
    expected = reference(texts, truncation=True, max_length=MAX_LENGTH)["input_ids"]
    ours = python_ids(tokenizer, texts)
    assert sum(a != b for a, b in zip(ours, expected, strict=True)) == 0
    assert tokenizer.family == family
    assert tokenizer.special_tokens == {
        "cls_token": "<s>",
        "sep_token": "</s>",
        "pad_token": "<pad>",
        "unk_token": "<unk>",
        "mask_token": "<mask>",
    }
    assert (tokenizer.cls_token_id, tokenizer.pad_token_id, tokenizer.sep_token_id) == (0, 1, 2)
    batch = tokenizer(["a man", ""])
    assert batch["input_ids"][1].tolist()[2:] == [1] * (batch["input_ids"].shape[1] - 2)
    assert batch["attention_mask"].dtype == np.int32


@pytest.mark.parametrize(
    ("family", "files"),
    [("bpe", ["vocab.json", "merges.txt"]), ("unigram", ["sentencepiece.bpe.model"])],
)
def test_folders_without_tokenizer_json_are_converted(folders, tmp_path, family, files):
    for name in [*files, "tokenizer_config.json"]:
        shutil.copy(folders[family] / name, tmp_path / name)
    texts = [*EDGE_TEXTS, "A man is playing a guitar."]
    converted = load_tokenizer(tmp_path, max_seq_length=MAX_LENGTH)
    original = load_tokenizer(folders[family], max_seq_length=MAX_LENGTH)
    assert python_ids(converted, texts) == python_ids(original, texts)


@pytest.mark.parametrize("family", ["bpe", "unigram"])
def test_saved_tokenizer_round_trips_into_transformers(folders, tmp_path, family):
    from transformers import AutoTokenizer

    tokenizer = load_tokenizer(folders[family], max_seq_length=16)
    save_tokenizer(tokenizer, tmp_path)
    config = json.loads((tmp_path / "tokenizer_config.json").read_text())
    expected_class = {"bpe": "RobertaTokenizer", "unigram": "XLMRobertaTokenizer"}[family]
    assert config["tokenizer_class"] == expected_class and not (tmp_path / "vocab.txt").exists()
    reference = AutoTokenizer.from_pretrained(str(tmp_path))
    texts = [*EDGE_TEXTS, "A man is playing a guitar."]
    expected = reference(texts, truncation=True, max_length=16)["input_ids"]
    assert python_ids(tokenizer, texts) == expected
    copy = load_tokenizer(tmp_path)
    assert copy.max_seq_length == 16 and python_ids(copy, texts) == expected


def test_wordpiece_settings_are_refused_for_other_families(folders):
    tokenizer = load_tokenizer(folders["bpe"])
    with pytest.raises(ValueError, match="setting of WordPiece tokenizers; this tokenizer is bpe"):
        tokenizer.normalizer_settings  # noqa: B018


# -- in-graph Unigram ------------------------------------------------------------------------


def test_in_graph_unigram_ids_on_all_shared_sentences(tokenize, unigram, all_sentences):
    texts = all_sentences + EDGE_TEXTS
    ours = []
    for start in range(0, len(texts), 1024):
        ours += rows(tokenize(tf.constant(texts[start : start + 1024])))
    expected = python_ids(unigram, texts)
    differing = [text for text, a, b in zip(texts, ours, expected, strict=True) if a != b]
    assert differing == []


def test_in_graph_known_difference(in_graph, unigram):
    """Hugging Face reads "＜ｓ＞" (normalised "<s>") as <s>; the op as unknown characters."""
    assert rows(in_graph(tf.constant(["＜ｓ＞"])))[0] != python_ids(unigram, ["＜ｓ＞"])[0]


FRAGMENTS = st.one_of(
    st.text(st.characters(codec="utf-8"), max_size=6),
    st.sampled_from([*" \t\n\u3000\u00a0▁<>/0ßﬁＡé\u0301中🙂", "<mask>", "</s>", "<s>"]),
    st.sampled_from(["the", " man", " plays", " guitar", "  ", "000"]),
)
UNICODE_TEXT = st.lists(FRAGMENTS, max_size=10).map("".join)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(texts=st.lists(UNICODE_TEXT, min_size=1, max_size=8))
def test_in_graph_unigram_ids_on_generated_text(in_graph, unigram, texts):
    texts = [text for text in texts if not known_difference(text, unigram)]
    assert rows(in_graph(tf.constant(texts, tf.string))) == python_ids(unigram, texts)


def test_in_graph_unigram_follows_max_seq_length(xlmr_folder):
    tokenizer = load_tokenizer(xlmr_folder, max_seq_length=6)
    layer = SentencePieceTokenizer.from_text_tokenizer(tokenizer)
    text = ["a man is playing a guitar and a woman is singing"]
    assert rows(layer(tf.constant(text))) == python_ids(tokenizer, text)
    tokenizer.max_seq_length = 9
    assert len(rows(layer(tf.constant(text)))[0]) == 9


def test_in_graph_unigram_in_a_keras_file_and_tf_data(tmp_path, in_graph, unigram):
    texts = ["A man plays the guitar.", "Ünïcödé ﬁne", ""]
    inputs = keras.Input(shape=(), dtype="string")
    model = keras.Model(inputs, in_graph(inputs))
    model.save(tmp_path / "tokenizer.keras")
    loaded = keras.saving.load_model(tmp_path / "tokenizer.keras")
    assert rows(loaded(tf.constant(texts))) == python_ids(unigram, texts)
    dataset = tf.data.Dataset.from_tensor_slices(texts).batch(2).map(in_graph)
    assert [row for batch in dataset for row in rows(batch)] == python_ids(unigram, texts)


def test_in_graph_tokenizer_by_family(folders):
    unigram = load_tokenizer(folders["unigram"])
    assert isinstance(in_graph_tokenizer(unigram), SentencePieceTokenizer)
    bpe = load_tokenizer(folders["bpe"])
    assert isinstance(in_graph_tokenizer(bpe), ByteLevelBPETokenizer)
    state = json.loads(bpe.to_str())
    state["model"]["dropout"] = 0.5  # a BPE pipeline without an exact twin
    exotic = TextTokenizer(Tokenizer.from_str(json.dumps(state)), max_seq_length=MAX_LENGTH)
    with pytest.raises(RawStringsUnavailable) as raised:
        in_graph_tokenizer(exotic)
    message = str(raised.value)
    assert isinstance(raised.value, ValueError) and "\n" not in message
    assert "Raw-string signatures are not available for this bpe" in message
    assert "dropout" in message and "The token-id signature still is" in message
    with pytest.raises(ValueError, match="reproduces Unigram tokenizers; this one is bpe"):
        SentencePieceTokenizer.from_text_tokenizer(bpe)
    with pytest.raises(ValueError, match="reproduces byte-level BPE tokenizers; this one is uni"):
        ByteLevelBPETokenizer.from_text_tokenizer(unigram)


# -- export -------------------------------------------------------------------------------------


def tiny_encoder(tokenizer: TextTokenizer):
    from keras_siamese.backbones import TransformerBackbone
    from keras_siamese.encoders import SentenceEncoder
    from keras_siamese.pooling import Pooling

    keras.utils.set_random_seed(0)
    backbone = TransformerBackbone(
        vocab_size=len(tokenizer.vocabulary),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=MAX_LENGTH,
    )
    encoder = SentenceEncoder(backbone, Pooling(16, ("mean",)), tokenizer=tokenizer)
    encoder.build()
    return encoder


def test_unigram_raw_string_saved_model_in_a_fresh_process(tmp_path, xlmr_folder):
    from conftest import serve_in_a_fresh_process
    from keras_siamese.export import saved_model

    encoder = tiny_encoder(load_tokenizer(xlmr_folder, max_seq_length=32))
    texts = [*EDGE_TEXTS[2:], "A man is playing a guitar."]
    folder = saved_model(encoder, tmp_path / "model")
    served = serve_in_a_fresh_process(folder, texts, tmp_path)
    np.testing.assert_allclose(served, encoder.encode(texts), atol=1e-5)


def test_bpe_exports_both_signatures_and_refuses_raw_string_tflite(tmp_path, roberta_folder):
    """The raw-string signature's parity in a fresh process: tests/test_byte_level_bpe.py."""
    from keras_siamese.export import saved_model, tflite

    encoder = tiny_encoder(load_tokenizer(roberta_folder, max_seq_length=32))
    folder = saved_model(encoder, tmp_path / "model")
    loaded = tf.saved_model.load(str(folder))
    assert set(loaded.signatures) == {"serving_default", "embed_token_ids"}
    config = json.loads((folder / "assets" / "keras_siamese_export.json").read_text())
    assert set(config["signatures"]) == {"serving_default", "embed_token_ids"}
    assert config["tokenizer"]["type"] == "byte-level-bpe"
    tokens = encoder.tokenizer(["A man is playing a guitar."])
    embedded = loaded.signatures["embed_token_ids"](
        **{k: tf.constant(v) for k, v in tokens.items()}
    )
    np.testing.assert_allclose(
        embedded["embeddings"].numpy(), encoder.encode(["A man is playing a guitar."]), atol=1e-5
    )
    with pytest.raises(ValueError, match="Raw-string TFLite files are available for WordPiece"):
        tflite(encoder, tmp_path / "model.tflite", with_tokenizer=True)
