"""The encoder as a ``tf.Module``: its weights, its tokenizer and the functions both exports use."""

import contextlib
import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import tensorflow as tf

from keras_siamese import __version__
from keras_siamese.atomic import remove_stale_temporaries, scratch_directory
from keras_siamese.checkpoints.sentence_transformers_format import (
    TOKENIZER_FILE,
    VOCAB_FILE,
    save_tokenizer,
)

SENTENCES_SIGNATURE = "serving_default"
TOKEN_IDS_SIGNATURE = "embed_token_ids"
SENTENCES_INPUT = "sentences"
EMBEDDINGS_OUTPUT = "embeddings"
EXPORT_CONFIG_FILE = "keras_siamese_export.json"
TOKEN_IDS_SPEC = tf.TensorSpec([None, None], tf.int32)
SENTENCES_SPEC = tf.TensorSpec([None], tf.string)
SENTENCES_INPUTS = {SENTENCES_INPUT: "string [batch]"}
TOKEN_IDS_INPUTS = {
    "input_ids": "int32 [batch, length]",
    "attention_mask": "int32 [batch, length]",
}

Tokenize = Callable[[tf.Tensor], dict[str, tf.Tensor]]


def check_exportable(encoder) -> None:
    """Exports carry the tokenizer: an encoder without one is an error before any work."""
    if encoder.tokenizer is None:
        raise ValueError(
            "This SentenceEncoder has no tokenizer, and exports carry one: load it with "
            "SentenceEncoder.from_pretrained or pass tokenizer=load_tokenizer(folder) (from "
            "keras_siamese.checkpoints)."
        )


def export_options(
    encoder,
    prompt_name: str | None = None,
    prompt: str | None = None,
    truncate_dim: int | None = None,
) -> dict:
    """The prompt and truncation an export bakes in, resolved as ``SentenceEncoder.encode``
    resolves them (default: the model's ``default_prompt_name`` and ``truncate_dim``), so the
    export computes what ``encode`` with the same arguments does.

    >>> options = export_options(tiny_encoder, prompt="the dog, ", truncate_dim=8)
    >>> options["prompt"], options["prompt_length"], options["embedding_dim"]
    ('the dog, ', 4, 8)
    """
    text = encoder.resolve_prompt(prompt, prompt_name)
    if prompt is None and prompt_name is None and text:
        prompt_name = encoder.default_prompt_name
    if truncate_dim is None:
        truncate_dim = encoder.truncate_dim
    if truncate_dim is not None:
        truncate_dim = encoder.check_truncate_dim(truncate_dim)
    return {
        "prompt_name": prompt_name if prompt is None else None,
        "prompt": text,
        "prompt_length": encoder.prompt_length(text),
        "include_prompt": encoder.pooling.include_prompt,
        "truncate_dim": truncate_dim,
        "embedding_dim": truncate_dim or encoder.embedding_dim,
    }


def export_config(
    encoder, signatures: dict[str, dict], extra: dict | None = None, options: dict | None = None
) -> dict:
    """What a client needs to use an exported model: embedding size, tokenizer settings, inputs,
    and the prompt and truncation baked in (``options``, see ``export_options``).

    ``signatures`` maps each signature name to its inputs (name -> "dtype [shape]").

    >>> export_config(tiny_encoder, {"serving_default": {"sentences": "string [batch]"}})
    {'format': 'keras-siamese-export/1', ..., 'embedding_dim': 16, ...}
    """
    options = options or export_options(encoder)
    dim = options["embedding_dim"]
    return {
        "format": "keras-siamese-export/1",
        "versions": {
            "keras_siamese": __version__,
            "tensorflow": tf.__version__,
            "tensorflow_text": _tensorflow_text_version(),
        },
        "embedding_dim": dim,
        # unit length: a normalising model, not truncated (sentence-transformers does not
        # re-normalise truncated embeddings)
        "normalized": encoder.normalizer is not None and dim == encoder.embedding_dim,
        "pooling": list(encoder.pooling.modes),
        "truncate_dim": options["truncate_dim"],
        "prompt": {
            "name": options["prompt_name"],
            "text": options["prompt"],
            "prompt_length": options["prompt_length"],
            "include_prompt": options["include_prompt"],
            "note": "raw-string signatures prepend the prompt; token ids must be those of "
            "prompt + text",
        },
        "tokenizer": tokenizer_settings(encoder.tokenizer),
        "signatures": {name: {"inputs": inputs} for name, inputs in signatures.items()},
        "outputs": {EMBEDDINGS_OUTPUT: f"float32 [batch, {dim}]"},
        **(extra or {}),
    }


def tokenizer_settings(tokenizer) -> dict:
    """A ``TextTokenizer``'s settings: for BERT WordPiece enough to re-implement it on a device;
    for byte-level BPE and SentencePiece Unigram, the family, length and special tokens
    (``tokenizer.json``, carried beside, has the rest)."""
    if tokenizer.family != "wordpiece":
        return {
            "type": {"bpe": "byte-level-bpe", "unigram": "sentencepiece-unigram"}[tokenizer.family],
            "tokenizer_file": TOKENIZER_FILE,
            "max_seq_length": tokenizer.max_seq_length,
            "special_tokens": {
                name: {"token": token, "id": tokenizer.token_id(token)}
                for name, token in tokenizer.special_tokens.items()
            },
            "layout": "<s> tokens </s>, right-padded with <pad>; attention_mask 1 on tokens",
        }
    return {
        "type": "bert-wordpiece",
        "vocab_file": VOCAB_FILE,
        "suffix_indicator": "##",
        "max_seq_length": tokenizer.max_seq_length,
        "max_chars_per_word": tokenizer.max_chars_per_word,
        **tokenizer.normalizer_settings,
        "special_tokens": {
            name: {"token": token, "id": tokenizer.token_id(token)}
            for name, token in tokenizer.special_tokens.items()
        },
        "layout": "[CLS] tokens [SEP], right-padded with [PAD]; attention_mask 1 on tokens",
    }


def _tensorflow_text_version() -> str:
    import tensorflow_text

    return tensorflow_text.__version__


class EmbeddingModule(tf.Module):
    """The encoder's variables and two ``tf.function``s: token ids -> embeddings and, when
    ``tokenize`` is given, strings -> embeddings.

    The module tracks the encoder's ``tf.Variable``s, never the Keras model itself: tracking a
    Keras 3 model writes every weight twice in a SavedModel, and the TFLite converter then drops
    them (a 0.15 MB file that outputs NaN). ``assets`` are files copied into the SavedModel.
    ``options`` (``export_options``): the prompt ``embed_sentences`` prepends (and the prompt
    tokens a pooling with ``include_prompt=False`` leaves out, in both functions) and the
    dimensions kept.

    >>> module = EmbeddingModule(tiny_encoder, tiny_encoder.in_graph_tokenizer())
    >>> module.embed_sentences(tf.constant(["hello"]))["embeddings"].shape
    TensorShape([1, 16])
    """

    def __init__(
        self,
        encoder,
        tokenize: Tokenize | None = None,
        assets: Sequence[Path] = (),
        options: dict | None = None,
    ) -> None:
        super().__init__(name="sentence_encoder")
        self.encoder_variables = [variable.value for variable in encoder.variables]
        self.assets = [tf.saved_model.Asset(str(path)) for path in assets]
        options = options or export_options(encoder)
        dim, prompt = options["embedding_dim"], options["prompt"]
        prompt_length = options["prompt_length"]

        @tf.function(input_signature=[TOKEN_IDS_SPEC, TOKEN_IDS_SPEC])
        def embed_token_ids(input_ids, attention_mask):
            inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
            if prompt_length:
                inputs["prompt_length"] = tf.constant(prompt_length, tf.int32)
            embeddings = encoder(inputs, training=False)[:, :dim]
            return {EMBEDDINGS_OUTPUT: tf.ensure_shape(embeddings, [None, dim])}

        self.embed_token_ids = embed_token_ids
        if tokenize is not None:
            self.tokenizer = tokenize

            @tf.function(input_signature=[SENTENCES_SPEC])
            def embed_sentences(sentences):
                if prompt:
                    sentences = tf.strings.join([tf.fill(tf.shape(sentences), prompt), sentences])
                tokens = tokenize(sentences)
                return embed_token_ids(tokens["input_ids"], tokens["attention_mask"])

            self.embed_sentences = embed_sentences

    def signatures(self) -> dict[str, tf.types.experimental.ConcreteFunction]:
        signatures = {TOKEN_IDS_SIGNATURE: self.embed_token_ids.get_concrete_function()}
        if hasattr(self, "embed_sentences"):
            signatures[SENTENCES_SIGNATURE] = self.embed_sentences.get_concrete_function()
        return signatures


def write_tokenizer_files(
    encoder,
    folder: Path,
    signatures: dict[str, dict],
    extra: dict | None = None,
    options: dict | None = None,
) -> list[Path]:
    """The tokenizer's files and ``keras_siamese_export.json`` (see ``export_config``) in
    ``folder``; returns their paths."""
    save_tokenizer(encoder.tokenizer, folder)
    config = export_config(encoder, signatures, extra, options)
    (folder / EXPORT_CONFIG_FILE).write_text(json.dumps(config, indent=2))
    return sorted(path for path in folder.iterdir() if path.is_file())


def staging_folder(target: Path) -> contextlib.AbstractContextManager[Path]:
    """A scratch folder beside the export ``target`` for files that are copied into it (not in
    the system's temporary folder: a killed export leaves nothing there). The temporaries that
    killed exports of ``target`` left beside it are removed first."""
    remove_stale_temporaries(target.parent, re.escape(target.name))
    return scratch_directory(target)
