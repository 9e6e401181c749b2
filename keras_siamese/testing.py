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
    TOKENIZER_CONFIG_FILE,
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
