"""``keras_siamese.beam`` and ``keras-siamese beam-encode`` on the DirectRunner: the exported
SavedModel's embeddings of every (key, text), once each, from text, TFRecord and Parquet inputs
to TFRecord, Parquet and ``.npy`` outputs; the model loaded once per worker; clear errors.

The issue's acceptance test, 10,000 shared sentences embedded by the real all-MiniLM-L6-v2 at
cosine >= 0.99999 against ``encode``, is ``bench/beam_encode.py`` (about two minutes on two
cores); here it runs on 1,000 of them."""

import glob
import importlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, _unavailable
from keras_siamese.cli import beam_encode
from keras_siamese.cli.main import main
from keras_siamese.similarity import cosine_similarity

TEXTS = [
    "a man plays the guitar",
    "the dog runs in the park",
    "a cat eats",
    "the red car is big",
    "a woman is playing the piano and a man is singing with her in the street",
    "sad",
    "the big dog and the small cat are happy",
]
ACCEPTANCE_SENTENCES = 1_000
MIN_COSINE = 0.99999


@pytest.fixture(scope="module")
def beam():
    """``apache_beam``: its tests fail in CI without it and are skipped elsewhere."""
    try:
        import apache_beam
    except ImportError:
        _unavailable("apache-beam is not installed (pip install 'keras-siamese[beam]')")
    return apache_beam


@pytest.fixture(scope="module")
def tiny(tiny_model_folder):
    from keras_siamese.encoders import SentenceEncoder

    return SentenceEncoder.from_pretrained(tiny_model_folder)


@pytest.fixture(scope="module")
def tiny_saved_model(tiny, tmp_path_factory) -> Path:
    from keras_siamese.export import saved_model

    return saved_model(tiny, tmp_path_factory.mktemp("beam") / "tiny")


def _npy_shards(prefix: Path) -> dict[str, np.ndarray]:
    """key -> embedding, from every ``.npy`` shard and its keys file; each key once."""
    found: dict[str, np.ndarray] = {}
    for path in sorted(glob.glob(f"{prefix}-*-of-*.npy")):
        keys = Path(path).with_suffix(".keys.txt").read_text(encoding="utf-8").splitlines()
        rows = np.load(path)
        assert rows.dtype == np.float32 and len(rows) == len(keys)
        assert keys == sorted(keys)
        for key, row in zip(keys, rows, strict=True):
            assert key not in found, key
            found[key] = row
    return found


def _tfrecords(pattern: str, key: str = "key", value: str = "embedding") -> dict[str, np.ndarray]:
    import tensorflow as tf

    found = {}
    for record in tf.data.TFRecordDataset(sorted(glob.glob(pattern))).as_numpy_iterator():
        example = tf.train.Example.FromString(record).features.feature
        name = example[key].bytes_list.value[0].decode("utf-8")
        assert name not in found, name
        found[name] = np.array(example[value].float_list.value, dtype=np.float32)
    return found


def _assert_embeddings(found: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> None:
    assert sorted(found) == sorted(expected)
    for key, row in expected.items():
        np.testing.assert_allclose(found[key], row, atol=1e-5, err_msg=key)


def _beam_encode(saved_model: Path, *args: str) -> list[str]:
    return ["beam-encode", str(saved_model), *args, "--runner", "DirectRunner"]


def test_importing_it_without_beam_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "apache_beam", None)  # import apache_beam fails
    monkeypatch.delitem(sys.modules, "keras_siamese.beam", raising=False)
    with pytest.raises(ImportError, match=r"pip install 'keras-siamese\[beam\]'"):
        importlib.import_module("keras_siamese.beam")


def test_the_command_without_beam_names_the_extra(tiny_saved_model, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "apache_beam", None)
    (tmp_path / "in.txt").write_text("a dog\n")
    args = [str(tmp_path / "in.txt"), "-o", str(tmp_path / "out"), "--format", "npy"]
    assert main(_beam_encode(tiny_saved_model, *args)) == 2
    assert capsys.readouterr().err == (
        f"keras-siamese beam-encode: error: {beam_encode.BEAM_EXTRA}\n"
    )


def test_the_parser_loads_neither_beam_nor_tensorflow(tiny_saved_model, tmp_path):
    options = ["-o", "x", "--format", "npy", "--direct_num_workers=2"]
    code = (
        "import sys; from keras_siamese.cli.main import build_parser; "
        "args, rest = build_parser().parse_known_args("
        f"{_beam_encode(tiny_saved_model, str(tmp_path), *options)!r}); "
        "print(rest, sorted(m for m in ('apache_beam', 'tensorflow') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=300
    )
    assert result.stdout.strip() == "['--direct_num_workers=2', '--runner', 'DirectRunner'] []"


def test_the_command_states_the_library_s_choices(beam):
    from keras_siamese import beam as ks_beam

    assert beam_encode.INPUT_FORMATS == ks_beam.INPUT_FORMATS
    assert beam_encode.OUTPUT_FORMATS == ks_beam.OUTPUT_FORMATS
    assert beam_encode.NPY_SHARDS == ks_beam.NPY_SHARDS


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (["MODEL/..", "in.txt", "--format", "npy"], "is not a SavedModel folder"),
        (["MODEL", "none*.txt", "--format", "npy"], "no file matches "),
        (["MODEL", "in.txt", "--format", "npy", "--key-field", "id"], "--key-field applies to"),
        (["MODEL", "bad.txt", "--format", "npy"], "bad.txt:2: empty line"),
        (["MODEL", "in.txt", "--format", "csv"], "invalid choice: 'csv'"),
        (["MODEL", "in.txt", "--formats", "npy"], "the following arguments are required"),
    ],
)
def test_mistakes_are_one_line(
    beam, tiny_saved_model, tmp_path, monkeypatch, capsys, argv, problem
):
    monkeypatch.chdir(tmp_path)
    Path("in.txt").write_text("a dog\n")
    Path("bad.txt").write_text("a dog\n\na cat\n")
    argv = [arg.replace("MODEL", str(tiny_saved_model)) for arg in argv]
    assert main(["beam-encode", argv[0], argv[1], "-o", "out", *argv[2:]]) == 2
    err = capsys.readouterr().err
    assert err.startswith("keras-siamese") and err.count("\n") == 1 and problem in err, err


def test_text_files_to_npy_shards(beam, tiny, tiny_saved_model, tmp_path, capsys):
    for name, texts in (("a.txt", TEXTS[:4]), ("b.txt", TEXTS[4:])):
        (tmp_path / name).write_text("\n".join(texts) + "\n", encoding="utf-8")
    prefix = tmp_path / "out" / "embeddings"
    prefix.parent.mkdir()
    args = [str(tmp_path / "*.txt"), "-o", str(prefix), "--format", "npy", "--num-shards", "3"]
    assert main(_beam_encode(tiny_saved_model, *args, "--batch-size", "2")) == 0
    assert f"wrote the embeddings of {len(TEXTS)} texts" in capsys.readouterr().out
    expected = {
        f"{tmp_path / name}:{n}": row
        for name, texts in (("a.txt", TEXTS[:4]), ("b.txt", TEXTS[4:]))
        for n, row in enumerate(tiny.encode(texts), 1)
    }
    _assert_embeddings(_npy_shards(prefix), expected)
    assert len(glob.glob(f"{prefix}-*-of-00003.npy")) <= 3
    assert not glob.glob(f"{prefix}*.tmp-*")


def test_tfrecord_with_keys_to_tfrecord(beam, tiny, tiny_saved_model, tmp_path):
    import tensorflow as tf

    with tf.io.TFRecordWriter(str(tmp_path / "in.tfrecord")) as writer:
        for i, text in enumerate(TEXTS):
            feature = {
                "id": tf.train.Feature(int64_list=tf.train.Int64List(value=[100 + i])),
                "sentence": tf.train.Feature(bytes_list=tf.train.BytesList(value=[text.encode()])),
            }
            example = tf.train.Example(features=tf.train.Features(feature=feature))
            writer.write(example.SerializeToString())
    args = [str(tmp_path / "in.tfrecord"), "-o", str(tmp_path / "out"), "--format", "tfrecord"]
    args += ["--input-format", "tfrecord", "--text-field", "sentence", "--key-field", "id"]
    assert main(_beam_encode(tiny_saved_model, *args)) == 0
    expected = {str(100 + i): row for i, row in enumerate(tiny.encode(TEXTS))}
    _assert_embeddings(_tfrecords(f"{tmp_path / 'out'}-*.tfrecord"), expected)


def test_parquet_without_keys_to_parquet(beam, tiny, tiny_saved_model, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = tmp_path / "in.parquet"
    pq.write_table(pa.table({"text": TEXTS, "other": list(range(len(TEXTS)))}), source)
    args = [str(source), "-o", str(tmp_path / "out"), "--format", "parquet"]
    assert main(_beam_encode(tiny_saved_model, *args, "--input-format", "parquet")) == 0
    table = pa.concat_tables(pq.read_table(p) for p in glob.glob(f"{tmp_path / 'out'}-*.parquet"))
    assert table.schema.field("embedding").type == pa.list_(pa.float32())
    embeddings = map(np.array, table["embedding"].to_pylist())
    found = dict(zip(table["key"].to_pylist(), embeddings, strict=True))
    assert len(found) == table.num_rows
    expected = {f"{source}:{n}": row for n, row in enumerate(tiny.encode(TEXTS), 1)}
    _assert_embeddings(found, expected)


def test_a_missing_column_names_the_file(beam, tiny_saved_model, tmp_path, capsys):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"sentence": TEXTS}), tmp_path / "in.parquet")
    args = [str(tmp_path / "in.parquet"), "-o", str(tmp_path / "out"), "--format", "npy"]
    assert main(_beam_encode(tiny_saved_model, *args, "--input-format", "parquet")) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'in.parquet'}: no column 'text'; its columns: ['sentence']" in err
    assert err.count("\n") == 1


def _counting_handler(saved_model: str, batch_size: int, log: Path):
    """A ``SavedModelHandler`` that adds a line to ``log`` each time it loads the model."""
    from keras_siamese.beam import SavedModelHandler

    class Counting(SavedModelHandler):
        def load_model(self):
            with log.open("a") as file:
                file.write("loaded\n")
            return super().load_model()

    return Counting(saved_model, batch_size)


def test_a_pcollection_with_one_load_of_the_model(beam, tiny, tiny_saved_model, tmp_path):
    from apache_beam.ml.inference.base import KeyedModelHandler, RunInference
    from apache_beam.testing.util import assert_that

    from keras_siamese import beam as ks_beam

    texts = [f"{TEXTS[i % len(TEXTS)]} {i % 5}" for i in range(200)]
    expected = dict(zip(map(str, range(200)), tiny.encode(texts), strict=True))

    def check(pairs):
        for _, embedding in pairs:
            assert embedding.dtype == np.float32 and embedding.shape == (16,)
        _assert_embeddings(dict(pairs), expected)

    handler = KeyedModelHandler(_counting_handler(str(tiny_saved_model), 1, tmp_path / "log"))
    with beam.Pipeline("DirectRunner") as pipeline:
        pairs = pipeline | beam.Create(list(zip(expected, texts, strict=True)))
        embedded = pairs | "Embed" >> ks_beam.EmbedTexts(str(tiny_saved_model), batch_size=4)
        assert_that(embedded, check)
        counted = pairs | "Counted" >> RunInference(handler)
        assert_that(counted, check, label="CheckCounted")
    assert (tmp_path / "log").read_text() == "loaded\n"  # for 4 batches of 64 texts or fewer
    assert handler.batch_elements_kwargs()["max_batch_size"] == ks_beam.SORTED_BATCHES


def _shared_sentences(data: Path, count: int) -> list[str]:
    """The first ``count`` distinct sentences of STSb train and dev, then SICK."""
    from keras_siamese.data import read_sick, read_sts

    tables = [read_sts(data / "stsb" / f"sts-{split}.csv") for split in ("train", "dev")]
    tables.append(read_sick(data / "sick" / "SICK_train_trial.txt"))
    texts = (text for t in tables for text in t.columns["text_a"] + t.columns["text_b"])
    return list(dict.fromkeys(texts))[:count]


@pytest.mark.integration
def test_minilm_on_the_shared_sentences_matches_encode(beam, minilm, shared_data, tmp_path, capsys):
    """The acceptance test, on 1,000 sentences (bench/beam_encode.py: 10,000)."""
    from keras_siamese.export import saved_model

    sentences = _shared_sentences(shared_data, ACCEPTANCE_SENTENCES)
    folder = saved_model(minilm, tmp_path / "minilm")
    source = tmp_path / "sentences.txt"
    source.write_text("".join(f"{s}\n" for s in sentences), encoding="utf-8")
    prefix = tmp_path / "embeddings"
    args = [str(source), "-o", str(prefix), "--format", "npy", "--num-shards", "4"]
    assert main(_beam_encode(folder, *args)) == 0
    found = _npy_shards(prefix)
    assert sorted(found) == sorted(f"{source}:{n}" for n in range(1, len(sentences) + 1))
    expected = minilm.encode(sentences, batch_size=64, show_progress_bar=False)
    rows = [int(key.rpartition(":")[2]) - 1 for key in found]
    cosines = cosine_similarity(np.stack(list(found.values())), expected[rows], xp=np)
    assert cosines.min() >= MIN_COSINE, sentences[rows[int(np.argmin(cosines))]]
