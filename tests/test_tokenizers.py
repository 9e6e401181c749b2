"""TextTokenizer and InGraphTokenizer: layout, saving, and exact ids against Hugging Face."""

import csv
import json
import unicodedata
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer, normalizers, pre_tokenizers
from tokenizers.models import BPE

from keras_siamese.checkpoints.sentence_transformers_format import load_tokenizer, save_tokenizer
from keras_siamese.tokenizers import InGraphTokenizer, TextTokenizer

# isort: split
import keras

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
LETTERS = [chr(c) for c in range(ord("a"), ord("z") + 1)] + list("éßσςж\u0307中字!?.,'")
VOCAB = (
    SPECIALS
    + ["the", "man", "play", "##ing", "guitar", "ss", "fi"]
    + [piece for letter in LETTERS for piece in (letter, "##" + letter)]
)
TEXTS = [
    "The man is playing the guitar.",
    "Ünïcödé straße ﬁne ＦＵＬＬ ΟΔΟΣ İstanbul жжж",
    "中文字 and [MASK] or [cls] or a[SEP]b [[CLS]]",
    "tabs\tand\nnew\r\nlines\u3000\u00a0nbsp\u200bzw\x00nul\ufffd\x07",
    "x" * 101 + " " + "ж" * 60 + " " + "ж" * 101,
    "",
]
KNOWN_DIFFERENCE_SAMPLES = "\U00011938\ua7cb\U00010d50\U000105c9"  # in the generated texts


def known_difference(text: str) -> bool:
    """Whether `text` holds a character whose Hugging Face result the in-graph tokenizer knowingly
    does not reproduce (module docstring of in_graph_tokenizer): one unassigned in this Python's
    unicodedata, or U+11938."""
    return any(unicodedata.category(c) == "Cn" or c == "\U00011938" for c in text)


def rows(batch: dict) -> list[list[int]]:
    """The unpadded id rows of a tokenizer's output (NumPy or TensorFlow)."""
    ids, mask = (np.asarray(batch[name]) for name in ("input_ids", "attention_mask"))
    return [row[keep == 1].tolist() for row, keep in zip(ids, mask, strict=True)]


def make_folder(path: Path, **config) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    config = {"tokenizer_class": "BertTokenizer", "do_lower_case": True, **config}
    (path / "tokenizer_config.json").write_text(json.dumps(config))
    return path


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return make_folder(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def text_tokenizer(folder) -> TextTokenizer:
    return load_tokenizer(folder, max_seq_length=32)


@pytest.fixture(scope="module")
def in_graph(text_tokenizer) -> InGraphTokenizer:
    return InGraphTokenizer.from_text_tokenizer(text_tokenizer)


# -- TextTokenizer ---------------------------------------------------------------------------


def test_vocab_txt_folder_gives_transformers_ids(folder, text_tokenizer):
    from transformers import AutoTokenizer

    reference = AutoTokenizer.from_pretrained(str(folder))
    expected = reference(TEXTS, truncation=True, max_length=32)["input_ids"]
    assert rows(text_tokenizer(TEXTS)) == expected
    assert text_tokenizer.vocabulary == VOCAB
    assert text_tokenizer.special_tokens == {
        "cls_token": "[CLS]",
        "sep_token": "[SEP]",
        "pad_token": "[PAD]",
        "unk_token": "[UNK]",
        "mask_token": "[MASK]",
    }
    assert (text_tokenizer.cls_token_id, text_tokenizer.sep_token_id) == (2, 3)
    assert (text_tokenizer.pad_token, text_tokenizer.unk_token_id) == ("[PAD]", 1)
    assert (text_tokenizer.lowercase, text_tokenizer.strip_accents) == (True, None)
    assert text_tokenizer.tokenize_chinese_chars and text_tokenizer.max_chars_per_word == 100


def test_batch_is_int32_right_padded_to_its_longest(text_tokenizer):
    batch = text_tokenizer(["the man", ""])
    assert batch["input_ids"].dtype == np.int32 and batch["attention_mask"].dtype == np.int32
    np.testing.assert_array_equal(batch["input_ids"], [[2, 5, 6, 3], [2, 3, 0, 0]])
    np.testing.assert_array_equal(batch["attention_mask"], [[1, 1, 1, 1], [1, 1, 0, 0]])
    assert text_tokenizer([])["input_ids"].shape == (0, 0)


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        ("the man", "must be a list of strings, got str"),
        (b"the man", "got bytes"),
        (["the", None], r"texts\[1\] is NoneType, expected str"),
        (("the", "man", 3), r"texts\[2\] is int, expected str"),
    ],
)
def test_rejects_what_is_not_a_list_of_str(text_tokenizer, texts, message):
    with pytest.raises(TypeError, match=message):
        text_tokenizer(texts)


def test_folder_without_tokenizer_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        load_tokenizer(tmp_path)


@pytest.mark.parametrize(
    ("config", "sbert", "expected"),
    [
        ({}, {"max_seq_length": 256}, 256),
        ({"model_max_length": 10**30}, {}, 512),
        ({"model_max_length": 64}, {}, 64),
    ],
)
def test_default_max_seq_length(tmp_path, config, sbert, expected):
    make_folder(tmp_path, **config)
    (tmp_path / "sentence_bert_config.json").write_text(json.dumps(sbert))
    assert load_tokenizer(tmp_path).max_seq_length == expected
    assert load_tokenizer(tmp_path, max_seq_length=7).max_seq_length == 7


def test_max_seq_length_truncates(folder):
    tokenizer = load_tokenizer(folder, max_seq_length=4)
    assert rows(tokenizer(["the man plays"])) == [[2, 5, 6, 3]]
    tokenizer.max_seq_length = 5
    assert rows(tokenizer(["the man plays"])) == [[2, 5, 6, 7, 3]]
    with pytest.raises(ValueError, match="at least 2"):
        tokenizer.max_seq_length = 1


def test_max_seq_length_defaults_are_capped_by_the_positions(tmp_path):
    make_folder(tmp_path)
    (tmp_path / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 256}))
    assert load_tokenizer(tmp_path, max_positions=16).max_seq_length == 16
    assert load_tokenizer(tmp_path, max_seq_length=16, max_positions=16).max_seq_length == 16
    with pytest.raises(ValueError, match=r"must be in \[2, 16\], got 17"):
        load_tokenizer(tmp_path, max_seq_length=17, max_positions=16)


def test_vocab_txt_without_mask_token_gets_no_new_id(tmp_path):
    vocab = [token for token in VOCAB if token != "[MASK]"]
    (tmp_path / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = load_tokenizer(tmp_path, max_seq_length=16)
    assert tokenizer.vocabulary == vocab and "mask_token" not in tokenizer.special_tokens
    assert max(tokenizer(["the [MASK]"])["input_ids"][0]) < len(vocab)


def test_vocab_txt_without_a_required_special_token(tmp_path):
    vocab = [token for token in VOCAB if token != "[SEP]"]
    (tmp_path / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"lacks the special tokens \['\[SEP\]'\]"):
        load_tokenizer(tmp_path)


def test_save_writes_a_folder_that_transformers_and_we_load(text_tokenizer, tmp_path):
    from transformers import AutoTokenizer

    save_tokenizer(text_tokenizer, tmp_path)
    state = json.loads((tmp_path / "tokenizer.json").read_text())
    assert state["truncation"]["max_length"] == 32 and state["padding"] is None
    assert (tmp_path / "vocab.txt").read_text().splitlines() == VOCAB
    config = json.loads((tmp_path / "tokenizer_config.json").read_text())
    assert config["model_max_length"] == 32 and config["do_lower_case"] is True
    assert json.loads((tmp_path / "special_tokens_map.json").read_text())["mask_token"] == "[MASK]"
    expected = rows(text_tokenizer(TEXTS))
    reference = AutoTokenizer.from_pretrained(str(tmp_path))
    assert reference(TEXTS, truncation=True)["input_ids"] == expected
    reloaded = load_tokenizer(tmp_path)
    assert reloaded.max_seq_length == 32 and rows(reloaded(TEXTS)) == expected


def test_fixed_padding_and_truncation_of_tokenizer_json_are_replaced(text_tokenizer, tmp_path):
    save_tokenizer(text_tokenizer, tmp_path)
    state = json.loads((tmp_path / "tokenizer.json").read_text())
    state["truncation"]["max_length"] = 6
    state["padding"] = {
        "strategy": {"Fixed": 6},
        "direction": "Right",
        "pad_to_multiple_of": None,
        "pad_id": 0,
        "pad_type_id": 0,
        "pad_token": "[PAD]",
    }
    (tmp_path / "tokenizer.json").write_text(json.dumps(state))
    tokenizer = load_tokenizer(tmp_path, max_seq_length=9)
    assert tokenizer(["the"])["input_ids"].shape == (1, 3)
    assert tokenizer(["a b c d e f g h i j"])["input_ids"].shape == (1, 9)


def test_rejects_other_tokenizer_kinds():
    with pytest.raises(ValueError, match="Only BERT WordPiece"):
        TextTokenizer(Tokenizer(BPE()), max_seq_length=8)


# -- InGraphTokenizer ------------------------------------------------------------------------


def test_in_graph_settings_follow_the_text_tokenizer(in_graph, text_tokenizer):
    assert in_graph.vocabulary == text_tokenizer.vocabulary
    assert in_graph.special_tokens == text_tokenizer.special_tokens
    assert in_graph.max_seq_length == 32 and in_graph.lowercase and in_graph.strip_accents is None


@pytest.fixture(scope="module", params=[(True, None), (False, None), (True, False), (False, True)])
def tokenizer_pair(request, tmp_path_factory) -> tuple[TextTokenizer, InGraphTokenizer]:
    lowercase, strip_accents = request.param
    folder = make_folder(
        tmp_path_factory.mktemp("settings"),
        do_lower_case=lowercase,
        strip_accents=strip_accents,
        tokenize_chinese_chars=lowercase,
    )
    text = load_tokenizer(folder, max_seq_length=24)
    return text, InGraphTokenizer.from_text_tokenizer(text)


def test_in_graph_ids_equal_text_tokenizer_ids_on_known_traps(tokenizer_pair):
    """ß, ligatures, full-width, final sigma, İ, CJK, literal special tokens, control characters,
    long words (over 100 characters, and over 100 bytes but not characters)."""
    text, in_graph = tokenizer_pair
    assert rows(in_graph(tf.constant(TEXTS))) == rows(text(TEXTS))


ALPHABET = st.sampled_from(
    list("aAzZ ...,;!?'-éÉèçñßẞﬁﬂＡｂ１！中字丽日本ひカ한😀👍🏽ΣσςΟİıǅЖжё\u0301\u0308\u0323\u1ac1")
    + list("\x00\x07\x7f\u00ad\u200b\u200d\ufeff\ufffd\t\n\r\x0b\x0c\x85\u00a0\u3000\u2028")
    + list(KNOWN_DIFFERENCE_SAMPLES)
)
CHUNKS = st.one_of(
    st.text(ALPHABET, max_size=12),
    st.text(max_size=6),  # any code point
    st.sampled_from([*SPECIALS, "[cls]", "[MASK", "[[SEP]]", "x" * 101, "ж" * 60, "é" * 101]),
)
TEXT = st.lists(CHUNKS, max_size=8).map("".join)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=st.lists(TEXT, min_size=1, max_size=4))
def test_in_graph_ids_equal_text_tokenizer_ids(tokenizer_pair, texts):
    text, in_graph = tokenizer_pair
    expected = rows(text(texts))
    for row, got, want in zip(texts, rows(in_graph(tf.constant(texts))), expected, strict=True):
        assert got == want or known_difference(row), repr(row)


def test_in_graph_character_classes_match_hugging_face_on_every_code_point():
    """Each code point between two letters: the same words after normalisation and splitting
    (lower-casing, accent stripping, CJK), apart from the documented differences."""
    normalizer = normalizers.BertNormalizer(strip_accents=None, lowercase=True)
    splitter = pre_tokenizers.BertPreTokenizer()

    def words(text: str) -> list[bytes]:
        return [w.encode() for w, _ in splitter.pre_tokenize_str(normalizer.normalize_str(text))]

    tokenizer = InGraphTokenizer()
    codes = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    chunks = [codes[i : i + 1000] for i in range(0, len(codes), 1000)]
    texts = [" ".join(f"x{chr(c)}x" for c in chunk) for chunk in chunks]
    got = tokenizer.pre_tokenize(tf.constant(texts)).to_list()
    suspects = [
        c
        for chunk, text, w in zip(chunks, texts, got, strict=True)
        if w != words(text)
        for c in chunk
    ]
    singles = [f"x{chr(c)}x" for c in suspects]
    got = tokenizer.pre_tokenize(tf.constant(singles, tf.string)).to_list()
    differing = [t for t, w in zip(singles, got, strict=True) if w != words(t)]
    assert [t for t in differing if not known_difference(t)] == []


def test_in_graph_truncates_to_max_seq_length(folder):
    text = load_tokenizer(folder, max_seq_length=6)
    in_graph = InGraphTokenizer.from_text_tokenizer(text)
    texts = ["the man is playing the guitar", "a", "the man plays"]
    batch = in_graph(tf.constant(texts))
    assert batch["input_ids"].shape == (3, 6) and batch["input_ids"].dtype == tf.int32
    assert rows(batch) == rows(text(texts))
    assert rows(batch)[0] == [2, 5, 6, VOCAB.index("i"), VOCAB.index("##s"), 3]


def test_in_graph_reads_max_seq_length_from_its_text_tokenizer(folder):
    text = load_tokenizer(folder, max_seq_length=6)
    in_graph = InGraphTokenizer.from_text_tokenizer(text)
    text.max_seq_length = 4
    assert in_graph.max_seq_length == 4 and in_graph.get_config()["max_seq_length"] == 4
    assert in_graph(tf.constant(["the man is playing"]))["input_ids"].shape == (1, 4)
    with pytest.raises(AttributeError, match="set it there"):
        in_graph.max_seq_length = 5


def test_in_graph_empty_batch(in_graph):
    batch = in_graph(tf.constant([], tf.string))
    assert batch["input_ids"].shape == (0, 0) and batch["attention_mask"].shape == (0, 0)


def test_in_graph_in_tf_data_and_tf_function(in_graph, text_tokenizer):
    expected = rows(text_tokenizer(TEXTS))
    dataset = tf.data.Dataset.from_tensor_slices(TEXTS).batch(4).map(in_graph)
    assert [row for batch in dataset for row in rows(batch)] == expected
    tokenize = tf.function(in_graph, input_signature=[tf.TensorSpec([None], tf.string)])
    assert rows(tokenize(tf.constant(TEXTS))) == expected


def test_in_graph_keras_round_trip(in_graph, text_tokenizer, tmp_path):
    inputs = keras.Input(shape=(), dtype="string")
    model = keras.Model(inputs, in_graph(inputs))
    model.save(tmp_path / "tokenizer.keras")
    restored = keras.models.load_model(tmp_path / "tokenizer.keras")
    assert rows(restored(tf.constant(TEXTS))) == rows(text_tokenizer(TEXTS))
    layer = restored.layers[-1]
    assert isinstance(layer, InGraphTokenizer) and layer.vocabulary == VOCAB
    assert "vocabulary" not in layer.get_config()


def test_in_graph_saved_model_carries_the_vocabulary(in_graph, text_tokenizer, tmp_path):
    module = tf.Module()
    module.tokenize = tf.function(in_graph, input_signature=[tf.TensorSpec([None], tf.string)])
    tf.saved_model.save(module, str(tmp_path))
    restored = tf.saved_model.load(str(tmp_path))
    assert rows(restored.tokenize(tf.constant(TEXTS))) == rows(text_tokenizer(TEXTS))


def test_in_graph_vocabulary_errors():
    with pytest.raises(ValueError, match="no vocabulary"):
        InGraphTokenizer()(tf.constant(["a"]))
    with pytest.raises(ValueError, match=r"lacks the special tokens \['\[MASK\]'\]"):
        InGraphTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "a"])
    assert InGraphTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]"], mask_token=None).vocabulary


def test_from_text_tokenizer_splits_out_other_added_tokens(text_tokenizer, tmp_path):
    """Added tokens beyond the special ones keep their ids, as in Hugging Face: matched on the raw
    text (``normalized: false``) or on the normalised text (``normalized: true``, MPNet's
    ``<unk>``); single-word ones are refused."""
    save_tokenizer(text_tokenizer, tmp_path)
    state = json.loads((tmp_path / "tokenizer.json").read_text())
    added = state["added_tokens"]
    added.append({**added[-1], "id": 7, "content": "Man", "normalized": False})
    added.append({**added[-1], "id": 8, "content": "plays", "normalized": True})
    (tmp_path / "tokenizer.json").write_text(json.dumps(state))
    tokenizer = load_tokenizer(tmp_path)
    in_graph = InGraphTokenizer.from_text_tokenizer(tokenizer)
    assert (in_graph.added_tokens, in_graph.normalized_tokens) == (["Man"], ["plays"])
    texts = ["Man PLAYS a guitar", "a man plays", "Manplays"]
    got = in_graph(tf.constant(texts))["input_ids"].numpy()
    np.testing.assert_array_equal(got, tokenizer(texts)["input_ids"])
    added[-1]["single_word"] = True
    (tmp_path / "tokenizer.json").write_text(json.dumps(state))
    with pytest.raises(ValueError, match="single-word added tokens"):
        InGraphTokenizer.from_text_tokenizer(load_tokenizer(tmp_path))


# -- all-MiniLM-L6-v2 and the shared data ----------------------------------------------------


def shared_sentences(data: Path) -> list[str]:
    """Every sentence of STSb train + dev and of SICK train + trial."""
    sentences = []
    for name in ("sts-train.csv", "sts-dev.csv"):
        with open(data / "stsb" / name, encoding="utf-8", newline="") as file:
            for row in csv.reader(file, delimiter="\t", quoting=csv.QUOTE_NONE):
                sentences += row[5:7]
    with open(data / "sick" / "SICK_train_trial.txt", encoding="utf-8", newline="") as file:
        for row in list(csv.reader(file, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]:
            sentences += row[1:3]
    return sentences


@pytest.fixture(scope="module")
def minilm_reference(minilm_path) -> Tokenizer:
    reference = Tokenizer.from_file(str(minilm_path / "tokenizer.json"))
    reference.no_padding()
    reference.enable_truncation(256)
    return reference


@pytest.fixture(scope="module")
def minilm_tokenizers(minilm_path) -> tuple[TextTokenizer, InGraphTokenizer]:
    text = load_tokenizer(minilm_path)
    return text, InGraphTokenizer.from_text_tokenizer(text)


@pytest.mark.integration
def test_minilm_ids_on_all_shared_sentences(shared_data, minilm_reference, minilm_tokenizers):
    sentences = shared_sentences(shared_data)
    assert len(sentences) == 2 * (5749 + 1500 + 4934)
    expected = [encoding.ids for encoding in minilm_reference.encode_batch(sentences)]
    text, in_graph = minilm_tokenizers
    assert text.max_seq_length == 256
    assert rows(text(sentences)) == expected
    got = []
    for start in range(0, len(sentences), 2048):
        got += rows(in_graph(tf.constant(sentences[start : start + 2048])))
    assert got == expected


@pytest.mark.integration
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=st.lists(TEXT, min_size=1, max_size=8))
def test_minilm_in_graph_ids_on_generated_text(minilm_reference, minilm_tokenizers, texts):
    expected = [encoding.ids for encoding in minilm_reference.encode_batch(texts)]
    got = rows(minilm_tokenizers[1](tf.constant(texts)))
    for text, ids, want in zip(texts, got, expected, strict=True):
        assert ids == want or known_difference(text), repr(text)


@pytest.mark.integration
def test_minilm_truncates_at_256(minilm_reference, minilm_tokenizers):
    texts = ["word " * 300, "short"]
    text, in_graph = minilm_tokenizers
    expected = [encoding.ids for encoding in minilm_reference.encode_batch(texts)]
    assert len(expected[0]) == 256
    assert rows(text(texts)) == expected == rows(in_graph(tf.constant(texts)))
