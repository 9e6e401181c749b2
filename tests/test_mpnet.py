"""MPNet: a random-weight model built with transformers (unit tests: layer by layer and end to
end against torch), and the real all-mpnet-base-v2 against sentence-transformers on every STSb dev
sentence (integration: ``mpnet_path``, assembled by ``bench/weights.py``)."""

import json

import numpy as np
import pytest

from conftest import serve_in_a_fresh_process, sts_spearman
from keras_siamese.backbones import TransformerBackbone
from keras_siamese.backbones.transformer_layers import relative_position_bucket
from keras_siamese.checkpoints.sentence_transformers_format import load_backbone
from keras_siamese.encoders import SentenceEncoder
from keras_siamese.similarity import cosine_similarity
from keras_siamese.testing import TINY_WORDS

MPNET_SPECIAL = ["<s>", "<pad>", "</s>", "<unk>", "[UNK]"]
SENTENCES = [
    "A man plays the guitar.",
    "the dog runs in the park with a red car and a big happy cat",
    "<s> literal <mask> and <UNK> tokens </s>",
    "Straße, café: ÉCOLE!",
]


def _write_mpnet_tokenizer(folder, vocab: list[str]) -> None:
    """all-mpnet-base-v2's tokenizer files for ``vocab``: the same normaliser, template and added
    tokens (``<unk>`` matched on normalised text, ``<mask>`` with lstrip)."""
    from tokenizers import AddedToken, Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordPiece

    ids = {token: i for i, token in enumerate(vocab)}
    tokenizer = Tokenizer(WordPiece(ids, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=None)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = processors.RobertaProcessing(
        ("</s>", ids["</s>"]), ("<s>", ids["<s>"])
    )
    tokenizer.add_special_tokens(
        [
            *(AddedToken(t, normalized=False) for t in ("<s>", "<pad>", "</s>")),
            AddedToken("<unk>", normalized=True),
            AddedToken("[UNK]", normalized=False),
            AddedToken("<mask>", lstrip=True, normalized=False),
        ]
    )
    tokenizer.save(str(folder / "tokenizer.json"))
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    roles = {
        "bos_token": "<s>",
        "eos_token": "</s>",
        "sep_token": "</s>",
        "cls_token": "<s>",
        "unk_token": "[UNK]",
        "pad_token": "<pad>",
        "mask_token": "<mask>",
    }
    config = {"do_lower_case": True, "model_max_length": 64, "tokenizer_class": "MPNetTokenizer"}
    (folder / "tokenizer_config.json").write_text(json.dumps({**config, **roles}))
    (folder / "special_tokens_map.json").write_text(json.dumps(roles))


def _torch():
    return pytest.importorskip("torch"), pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def random_mpnet(tmp_path_factory):
    """A plain Hugging Face folder: a random MPNetModel (LayerNorm, biases and the relative
    attention bias perturbed away from their initial values) and an MPNet WordPiece tokenizer."""
    torch, transformers = _torch()
    folder = tmp_path_factory.mktemp("random_mpnet")
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    vocab = [*MPNET_SPECIAL, *TINY_WORDS, *letters, *("##" + c for c in letters), "<mask>"]
    vocab = list(dict.fromkeys(vocab))
    _write_mpnet_tokenizer(folder, vocab)
    torch.manual_seed(0)
    config = transformers.MPNetConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=66,
    )
    model = transformers.MPNetModel(config, add_pooling_layer=False).eval()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "LayerNorm" in name or name.endswith("bias") or "relative_attention" in name:
                parameter.add_(0.3 * torch.randn_like(parameter))
    model.save_pretrained(str(folder))
    return folder, model


def test_relative_position_bucket_equals_hugging_face():
    torch, _ = _torch()
    from transformers.models.mpnet.modeling_mpnet import MPNetEncoder

    distances = np.arange(-2000, 2001)
    theirs = MPNetEncoder.relative_position_bucket(torch.from_numpy(distances)).numpy()
    ours = relative_position_bucket(distances.astype("int32"))
    np.testing.assert_array_equal(np.asarray(ours), theirs)


def test_random_mpnet_layers_equal_torch(random_mpnet):
    torch, _ = _torch()
    folder, model = random_mpnet
    backbone = load_backbone(folder)
    ids = np.array([[0, 7, 9, 12, 30, 2], [0, 8, 2, 1, 1, 1]], dtype="int32")
    mask = (ids != 1).astype("int32")
    with torch.no_grad():
        out = model(
            input_ids=torch.from_numpy(ids).long(),
            attention_mask=torch.from_numpy(mask).long(),
            output_hidden_states=True,
        )
    theirs = [h.numpy() for h in out.hidden_states]
    x = backbone.embeddings(ids)
    np.testing.assert_allclose(np.asarray(x), theirs[0], atol=1e-5)
    bias = backbone.relative_position_bias(ids)
    for block, expected in zip(backbone.blocks, theirs[1:], strict=True):
        x = block(x, mask, bias)
        real = mask.astype(bool)
        np.testing.assert_allclose(np.asarray(x)[real], expected[real], atol=1e-5)
    final = backbone({"input_ids": ids, "attention_mask": mask})
    np.testing.assert_allclose(np.asarray(final)[real], theirs[-1][real], atol=1e-5)


def test_random_mpnet_embeddings_equal_sentence_transformers(random_mpnet, tmp_path):
    st = pytest.importorskip("sentence_transformers")
    folder, _ = random_mpnet
    ours = SentenceEncoder.from_pretrained(folder)
    theirs = st.SentenceTransformer(str(folder), device="cpu")
    np.testing.assert_array_equal(
        ours.tokenizer(SENTENCES)["input_ids"], theirs.tokenize(SENTENCES)["input_ids"]
    )
    expected = theirs.encode(SENTENCES)
    np.testing.assert_allclose(ours.encode(SENTENCES), expected, atol=1e-5)
    # Written back by us: sentence-transformers reads it and finds the same model.
    ours.save_pretrained(tmp_path / "copy")
    config = json.loads((tmp_path / "copy" / "config.json").read_text())
    assert config["model_type"] == "mpnet" and config["architectures"] == ["MPNetModel"]
    again = st.SentenceTransformer(str(tmp_path / "copy"), device="cpu")
    np.testing.assert_allclose(again.encode(SENTENCES), expected, atol=1e-5)


def test_random_mpnet_in_graph_tokenizer_equals_python(random_mpnet):
    import tensorflow as tf

    folder, _ = random_mpnet
    tokenizer = SentenceEncoder.from_pretrained(folder).tokenizer
    from keras_siamese.tokenizers import InGraphTokenizer

    in_graph = InGraphTokenizer.from_text_tokenizer(tokenizer)
    assert in_graph.normalized_tokens == ["<unk>"]
    texts = [*SENTENCES, "", "<Unk>the <unk>a <pad></s>", "THE <MASK> <mask>"]
    got = in_graph(tf.constant(texts))["input_ids"].numpy()
    np.testing.assert_array_equal(got, tokenizer(texts)["input_ids"])
    copy = InGraphTokenizer.from_config(in_graph.get_config())
    copy.set_vocabulary(in_graph.vocabulary)
    np.testing.assert_array_equal(copy(tf.constant(texts))["input_ids"].numpy(), got)


def test_random_mpnet_missing_and_misshapen_weights(random_mpnet, tmp_path):
    from safetensors.numpy import load_file, save_file

    folder, _ = random_mpnet
    tensors = load_file(str(folder / "model.safetensors"))
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text((folder / "config.json").read_text())
    key = "encoder.relative_attention_bias.weight"
    save_file({k: v for k, v in tensors.items() if k != key}, str(broken / "model.safetensors"))
    with pytest.raises((KeyError, ValueError), match="relative_attention_bias"):
        load_backbone(broken)
    save_file({**tensors, key: np.zeros((16, 4), "float32")}, str(broken / "model.safetensors"))
    with pytest.raises(ValueError, match="relative_attention_bias"):
        load_backbone(broken)


def test_mpnet_backbone_config_round_trip():
    backbone = TransformerBackbone(
        vocab_size=20,
        hidden_size=8,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=16,
        model_type="mpnet",
        max_position_embeddings=20,
        pad_token_id=1,
    )
    copy = TransformerBackbone.from_config(backbone.get_config())
    assert copy.config == backbone.config
    assert copy.embeddings.token_type_embeddings is None
    assert copy.relative_position_bias is not None
    assert copy.config.max_sequence_length == 18


# -- the real all-mpnet-base-v2 -------------------------------------------------------------------


# A quarter of STSb dev (its first 375 pairs, 741 sentences): MPNet is 5x MiniLM's cost, whose
# tests (test_parity.py) cover every STSb dev sentence.
MPNET_PAIRS = 375


@pytest.fixture(scope="module")
def mpnet_dev(sts_dev):
    return sts_dev.select(range(MPNET_PAIRS))


@pytest.fixture(scope="module")
def mpnet_sentences(mpnet_dev) -> list[str]:
    return list(dict.fromkeys(mpnet_dev.columns["text_a"] + mpnet_dev.columns["text_b"]))


@pytest.fixture(scope="module")
def mpnet_embeddings(mpnet, mpnet_sentences) -> np.ndarray:
    return mpnet.encode(mpnet_sentences, batch_size=64, show_progress_bar=False)


@pytest.fixture(scope="module")
def reference_embeddings(reference_mpnet, mpnet_sentences) -> np.ndarray:
    return reference_mpnet.encode(mpnet_sentences, batch_size=64, show_progress_bar=False)


@pytest.mark.integration
@pytest.mark.reference
def test_all_mpnet_stsb_dev_sentences_match_sentence_transformers(
    mpnet_sentences, mpnet_embeddings, reference_embeddings
):
    cosines = cosine_similarity(mpnet_embeddings, reference_embeddings, xp=np)
    assert cosines.shape == (len(mpnet_sentences),)
    assert cosines.min() >= 0.99999, mpnet_sentences[int(np.argmin(cosines))]


@pytest.mark.integration
@pytest.mark.reference
def test_all_mpnet_stsb_dev_spearman_equals_sentence_transformers(
    mpnet_dev, mpnet_sentences, mpnet_embeddings, reference_embeddings
):
    ours = sts_spearman(mpnet_dev, mpnet_sentences, mpnet_embeddings)
    theirs = sts_spearman(mpnet_dev, mpnet_sentences, reference_embeddings)
    assert abs(ours - theirs) <= 0.01, (ours, theirs)


@pytest.mark.integration
def test_all_mpnet_in_graph_tokenizer_equals_python(mpnet, mpnet_sentences):
    import tensorflow as tf

    tokenizer = mpnet.tokenizer
    in_graph = mpnet.in_graph_tokenizer()
    got = in_graph(tf.constant(mpnet_sentences))["input_ids"].numpy()
    np.testing.assert_array_equal(got, tokenizer(mpnet_sentences)["input_ids"])


@pytest.mark.integration
@pytest.mark.reference
def test_all_mpnet_saved_folder_loads_in_sentence_transformers(
    mpnet, mpnet_sentences, reference_embeddings, tmp_path
):
    from sentence_transformers import SentenceTransformer

    mpnet.save_pretrained(tmp_path / "copy")
    copy = SentenceTransformer(str(tmp_path / "copy"), device="cpu")
    some = mpnet_sentences[::25]
    embeddings = copy.encode(some, batch_size=64)
    assert cosine_similarity(embeddings, reference_embeddings[::25], xp=np).min() >= 0.99999


@pytest.mark.integration
def test_all_mpnet_raw_string_saved_model_matches_encode(
    mpnet, mpnet_sentences, mpnet_embeddings, tmp_path
):
    """In a fresh process with only TensorFlow and tensorflow-text, on every 3rd sentence."""
    from keras_siamese.export import saved_model

    folder = saved_model(mpnet, tmp_path / "mpnet")
    some = list(range(0, len(mpnet_sentences), 3))
    served = serve_in_a_fresh_process(folder, [mpnet_sentences[i] for i in some], tmp_path)
    cosines = cosine_similarity(served, mpnet_embeddings[some], xp=np)
    assert cosines.min() >= 0.99999, mpnet_sentences[some[int(np.argmin(cosines))]]


@pytest.mark.integration
def test_all_mpnet_float_tflite_matches_encode(mpnet, mpnet_sentences, mpnet_embeddings, tmp_path):
    """The float32 TFLite file (token ids in, tokenised by ``TfliteEncoder`` in Python), on
    every 10th sentence."""
    from keras_siamese.export import TfliteEncoder, tflite

    encoder = TfliteEncoder(tflite(mpnet, tmp_path / "mpnet.tflite"))
    some = list(range(0, len(mpnet_sentences), 10))
    embeddings = encoder.encode([mpnet_sentences[i] for i in some], batch_size=64)
    cosines = cosine_similarity(embeddings, mpnet_embeddings[some], xp=np)
    assert cosines.min() >= 0.99999, mpnet_sentences[some[int(np.argmin(cosines))]]


def test_mpnet_backbone_passes_the_conformance_harness(tmp_path):
    """The harness's layer contracts on an MPNet backbone (relative bias, no token types, padded
    positions); ``tests/test_conformance.py`` runs them on the BERT one."""
    import conformance
    import keras

    def make(**kwargs):
        return TransformerBackbone(
            vocab_size=30,
            hidden_size=8,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=16,
            max_position_embeddings=16,
            model_type="mpnet",
            pad_token_id=1,
            **kwargs,
        )

    def inputs():
        mask = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype="int32")
        ids = np.random.default_rng(0).integers(5, 30, size=(2, 5)).astype("int32")
        return ({"input_ids": np.where(mask == 1, ids, 1), "attention_mask": mask},)

    case = conformance.LayerCase(make, inputs, dtype_kwarg=False)
    keras.config.set_dtype_policy("float32")
    try:
        conformance.run_layer_serialization_test(case)
        conformance.run_functional_test(case)
        conformance.run_model_saving_test(case, tmp_path)
        conformance.run_precision_test(case)
    finally:
        keras.config.set_dtype_policy("float32")
