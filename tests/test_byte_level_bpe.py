"""`ByteLevelBPETokenizer`: RoBERTa's byte-level BPE in TensorFlow ops gives the ids of the Hugging
Face tokenizer (`TextTokenizer`) on every shared sentence, on generated unicode text and in
variants of the pipeline (add_prefix_space, lstrip/rstrip and normalised added tokens, no regex,
ignore_merges, merges that must run one at a time); its character classes are Oniguruma's on every
code point; it runs in tf.data, a `.keras` file and a raw-string SavedModel served in a fresh
process."""

import json
import re

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tokenizers import AddedToken, Regex, Tokenizer, models, pre_tokenizers, processors

from keras_siamese.checkpoints.sentence_transformers_format import load_tokenizer
from keras_siamese.tokenizers import (
    ByteLevelBPETokenizer,
    RawStringsUnavailable,
    TextTokenizer,
    in_graph_tokenizer,
)
from keras_siamese.tokenizers.byte_level_bpe_tokenizer import (
    LETTERS,
    NEWER_LETTERS,
    NEWER_NUMBERS,
    NUMBERS,
    WHITESPACE,
    bpe_pipeline,
    bytes_to_unicode,
)

# isort: split
import keras

MAX_LENGTH = 128
EDGE_TEXTS = [
    "",
    " ",
    "Hello <mask> world",
    "a<mask>b <s> x</s> <pad><unk>",
    "x  <mask>  <unk>  y <mask><mask> <mask>",
    "New York ork New  York, say hi to  hi  hi ",
    "ﬁne ＦＵＬＬ ΟΔΟΣ straße İstanbul Ünïcödé e\u0301",
    "tabs\tand\nnew\r\nlines\u3000\u00a0nbsp\u200bzw\x00nul\ufffd\x07  ",
    "中文字 日本語 한국어 emoji 🙂👍🏽 7000 000 ½ ٣",
    "don't 's 'S I'll we've  'd ''s !'s x's",
    "  leading, trailing  ",
    "a  b\n\nc \n d \t\te\u00a0 f\u2028g",
    "\x00",
    "a\x00 b \x00\x00c\x01",
    "x" * 400,
]


def rows(batch: dict) -> list[list[int]]:
    ids, mask = (np.asarray(batch[name]) for name in ("input_ids", "attention_mask"))
    return [row[keep == 1].tolist() for row, keep in zip(ids, mask, strict=True)]


def python_ids(tokenizer: TextTokenizer, texts: list[str]) -> list[list[int]]:
    return [ids.tolist() for ids in tokenizer.encode_ids(texts)]


def graph(layer: ByteLevelBPETokenizer):
    return tf.function(layer, input_signature=[tf.TensorSpec([None], tf.string)])


def batched(tokenize, texts: list[str], size: int = 1024) -> list[list[int]]:
    return [row for i in range(0, len(texts), size) for row in rows(tokenize(texts[i : i + size]))]


@pytest.fixture(scope="module")
def bpe(roberta_folder) -> TextTokenizer:
    return load_tokenizer(roberta_folder, max_seq_length=MAX_LENGTH)


# -- variants of the pipeline, edited in tokenizer.json ----------------------------------------


def _stripping(state: dict) -> None:
    """As roberta-base's tokenizer.json: `<mask>` takes the whitespace before it (lstrip), the
    other special tokens are `normalized` (matched in a second pass); here `<unk>` also takes
    the whitespace after it (rstrip)."""
    for token in state["added_tokens"]:
        token["lstrip"] = token["lstrip"] or token["content"] == "<mask>"
        token["rstrip"] = token["rstrip"] or token["content"] == "<unk>"
        token["normalized"] = token["content"] != "<mask>"


def _prefix(state: dict) -> None:
    state["pre_tokenizer"]["add_prefix_space"] = True
    _stripping(state)


def _no_regex(state: dict) -> None:
    state["pre_tokenizer"]["use_regex"] = False


def _ignore_merges(state: dict) -> None:
    state["model"]["ignore_merges"] = True


EXTRA_TOKENS = [  # a normalised one (matched after the others), one that overlaps it, spaces
    AddedToken("New York", normalized=True),
    AddedToken("ork", normalized=False),
    AddedToken(" hi ", normalized=False),
]
VARIANTS = {
    "trained": (None, False),
    "roberta": (_stripping, True),
    "prefix": (_prefix, True),
    "no_regex": (_no_regex, False),
    "ignore_merges": (_ignore_merges, False),
}


def variant(tokenizer: TextTokenizer, edit=None, extra: bool = False, max_seq_length=MAX_LENGTH):
    state = json.loads(tokenizer.to_str())
    if edit is not None:
        edit(state)
    edited = Tokenizer.from_str(json.dumps(state))
    if extra:
        edited.add_tokens(EXTRA_TOKENS)
    return TextTokenizer(edited, max_seq_length=max_seq_length)


@pytest.fixture(scope="module", params=list(VARIANTS))
def pair(request, bpe) -> tuple[TextTokenizer, object]:
    text = variant(bpe, *VARIANTS[request.param])
    return text, graph(ByteLevelBPETokenizer.from_text_tokenizer(text))


# -- the ids -------------------------------------------------------------------------------------


def test_ids_on_all_shared_sentences(bpe, all_sentences):
    layer = ByteLevelBPETokenizer.from_text_tokenizer(bpe)
    assert layer._all_at_once  # trained merges: all occurrences of the best pair in one step
    texts = all_sentences + EDGE_TEXTS
    ours, expected = batched(graph(layer), texts), python_ids(bpe, texts)
    differing = [text for text, a, b in zip(texts, ours, expected, strict=True) if a != b]
    assert differing == []


def test_variants_on_edge_texts_and_sentences(pair, all_sentences):
    text, tokenize = pair
    texts = EDGE_TEXTS + all_sentences[::10]
    assert batched(tokenize, texts) == python_ids(text, texts)


WHITESPACE_RUNS = " \t\n\r\x0b\x0c\x85\xa0\u1680\u2009\u2028\u3000\x00\x01"
FRAGMENTS = st.one_of(
    st.text(st.characters(codec="utf-8"), max_size=6),  # any code point
    st.text(st.sampled_from(list(WHITESPACE_RUNS)), min_size=1, max_size=4),
    st.sampled_from(["don't", "'s", "'S", "'ll", "I'm", "we've", "'re", "'d", "''", " '", "x's"]),
    st.sampled_from(
        ["123", " 4.5", "٣", "½", "🙂", "👍🏽", "👨\u200d👩\u200d👧", "中文", "한국어"]
    ),
    st.sampled_from(["é", "e\u0301", "ß", "ﬁ", "Ｆ", "Ω", "\ufffd", "\x7f", "\u200b", "\ufeff"]),
    st.sampled_from(
        ["<mask>", "</s>", "<s>", "<pad>", "<unk>", "New York", "ork", " hi ", "<mask"]
    ),
    st.sampled_from(["the", " man", " plays", " guitar", "  ", "000", "A", " A", "x" * 40]),
)
UNICODE_TEXT = st.lists(FRAGMENTS, max_size=10).map("".join)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(texts=st.lists(UNICODE_TEXT, min_size=1, max_size=8))
def test_ids_on_generated_text(pair, texts):
    text, tokenize = pair
    assert rows(tokenize(tf.constant(texts, tf.string))) == python_ids(text, texts)


@pytest.mark.parametrize("max_seq_length", [2, 3, 5, 9])
def test_truncation_at_small_max_seq_length(bpe, max_seq_length):
    text = variant(bpe, _prefix, extra=True, max_seq_length=max_seq_length)
    layer = ByteLevelBPETokenizer.from_text_tokenizer(text)
    texts = [*EDGE_TEXTS, "A man is playing a guitar.", "<mask> <mask> <mask> <mask> <mask>"]
    batch = layer(tf.constant(texts))
    assert batch["input_ids"].shape[1] == max_seq_length and batch["input_ids"].dtype == tf.int32
    assert rows(batch) == python_ids(text, texts)


def test_reads_max_seq_length_from_its_text_tokenizer(roberta_folder):
    text = load_tokenizer(roberta_folder, max_seq_length=6)
    layer = ByteLevelBPETokenizer.from_text_tokenizer(text)
    sentence = ["a man is playing a guitar and a woman is singing"]
    assert rows(layer(tf.constant(sentence))) == python_ids(text, sentence)
    text.max_seq_length = 9
    assert len(rows(layer(tf.constant(sentence)))[0]) == 9
    assert layer.get_config()["max_seq_length"] == 9
    with pytest.raises(AttributeError, match="set it there"):
        layer.max_seq_length = 5


def test_invalid_utf8_and_empty_batch(bpe):
    layer = ByteLevelBPETokenizer.from_text_tokenizer(bpe)
    raw = [b"caf\xc3 \xff\xfe x\xed\xa0\x80y", b"ok\xe2\x82"]
    decoded = [text.decode("utf-8", errors="replace") for text in raw]
    assert rows(layer(tf.constant(raw))) == python_ids(bpe, decoded)
    batch = layer(tf.constant([], tf.string))
    assert batch["input_ids"].shape == (0, 0) and batch["attention_mask"].shape == (0, 0)


# -- character classes and BPE steps ------------------------------------------------------------


def _onig_class(pattern: str, codes: list[int]) -> list[int]:
    """The code points that Oniguruma (as Hugging Face compiles it) matches with ``pattern``."""
    split = pre_tokenizers.Split(Regex(pattern), behavior="removed")
    found = []
    for start in range(0, len(codes), 50_000):
        chunk = codes[start : start + 50_000]
        kept = np.zeros(len(chunk), bool)
        for _, (begin, end) in split.pre_tokenize_str("".join(map(chr, chunk))):
            kept[begin:end] = True
        found += [code for code, keep in zip(chunk, kept, strict=True) if not keep]
    return found


def test_character_classes_are_oniguruma_on_every_code_point():
    """`\\s`, `\\p{L}`, `\\p{N}` of GPT-2's pattern: RE2's classes here (with the newer letters and
    digits added) hold the same code points as Oniguruma's in tokenizers."""
    codes = [code for code in range(0x110000) if not 0xD800 <= code <= 0xDFFF]
    strings = tf.constant([chr(code).encode() for code in codes])
    for onig, ours in [(r"\s", WHITESPACE), (r"\p{L}", LETTERS), (r"\p{N}", NUMBERS)]:
        matched = tf.strings.regex_full_match(strings, f"[{ours}]")
        assert tf.boolean_mask(codes, matched).numpy().tolist() == _onig_class(onig, codes), onig


def test_pre_tokenization_is_hugging_face_on_many_code_points():
    """Each code point between letters, digits and punctuation ("x{c}0{c}!": four different
    splits for its four classes), for the first 12,544 code points, the newer letters and digits
    and every 41st code point beyond: the pieces of Hugging Face's ByteLevel pre-tokeniser."""
    newer = []
    for low, high in re_ranges(NEWER_LETTERS + NEWER_NUMBERS):
        newer += range(low, high + 1)
    sample = [*range(0x3100), *newer, *range(0x3100, 0x110000, 41)]
    codes = sorted({code for code in sample if not 0xD800 <= code <= 0xDFFF})
    texts = [
        "".join(f"x{chr(c)}0{chr(c)}!" for c in codes[i : i + 500])
        for i in range(0, len(codes), 500)
    ]
    table = bytes_to_unicode()
    reference = pre_tokenizers.ByteLevel(add_prefix_space=False)
    got = ByteLevelBPETokenizer().pre_tokenize(tf.constant(texts)).to_list()
    for text, pieces in zip(texts, got, strict=True):
        mapped = ["".join(table[byte] for byte in piece) for piece in pieces]
        assert mapped == [piece for piece, _ in reference.pre_tokenize_str(text)]


def re_ranges(ranges: str) -> list[tuple[int, int]]:
    """``\\x{A}-\\x{B}\\x{C}`` -> [(A, B), (C, C)]."""
    found = re.findall(r"\\x\{([0-9A-F]+)\}(?:-\\x\{([0-9A-F]+)\})?", ranges)
    return [(int(low, 16), int(high or low, 16)) for low, high in found]


def _handmade(merges: list[tuple[str, str]], extra_tokens: list[str]) -> TextTokenizer:
    tokens = ["<s>", "<pad>", "</s>", "<unk>", *bytes_to_unicode().values(), *extra_tokens]
    bpe = Tokenizer(models.BPE({token: i for i, token in enumerate(tokens)}, merges))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0))
    return TextTokenizer(bpe, max_seq_length=64)


@pytest.mark.parametrize(
    ("merges", "extra", "all_at_once"),
    [
        # consistent, with runs of one pair (x x x): every other one from the first
        ([("a", "a"), ("aa", "a"), ("aa", "aa"), ("b", "aa")], ["aa", "aaa", "aaaa", "baa"], True),
        # "ab a" ranks before "a b" makes "ab": Hugging Face merges one pair at a time
        ([("ab", "a"), ("a", "b"), ("b", "a")], ["ab", "aba", "ba"], False),
    ],
)
def test_merge_order_is_hugging_face_priority_queue(merges, extra, all_at_once):
    text = _handmade(merges, extra)
    layer = ByteLevelBPETokenizer.from_text_tokenizer(text)
    assert layer._all_at_once == all_at_once
    texts = ["a" * n for n in range(1, 10)] + ["abab", "ababab", "baab", "abaaba", "b" + "a" * 7]
    texts += [" ".join(texts), "x aab abba"]
    assert rows(layer(tf.constant(texts))) == python_ids(text, texts)


def test_refused_pipelines(bpe):
    state = json.loads(bpe.to_str())
    assert bpe_pipeline(state)["merges"][0] == ["i", "n"]
    for path, value, message in [
        (("normalizer",), {"type": "Lowercase"}, "normalizer Lowercase"),
        (("model", "dropout"), 0.1, "dropout"),
        (("model", "continuing_subword_prefix"), "##", "continuing_subword_prefix"),
        (("model", "type"), "WordPiece", "Only BPE"),
        (("pre_tokenizer",), {"type": "Whitespace"}, "not ByteLevel"),
    ]:
        edited = json.loads(json.dumps(state))
        target = edited
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        with pytest.raises(ValueError, match=message):
            bpe_pipeline(edited)
    edited = json.loads(json.dumps(state))
    edited["added_tokens"][4]["single_word"] = True
    with pytest.raises(ValueError, match="Single-word added tokens"):
        bpe_pipeline(edited)
    single_word = TextTokenizer(Tokenizer.from_str(json.dumps(edited)), max_seq_length=8)
    with pytest.raises(RawStringsUnavailable, match="Single-word added tokens"):
        in_graph_tokenizer(single_word)  # which exports turn into token ids only
    small = _handmade([], [])
    state = json.loads(small.to_str())
    del state["model"]["vocab"]["Ġ"]
    with pytest.raises(ValueError, match="lacks the byte symbols"):
        ByteLevelBPETokenizer(**bpe_pipeline(state))
    with pytest.raises(ValueError, match="no vocabulary"):
        ByteLevelBPETokenizer()(tf.constant(["a"]))
    with pytest.raises(ValueError, match="empty or hold NUL"):
        ByteLevelBPETokenizer(added_tokens=[{"content": "a\x00", "id": 9}])


# -- graph mode, files, export -------------------------------------------------------------------


def test_tf_data_keras_file_and_in_graph_tokenizer(tmp_path, bpe):
    layer = in_graph_tokenizer(bpe)
    assert isinstance(layer, ByteLevelBPETokenizer)
    texts = [*EDGE_TEXTS[2:], "A man plays the guitar.", ""]
    expected = python_ids(bpe, texts)
    dataset = tf.data.Dataset.from_tensor_slices(texts).batch(3).map(layer)
    assert [row for batch in dataset for row in rows(batch)] == expected
    inputs = keras.Input(shape=(), dtype="string")
    model = keras.Model(inputs, layer(inputs))
    model.save(tmp_path / "tokenizer.keras")
    restored = keras.saving.load_model(tmp_path / "tokenizer.keras")
    assert rows(restored(tf.constant(texts))) == expected
    copy = restored.layers[-1]
    assert isinstance(copy, ByteLevelBPETokenizer) and "vocabulary" not in copy.get_config()


def tiny_roberta(tokenizer: TextTokenizer):
    """A random-weight RoBERTa (positions after the pad id, one token type) with ``tokenizer``."""
    from keras_siamese.backbones import TransformerBackbone
    from keras_siamese.encoders import SentenceEncoder
    from keras_siamese.pooling import Pooling

    keras.utils.set_random_seed(0)
    backbone = TransformerBackbone(
        model_type="roberta",
        vocab_size=len(tokenizer.vocabulary),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=tokenizer.max_seq_length + 2,
        type_vocab_size=1,
        pad_token_id=tokenizer.pad_token_id,
        layer_norm_eps=1e-5,
    )
    encoder = SentenceEncoder(backbone, Pooling(16, ("mean",)), tokenizer=tokenizer)
    encoder.build()
    return encoder


def test_raw_string_saved_model_in_a_fresh_process(tmp_path, roberta_folder, all_sentences):
    from conftest import serve_in_a_fresh_process
    from keras_siamese.export import saved_model

    encoder = tiny_roberta(load_tokenizer(roberta_folder, max_seq_length=32))
    texts = [*EDGE_TEXTS[2:], *all_sentences[:200]]
    folder = saved_model(encoder, tmp_path / "model")
    config = json.loads((folder / "assets" / "keras_siamese_export.json").read_text())
    assert set(config["signatures"]) == {"serving_default", "embed_token_ids"}
    assert config["tokenizer"]["type"] == "byte-level-bpe"
    served = serve_in_a_fresh_process(folder, texts, tmp_path)
    np.testing.assert_allclose(served, encoder.encode(texts), atol=1e-5)


def test_bpe_without_an_exact_twin_exports_token_ids_only(tmp_path, bpe):
    """A BPE pipeline the layer refuses (here a single-word added token): the export warns and
    keeps the token-id signature, which equals ``encode``."""
    from keras_siamese.export import saved_model

    state = json.loads(bpe.to_str())
    state["added_tokens"][4]["single_word"] = True
    tokenizer = TextTokenizer(Tokenizer.from_str(json.dumps(state)), max_seq_length=32)
    encoder = tiny_roberta(tokenizer)
    with pytest.warns(UserWarning, match="Raw-string signatures are not available for this bpe"):
        folder = saved_model(encoder, tmp_path / "model")
    signatures = tf.saved_model.load(str(folder)).signatures
    assert set(signatures) == {"embed_token_ids"}
    texts = ["A man is playing a guitar.", "<mask> x"]
    tokens = {name: tf.constant(value) for name, value in tokenizer(texts).items()}
    served = signatures["embed_token_ids"](**tokens)["embeddings"].numpy()
    np.testing.assert_allclose(served, encoder.encode(texts), atol=1e-5)
