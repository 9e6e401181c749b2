"""Bulk encoding on Apache Beam with the exported raw-string SavedModel (``pip install
keras-siamese[beam]``).

``EmbedTexts`` turns a PCollection of ``(key, text)`` into ``(key, embedding)`` (float32
``[dim]`` numpy arrays) with Beam's ``RunInference``: each worker process loads the SavedModel
(``keras-siamese export saved-model``) once, and calls its ``serving_default`` signature on
batches. ``ReadTexts`` reads ``(key, text)`` from text files, TFRecord files of
``tf.train.Example`` or Parquet files; ``WriteEmbeddings`` writes ``(key, embedding)`` as
TFRecord, Parquet or ``.npy`` shards. Only this module needs Beam: without it, importing it is an
``ImportError`` that names the extra.

A pipeline (DirectRunner here; see the README for Dataflow, Flink and Spark)::

    with beam.Pipeline() as pipeline:
        (
            pipeline
            | ReadTexts("corpus-*.txt")
            | EmbedTexts("models/minilm/1", batch_size=64)
            | WriteEmbeddings("out/embeddings", "npy", num_shards=4)
        )
"""

import io
import uuid
import zlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

try:
    import apache_beam as beam
    from apache_beam.io import fileio
    from apache_beam.io.filesystem import FileMetadata
    from apache_beam.io.filesystems import FileSystems
    from apache_beam.ml.inference.base import KeyedModelHandler, ModelHandler, RunInference
except ImportError as err:
    raise ImportError(
        f"keras_siamese.beam needs Apache Beam ({err}): pip install 'keras-siamese[beam]'"
    ) from err

INPUT_FORMATS = ("text", "tfrecord", "parquet")
OUTPUT_FORMATS = ("tfrecord", "parquet", "npy")
NPY_SHARDS = 8  # the .npy writer's shards when none are given
# RunInference hands the model handler this many model batches at once (fewer at the end of a
# bundle); it sorts them by length, so that each model call pads little, as SentenceEncoder.encode
# sorts its whole input (on MiniLM, sorting 1,024 texts at a time gave 0.77 of the speed of a
# global sort, unsorted batches 0.37).
SORTED_BATCHES = 64
KEY, EMBEDDING = "key", "embedding"  # the fields of the TFRecord and Parquet outputs
METRICS_NAMESPACE = "keras_siamese"
TEXTS_COUNTER = "texts"  # texts read by ReadTexts


class SavedModelHandler(ModelHandler[str, np.ndarray, Any]):
    """A Beam ``ModelHandler``: texts in, float32 embeddings out, with the ``serving_default``
    signature (``sentences`` string ``[batch]`` -> ``embeddings``) of a SavedModel written by
    ``keras_siamese.export.saved_model``. ``load_model`` runs once per worker process (Beam
    shares the loaded model between the threads of a process); ``run_inference`` sorts what it
    gets by length and calls the model ``batch_size`` texts at a time."""

    def __init__(self, saved_model_dir: str, batch_size: int = 64) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}.")
        texts = batch_size * SORTED_BATCHES
        super().__init__(min_batch_size=texts, max_batch_size=texts)
        self.saved_model_dir = str(saved_model_dir)
        self.batch_size = batch_size

    def load_model(self) -> Any:
        from keras_siamese.export.embedding_module import SENTENCES_SIGNATURE
        from keras_siamese.export.tf_serving import load_saved_model

        model = load_saved_model(self.saved_model_dir)
        if SENTENCES_SIGNATURE not in model.signatures:
            raise ValueError(
                f"{self.saved_model_dir} has no {SENTENCES_SIGNATURE!r} signature (raw strings "
                "in); export it with keras-siamese export saved-model"
            )
        return model

    def run_inference(
        self, batch: Sequence[str], model: Any, inference_args: dict | None = None
    ) -> list[np.ndarray]:
        import tensorflow as tf

        from keras_siamese.export.embedding_module import (
            EMBEDDINGS_OUTPUT,
            SENTENCES_INPUT,
            SENTENCES_SIGNATURE,
        )

        for text in batch:
            if not isinstance(text, str):
                raise TypeError(f"EmbedTexts takes (key, str) pairs, got a {type(text).__name__}")
        serve = model.signatures[SENTENCES_SIGNATURE]
        order = np.argsort([-len(text) for text in batch], kind="stable")
        rows: list[np.ndarray] = [np.empty(0, np.float32)] * len(batch)
        for start in range(0, len(batch), self.batch_size):
            index = order[start : start + self.batch_size]
            texts = tf.constant([batch[i] for i in index], dtype=tf.string)
            embeddings = serve(**{SENTENCES_INPUT: texts})[EMBEDDINGS_OUTPUT].numpy()
            for i, row in zip(index, embeddings, strict=True):
                rows[i] = row
        return rows

    def get_num_bytes(self, batch: Sequence[str]) -> int:
        return sum(len(text) for text in batch)

    def get_metrics_namespace(self) -> str:
        return METRICS_NAMESPACE


class EmbedTexts(beam.PTransform):
    """``(key, text)`` -> ``(key, embedding)``: float32 numpy rows of the SavedModel (a version
    folder of ``keras-siamese export saved-model``, local or on a file system the workers read,
    e.g. ``gs://``), through ``RunInference`` with ``SavedModelHandler``.

    The embeddings are ``SentenceEncoder.encode``'s with the prompt and truncation baked into
    the export (cosine >= 0.99999, tested on MiniLM)."""

    def __init__(self, saved_model_dir: str, batch_size: int = 64) -> None:
        super().__init__()
        self.handler = KeyedModelHandler(SavedModelHandler(saved_model_dir, batch_size))

    def expand(self, texts: beam.PCollection) -> beam.PCollection:
        return texts | RunInference(self.handler)


def _key(path: str, number: int, found: Any, key_field: str | None) -> str:
    """The record's key: its ``key_field`` value as text, else ``FILE:N``."""
    if key_field is None:
        return f"{path}:{number}"
    if found is None:
        raise ValueError(f"{path}: record {number}: no key in {key_field!r}")
    return found.decode("utf-8") if isinstance(found, bytes) else str(found)


def _text(value: Any, path: str, number: int, field: str) -> str:
    """A record's text: a non-empty string (bytes as UTF-8)."""
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError as err:
            raise ValueError(f"{path}: record {number}: not UTF-8 text ({err.reason})") from None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{path}: record {number}: no text in {field!r} (got {value!r})")
    return value


def _text_lines(path: str, text_field: str, key_field: str | None) -> Iterator[tuple[str, str]]:
    from keras_siamese.encoders.streaming import iter_lines

    with FileSystems.open(path) as file:  # .gz and other compressions by extension
        for number, text in iter_lines(file, path):
            yield f"{path}:{number}", text


def _feature(example: Any, name: str) -> Any:
    """The first value of a ``tf.train.Example``'s feature (bytes or a number), or None."""
    if name not in example.features.feature:
        return None
    feature = example.features.feature[name]
    values = getattr(feature, feature.WhichOneof("kind") or "bytes_list").value
    return values[0] if values else None


def _tfrecord_examples(
    path: str, text_field: str, key_field: str | None
) -> Iterator[tuple[str, str]]:
    import tensorflow as tf
    from google.protobuf.message import DecodeError

    compression = "GZIP" if path.endswith(".gz") else ""
    records = tf.data.TFRecordDataset(path, compression_type=compression).as_numpy_iterator()
    for number, record in enumerate(records, 1):
        try:
            example = tf.train.Example.FromString(record)
        except DecodeError:
            raise ValueError(f"{path}: record {number} is not a tf.train.Example") from None
        key = _feature(example, key_field) if key_field else None
        text = _text(_feature(example, text_field), path, number, text_field)
        yield _key(path, number, key, key_field), text


def _parquet_rows(path: str, text_field: str, key_field: str | None) -> Iterator[tuple[str, str]]:
    import pyarrow.parquet as pq

    with FileSystems.open(path) as file:
        table = pq.ParquetFile(file)
        columns = [text_field] + ([key_field] if key_field else [])
        names = table.schema_arrow.names
        missing = [name for name in columns if name not in names]
        if missing:
            raise ValueError(f"{path}: no column {missing[0]!r}; its columns: {names}")
        number = 0
        for part in table.iter_batches(columns=columns):
            texts = part.column(text_field).to_pylist()
            keys = part.column(key_field).to_pylist() if key_field else [None] * len(texts)
            for text, key in zip(texts, keys, strict=True):
                number += 1
                yield _key(path, number, key, key_field), _text(text, path, number, text_field)


_READERS = {"text": _text_lines, "tfrecord": _tfrecord_examples, "parquet": _parquet_rows}


class _ReadFile(beam.DoFn):
    """A matched file -> its ``(key, text)`` pairs, read in order (so keys can number them)."""

    def __init__(self, input_format: str, text_field: str, key_field: str | None) -> None:
        self.read = _READERS[input_format]
        self.text_field = text_field
        self.key_field = key_field
        self.texts = beam.metrics.Metrics.counter(METRICS_NAMESPACE, TEXTS_COUNTER)

    def process(self, metadata: FileMetadata) -> Iterator[tuple[str, str]]:
        for pair in self.read(metadata.path, self.text_field, self.key_field):
            self.texts.inc()
            yield pair


class ReadTexts(beam.PTransform):
    """``(key, text)`` pairs from the files matching ``pattern`` (a path or glob, on any file
    system Beam knows), one file per worker at a time, then spread over the workers:

    - ``text``: one text per line, UTF-8 (the rules of ``keras-siamese encode``); key
      ``FILE:LINE`` (from 1);
    - ``tfrecord``: ``tf.train.Example`` records (``.gz`` read as GZIP) with a bytes feature
      ``text_field``; key: the feature ``key_field`` (bytes or a number), else ``FILE:N``;
    - ``parquet``: the column ``text_field``, key: the column ``key_field``, else ``FILE:N``.

    A pattern that matches nothing is an error."""

    def __init__(
        self,
        pattern: str,
        input_format: str = "text",
        text_field: str = "text",
        key_field: str | None = None,
    ) -> None:
        super().__init__()
        if input_format not in INPUT_FORMATS:
            raise ValueError(f"input_format must be one of {INPUT_FORMATS}, got {input_format!r}")
        if input_format == "text" and key_field is not None:
            raise ValueError("text files have no key field: their keys are FILE:LINE")
        self.pattern = pattern
        self.reader = _ReadFile(input_format, text_field, key_field)

    def expand(self, begin: beam.pvalue.PBegin) -> beam.PCollection:
        return (
            begin
            | "Match" >> fileio.MatchFiles(self.pattern, fileio.EmptyMatchTreatment.DISALLOW)
            | "SpreadFiles" >> beam.Reshuffle()
            | "Read" >> beam.ParDo(self.reader)
            | "SpreadTexts" >> beam.Reshuffle()
        )


def _example(pair: tuple[str, np.ndarray]) -> bytes:
    """A ``tf.train.Example`` with ``key`` (bytes) and ``embedding`` (floats), serialised."""
    import tensorflow as tf

    key, embedding = pair
    feature = tf.train.Feature
    return tf.train.Example(
        features=tf.train.Features(
            feature={
                KEY: feature(bytes_list=tf.train.BytesList(value=[key.encode("utf-8")])),
                EMBEDDING: feature(float_list=tf.train.FloatList(value=embedding)),
            }
        )
    ).SerializeToString()


def _row(pair: tuple[str, np.ndarray]) -> dict:
    return {KEY: pair[0], EMBEDDING: pair[1].tolist()}


def _by_shard(pair: tuple[str, np.ndarray], shards: int) -> tuple[int, tuple[str, np.ndarray]]:
    """The pair keyed by its shard: a hash of its key, the same in every process (Python's
    ``hash`` of a str is not)."""
    return zlib.crc32(pair[0].encode("utf-8")) % shards, pair


def _write_npy_shard(item: tuple[int, Iterable[Any]], prefix: str, shards: int) -> str:
    """Writes ``NAME.npy`` (float32 rows, by key) and ``NAME.keys.txt`` (the keys, one a line)
    of one shard, each renamed into place when written; returns NAME."""
    shard, pairs = item
    pairs = sorted(pairs, key=lambda pair: pair[0])
    for key, _ in pairs:
        if "\n" in key or "\r" in key:
            raise ValueError(f"key {key!r} has a line break: the .npy keys file holds one a line")
    name = f"{prefix}-{shard:05d}-of-{shards:05d}"
    matrix = io.BytesIO()
    np.save(matrix, np.stack([embedding for _, embedding in pairs]).astype(np.float32))
    keys = "".join(f"{key}\n" for key, _ in pairs).encode("utf-8")
    for suffix, data in ((".npy", matrix.getvalue()), (".keys.txt", keys)):
        temporary = f"{name}{suffix}.tmp-{uuid.uuid4().hex[:8]}"
        with FileSystems.create(temporary) as file:
            file.write(data)
        FileSystems.rename([temporary], [name + suffix])
    return name


class WriteEmbeddings(beam.PTransform):
    """Writes ``(key, embedding)`` pairs as shards ``PREFIX-00000-of-00004.EXT``:

    - ``tfrecord``: ``tf.train.Example`` records with ``key`` (bytes) and ``embedding``
      (floats);
    - ``parquet``: columns ``key`` (string) and ``embedding`` (list of float32);
    - ``npy``: per shard, ``.npy`` (float32 ``[rows, dim]``, rows sorted by key) and
      ``.keys.txt`` (its keys, one a line, UTF-8). Rows go to shards by a hash of their key
      (a shard no key falls in is not written), and each shard is built in memory on one
      worker: give enough shards.

    ``num_shards``: None lets the runner choose (``tfrecord``, ``parquet``) or gives
    ``NPY_SHARDS`` (``npy``)."""

    def __init__(self, prefix: str, output_format: str, num_shards: int | None = None) -> None:
        super().__init__()
        if output_format not in OUTPUT_FORMATS:
            raise ValueError(
                f"output_format must be one of {OUTPUT_FORMATS}, got {output_format!r}"
            )
        if num_shards is not None and num_shards < 1:
            raise ValueError(f"num_shards must be positive, got {num_shards}.")
        self.prefix = prefix
        self.output_format = output_format
        self.num_shards = num_shards

    def expand(self, embeddings: beam.PCollection) -> beam.PCollection:
        if self.output_format == "tfrecord":
            return (
                embeddings
                | "ToExample" >> beam.Map(_example)
                | "Write"
                >> beam.io.WriteToTFRecord(
                    self.prefix, file_name_suffix=".tfrecord", num_shards=self.num_shards or 0
                )
            )
        if self.output_format == "parquet":
            import pyarrow as pa

            schema = pa.schema([(KEY, pa.string()), (EMBEDDING, pa.list_(pa.float32()))])
            return (
                embeddings
                | "ToRow" >> beam.Map(_row)
                | "Write"
                >> beam.io.WriteToParquet(
                    self.prefix,
                    schema,
                    file_name_suffix=".parquet",
                    num_shards=self.num_shards or 0,
                )
            )
        shards = self.num_shards or NPY_SHARDS
        return (
            embeddings
            | "ToShard" >> beam.Map(_by_shard, shards)
            | "Group" >> beam.GroupByKey()
            | "Write" >> beam.Map(_write_npy_shard, self.prefix, shards)
        )
