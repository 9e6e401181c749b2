"""Tiny random-weight encoders for tests and docstring examples: no download, built in a second.

>>> import tempfile
>>> encoder = make_tiny_encoder(write_tiny_vocabulary(tempfile.mkdtemp()))
>>> encoder.encode(["a man plays guitar"]).shape
(1, 16)
"""

import json
from collections.abc import Sequence
from pathlib import Path

from keras_siamese import backend  # noqa: F401  (selects the TensorFlow backend first)

# isort: split
import keras

from keras_siamese.backbones import TransformerBackbone
from keras_siamese.checkpoints import load_tokenizer
from keras_siamese.checkpoints.sentence_transformers_format import (
    SENTENCEPIECE_FILE,
    TOKENIZER_CONFIG_FILE,
    TOKENIZER_FILE,
    VOCAB_FILE,
)
from keras_siamese.encoders import SentenceEncoder
from keras_siamese.pooling import Pooling

TINY_WORDS = (  # noqa: SIM905
    "the a an is are man woman dog cat plays playing guitar piano runs running eats food "
    "park street car red blue big small happy sad . , ! ? ' - and of in on with"
).split()
TINY_VOCAB = list(
    dict.fromkeys(
        ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        + TINY_WORDS
        + [chr(c) for c in range(ord("a"), ord("z") + 1)]
        + ["##" + chr(c) for c in range(ord("a"), ord("z") + 1)]
    )
)
TINY_HIDDEN_SIZE = 16


def write_tiny_vocabulary(folder: str | Path) -> Path:
    """Writes the vocabulary (``TINY_VOCAB``) and tokenizer configuration (lower-cased BERT
    WordPiece) of a checkpoint folder into ``folder`` and returns it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / VOCAB_FILE).write_text("\n".join(TINY_VOCAB) + "\n", encoding="utf-8")
    config = {"do_lower_case": True, "tokenizer_class": "BertTokenizer"}
    (folder / TOKENIZER_CONFIG_FILE).write_text(json.dumps(config), encoding="utf-8")
    return folder


def make_tiny_encoder(
    vocab_folder: str | Path,
    modes: Sequence[str] = ("mean",),
    normalize: bool = True,
    projections: Sequence[keras.layers.Layer] = (),
    seed: int = 0,
) -> SentenceEncoder:
    """A built, randomly initialised 2-layer encoder (hidden size 16, 2 heads, at most 32 tokens)
    with the vocabulary of ``vocab_folder`` (see ``write_tiny_vocabulary``); the same ``seed``
    gives the same weights."""
    keras.utils.set_random_seed(seed)
    backbone = TransformerBackbone(
        vocab_size=len(TINY_VOCAB),
        hidden_size=TINY_HIDDEN_SIZE,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
    )
    tokenizer = load_tokenizer(vocab_folder, max_seq_length=32)
    pooling = Pooling(TINY_HIDDEN_SIZE, modes)
    encoder = SentenceEncoder(backbone, pooling, list(projections), normalize, tokenizer)
    encoder.build()
    return encoder


# -- tokenizer folders of the other families, trained on given sentences ------------------------

ROBERTA_SPECIALS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")


def write_roberta_tokenizer(
    folder: str | Path, sentences: Sequence[str], vocab_size: int = 2000
) -> Path:
    """Trains a byte-level BPE (RoBERTa's layout: ``<s>`` 0, ``<pad>`` 1, ``</s>`` 2, ``<unk>``
    3, ``<mask>`` 4, ByteLevel pre-tokeniser, RobertaProcessing) on ``sentences`` and writes a
    RoBERTa tokenizer folder that transformers' ``AutoTokenizer`` and ``load_tokenizer`` read:
    ``tokenizer.json``, ``vocab.json``, ``merges.txt``, ``tokenizer_config.json``,
    ``special_tokens_map.json``. Returns ``folder``. Takes about a second for 20,000 sentences.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    from keras_siamese.checkpoints.sentence_transformers_format import save_tokenizer
    from keras_siamese.tokenizers import TextTokenizer

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(ROBERTA_SPECIALS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(list(sentences), trainer)
    bpe.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0))
    save_tokenizer(TextTokenizer(bpe, max_seq_length=512), Path(folder))
    return Path(folder)


def write_xlm_roberta_tokenizer(
    folder: str | Path,
    sentences: Sequence[str],
    vocab_size: int = 2000,
    sentencepiece_only: bool = False,
) -> Path:
    """Trains a SentencePiece Unigram with the ``sentencepiece`` trainer (fairseq's layout, as
    XLM-RoBERTa's ``sentencepiece.bpe.model``) on ``sentences`` and writes an XLM-RoBERTa
    tokenizer folder: ``sentencepiece.bpe.model`` and ``tokenizer_config.json``, plus, unless
    ``sentencepiece_only``, the ``tokenizer.json`` that transformers' ``XLMRobertaTokenizerFast``
    converts from it (ids: ``<s>`` 0, ``<pad>`` 1, ``</s>`` 2, ``<unk>`` 3, the pieces, ``<mask>``
    last). Needs ``sentencepiece`` and ``transformers``. Returns ``folder``; a few seconds."""
    import sentencepiece

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(list(sentences)),
        model_prefix=str(folder / SENTENCEPIECE_FILE.removesuffix(".model")),
        vocab_size=vocab_size,
        model_type="unigram",
        character_coverage=0.9995,
        minloglevel=2,
    )
    (folder / SENTENCEPIECE_FILE.replace(".model", ".vocab")).unlink()
    if not sentencepiece_only:
        from transformers import XLMRobertaTokenizerFast

        converted = XLMRobertaTokenizerFast.from_pretrained(str(folder), local_files_only=True)
        converted.backend_tokenizer.save(str(folder / TOKENIZER_FILE))
    config = {
        "tokenizer_class": "XLMRobertaTokenizer",
        "model_max_length": 512,
        "bos_token": "<s>",
        "pad_token": "<pad>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "mask_token": "<mask>",
        "cls_token": "<s>",
        "sep_token": "</s>",
    }
    (folder / TOKENIZER_CONFIG_FILE).write_text(json.dumps(config, indent=2), encoding="utf-8")
    return folder
