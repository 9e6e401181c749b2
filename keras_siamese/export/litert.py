"""TFLite files for phones: token ids (or, with ``with_tokenizer``, raw strings) in, embeddings out.

The vocabulary and tokenizer settings travel inside the file as TFLite model metadata entries
(``Model.metadata`` in the TFLite schema, read on device with
``tflite::FlatBufferModel::ReadAllMetadata()``), named ``keras_siamese/<file>``: ``vocab.txt``,
``tokenizer.json``, ``tokenizer_config.json``, ``special_tokens_map.json`` and
``keras_siamese_export.json``. (``tflite-support``'s metadata writer is not used: it needs
``protobuf<4``, which TensorFlow 2.21 cannot run with.)
"""

import contextlib
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path

from keras_siamese import backend  # first: selects the backend, quiets TensorFlow

# isort: split
import numpy as np
import tensorflow as tf
from tensorflow.lite.python import schema_py_generated as tflite_schema
from tensorflow.lite.tools import flatbuffer_utils

from keras_siamese.atomic import write_atomically
from keras_siamese.checkpoints.sentence_transformers_format import load_tokenizer
from keras_siamese.encoders.length_batching import embed_by_length
from keras_siamese.export.embedding_module import (
    EMBEDDINGS_OUTPUT,
    EXPORT_CONFIG_FILE,
    SENTENCES_INPUT,
    SENTENCES_INPUTS,
    SENTENCES_SIGNATURE,
    TOKEN_IDS_INPUTS,
    EmbeddingModule,
    check_exportable,
    export_options,
    staging_folder,
    write_tokenizer_files,
)
from keras_siamese.export.on_device_tokenizer import OnDeviceTokenizer
from keras_siamese.progress import step
from keras_siamese.similarity import cosine_similarity, l2_normalize
from keras_siamese.validation import check_texts

QUANTIZATIONS = ("none", "float16", "dynamic")
METADATA_PREFIX = "keras_siamese/"
# Every converted file is run on these before it is written: a broken conversion (lost weights,
# NaN) is an error, not a file. The bounds separate "broken" from "quantised", they are not
# accuracy targets (the tests and bench/export.py measure those).
PROBE_SENTENCES = (
    "A man is playing a guitar.",
    "",
    "Ünïcödé, 中文 and emoji 😀!",
    "a long sentence " * 100,
)
MIN_PROBE_COSINE = {"none": 0.9999, "float16": 0.999, "dynamic": 0.9}


def tflite(
    encoder,
    path: str | Path,
    quantize: str | None = None,
    with_tokenizer: bool = False,
    *,
    prompt_name: str | None = None,
    prompt: str | None = None,
    truncate_dim: int | None = None,
) -> Path:
    """Writes ``encoder`` as a TFLite file (atomically: a temporary file, then ``os.replace``).

    Inputs ``input_ids`` and ``attention_mask`` (int32 ``[batch, length]``, both dynamic) give
    ``embeddings`` (float32 ``[batch, dim]``), with builtin ops only. ``quantize``: ``None`` /
    ``"none"`` (float32), ``"float16"`` (weights), ``"dynamic"`` (int8 weights, dynamic-range).
    ``with_tokenizer=True`` takes ``sentences`` (string ``[batch]``) instead and needs the
    tensorflow-text custom ops at run time (see ``tflite_interpreter``).

    ``truncate_dim`` gives ``[batch, truncate_dim]``; ``prompt_name`` / ``prompt`` (default: the
    model's ``default_prompt_name``) is recorded in the metadata for the app to prepend (and
    ``TfliteEncoder`` does); a raw-string file cannot prepend it (LiteRT has no string kernels).

    >>> tflite(tiny_encoder, "tiny.tflite", quantize="dynamic")
    PosixPath('tiny.tflite')
    """
    check_exportable(encoder)
    options = export_options(encoder, prompt_name, prompt, truncate_dim)
    if with_tokenizer and options["prompt"]:
        raise ValueError(
            f"A raw-string TFLite file cannot prepend the prompt {options['prompt']!r} (LiteRT "
            "has no string kernels); export token ids (the metadata records the prompt) or "
            'pass prompt="".'
        )
    return write_tflite(encoder, path, options, quantize, with_tokenizer)


def write_tflite(
    encoder,
    path: str | Path,
    options: dict,
    quantize: str | None = None,
    with_tokenizer: bool = False,
) -> Path:
    """``tflite`` with the export ``options`` (``export_options``) given as they are."""
    quantize = "none" if quantize is None else quantize
    if quantize not in QUANTIZATIONS:
        raise ValueError(f"quantize must be one of {QUANTIZATIONS}, got {quantize!r}.")
    path = Path(path)
    on_device = OnDeviceTokenizer(encoder.tokenizer) if with_tokenizer else None
    module = EmbeddingModule(encoder, on_device, options=options)
    function = module.embed_sentences if with_tokenizer else module.embed_token_ids
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [function.get_concrete_function()], module
    )
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    converter.allow_custom_ops = with_tokenizer
    if quantize != "none":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]
    with step(f"Converting to TFLite (quantize={quantize})"):
        converted = converter.convert()
    model = flatbuffer_utils.read_model_from_bytearray(bytearray(converted))
    inputs = SENTENCES_INPUTS if with_tokenizer else TOKEN_IDS_INPUTS
    extra = {"quantize": quantize, "custom_ops": _custom_ops(model)}
    with staging_folder(path) as staging:
        signatures = {SENTENCES_SIGNATURE: inputs}
        files = write_tokenizer_files(encoder, Path(staging), signatures, extra, options)
        for file in files:
            _add_metadata(model, METADATA_PREFIX + file.name, file.read_bytes())
    content = flatbuffer_utils.convert_object_to_bytearray(model)
    with step("Checking the TFLite model against Keras"):
        _check_outputs(content, encoder, quantize, with_tokenizer, options)
    write_atomically(path, content)
    return path


def tflite_interpreter(model: str | Path | bytes, num_threads: int | None = None):
    """A LiteRT interpreter for a file written by ``tflite``, with the tensorflow-text custom ops
    registered (the ``with_tokenizer`` files need them; the others run on builtins alone).

    >>> runner = tflite_interpreter(tflite(tiny_encoder, "tiny.tflite")).get_signature_runner()
    >>> runner(**tiny_encoder.tokenizer(["Hi"]))["embeddings"].shape
    (1, 16)
    """
    from ai_edge_litert.interpreter import InterpreterWithCustomOps
    from tensorflow_text import tflite_registrar

    source = {"model_content": model} if isinstance(model, bytes) else {"model_path": str(model)}
    interpreter = InterpreterWithCustomOps(
        custom_op_registerers=tflite_registrar.SELECT_TFTEXT_OPS,
        num_threads=num_threads,
        **source,
    )
    # The first allocation applies the XNNPACK delegate, and LiteRT prints "INFO: Created
    # TensorFlow Lite XNNPACK delegate for CPU." on standard error, once per process.
    with contextlib.nullcontext() if backend.verbose() else backend.silenced_stderr():
        interpreter.allocate_tensors()
    return interpreter


def read_tflite_metadata(path: str | Path) -> dict[str, bytes]:
    """The files a ``tflite`` export carries, by name (``vocab.txt``, ...).

    >>> files = read_tflite_metadata(tflite(tiny_encoder, "tiny.tflite"))
    >>> sorted(files), json.loads(files["keras_siamese_export.json"])["embedding_dim"]
    ([...'keras_siamese_export.json', ...'vocab.txt'], 16)
    """
    model = tflite_schema.Model.GetRootAs(Path(path).read_bytes(), 0)
    files = {}
    for i in range(model.MetadataLength()):
        entry = model.Metadata(i)
        name = entry.Name().decode("utf-8")
        if name.startswith(METADATA_PREFIX):
            buffer = model.Buffers(entry.Buffer())
            data = buffer.DataAsNumpy().tobytes() if buffer.DataLength() else b""
            files[name.removeprefix(METADATA_PREFIX)] = data
    return files


class TfliteEncoder:
    """Runs a ``tflite`` export from Python, tokenising with the files inside it (as an app
    would), so it can be checked and evaluated like a ``SentenceEncoder``.

    >>> encoder = TfliteEncoder(tflite(tiny_encoder, "tiny.tflite"))
    >>> encoder.encode(["A man is playing a guitar."]).shape
    (1, 16)
    """

    def __init__(self, path: str | Path, num_threads: int | None = None) -> None:
        files = read_tflite_metadata(path)
        self.config = json.loads(files[EXPORT_CONFIG_FILE])
        inputs = self.config["signatures"][SENTENCES_SIGNATURE]["inputs"]
        self.takes_strings = SENTENCES_INPUT in inputs
        with tempfile.TemporaryDirectory() as folder:
            for name, data in files.items():
                Path(folder, name).write_bytes(data)
            self.tokenizer = load_tokenizer(
                folder, max_seq_length=self.config["tokenizer"]["max_seq_length"]
            )
        self.embedding_dim = self.config["embedding_dim"]
        # token-id files: the prompt the export recorded, prepended here as an app would
        self.prompt = "" if self.takes_strings else self.config.get("prompt", {}).get("text", "")
        self._runner = tflite_interpreter(path, num_threads).get_signature_runner()

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        """The embeddings of one batch."""
        if self.takes_strings:
            inputs = {SENTENCES_INPUT: np.array(texts, dtype=object)}
            return self._runner(**inputs)[EMBEDDINGS_OUTPUT]
        return self._embed_ids(self.tokenizer.encode_ids([self.prompt + t for t in texts]))

    def _embed_ids(self, ids: list[np.ndarray]) -> np.ndarray:
        return self._runner(**self.tokenizer.pad(ids))[EMBEDDINGS_OUTPUT]

    def encode(
        self,
        texts: Sequence[str],
        batch_size: int = 32,
        normalize: bool | None = None,
        show_progress_bar: bool | None = None,
    ) -> np.ndarray:
        """float32 ``[len(texts), embedding_dim]`` in input order; ``batch_size`` texts of similar
        length per call (as ``SentenceEncoder.encode``, so padding stays short)."""
        if self.takes_strings:
            items, embed_batch = check_texts(texts), self
        else:
            prompted = [self.prompt + text for text in check_texts(texts)]
            items = self.tokenizer.encode_ids(prompted, allow_empty=False)
            embed_batch = self._embed_ids
        embeddings = embed_by_length(
            items, embed_batch, self.embedding_dim, batch_size, show_progress_bar
        )
        return l2_normalize(embeddings, xp=np) if normalize else embeddings


def _custom_ops(model: tflite_schema.ModelT) -> list[str]:
    return sorted(code.customCode.decode() for code in model.operatorCodes if code.customCode)


def _add_metadata(model: tflite_schema.ModelT, name: str, data: bytes) -> None:
    buffer = tflite_schema.BufferT()
    buffer.data = np.frombuffer(data, dtype=np.uint8)
    model.buffers.append(buffer)
    entry = tflite_schema.MetadataT()
    entry.name = name
    entry.buffer = len(model.buffers) - 1
    model.metadata.append(entry)


def _check_outputs(
    content: bytes, encoder, quantize: str, with_tokenizer: bool, options: dict
) -> None:
    """Runs the converted model on ``PROBE_SENTENCES`` against Keras; raises if it is broken."""
    tokens = encoder.tokenizer([options["prompt"] + text for text in PROBE_SENTENCES])
    inputs = {**tokens, "prompt_length": np.int32(options["prompt_length"])}
    expected = encoder(inputs, training=False).numpy()[:, : options["embedding_dim"]]
    runner = tflite_interpreter(content).get_signature_runner()
    if with_tokenizer:
        got = runner(**{SENTENCES_INPUT: np.array(PROBE_SENTENCES, dtype=object)})
    else:
        got = runner(**tokens)
    embeddings = got[EMBEDDINGS_OUTPUT]
    cosines = cosine_similarity(embeddings, expected, xp=np)
    if not np.isfinite(embeddings).all() or cosines.min() < MIN_PROBE_COSINE[quantize]:
        raise RuntimeError(
            f"The converted TFLite model does not reproduce the Keras model (cosine "
            f"{np.nan_to_num(cosines).min():.4f}, finite: {np.isfinite(embeddings).all()}); "
            "the conversion is broken and nothing was written."
        )
