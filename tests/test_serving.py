"""``ServingClient`` against local stand-ins of TF Serving's REST and gRPC APIs."""

import json
import socket
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import yaml
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2
from test_serving_standins import GrpcStandIn, RestStandIn, ServedModel

from keras_siamese.encoders import SentenceEncoder
from keras_siamese.export import saved_model
from keras_siamese.serving import ServingClient, ServingError

MODEL_NAME = "tiny"
TEXTS = [
    "The man is playing the guitar.",
    "A dog runs in the park!",
    "",
    "   ",
    "Ünïcödé — 中文 😀",
    "guitar " * 15_000,
]


@pytest.fixture(scope="module")
def tiny(tiny_model_folder):
    return SentenceEncoder.from_pretrained(tiny_model_folder)


@pytest.fixture(scope="module")
def served(tiny, tmp_path_factory) -> ServedModel:
    base = tmp_path_factory.mktemp("serving") / MODEL_NAME
    saved_model(tiny, base)
    return ServedModel(MODEL_NAME, base)


@pytest.fixture(scope="module")
def rest(served):
    with RestStandIn(served) as server:
        yield server


@pytest.fixture(scope="module")
def grpc_server(served):
    with GrpcStandIn(served) as server:
        yield server


@pytest.fixture(params=["rest", "grpc"])
def target(request, rest, grpc_server) -> str:
    return rest.url if request.param == "rest" else f"grpc://{grpc_server.address}"


def direct(served: ServedModel, texts: list[str]) -> np.ndarray:
    serve = served.loaded.signatures["serving_default"]
    return serve(sentences=tf.constant(texts, dtype=tf.string))["embeddings"].numpy()


def test_client_returns_the_served_embeddings(target, served, tiny):
    with ServingClient(target, MODEL_NAME, batch_size=4) as client:
        embeddings = client.embed(TEXTS)
    assert embeddings.shape == (len(TEXTS), 16) and embeddings.dtype == np.float32
    np.testing.assert_allclose(embeddings, direct(served, TEXTS), atol=1e-6)
    expected = tiny.encode(TEXTS[:2])
    np.testing.assert_allclose(np.sum(embeddings[:2] * expected, axis=1), 1.0, atol=1e-5)


def test_client_sends_batches_and_keeps_order(target, served):
    texts = [f"a cat {i}" for i in range(5)]
    before = served.requests
    with ServingClient(target, MODEL_NAME, batch_size=2) as client:
        embeddings = client.embed(texts)
    assert served.requests - before == 3
    np.testing.assert_allclose(embeddings, direct(served, texts), atol=1e-6)


def test_empty_input_gives_zero_rows_of_the_served_size(target):
    with ServingClient(target, MODEL_NAME) as client:
        assert client.embed([]).shape == (0, 16)
        assert client.embedding_dim == 16


def test_version_pinning(target):
    with ServingClient(target, MODEL_NAME, version=1) as client:
        assert client.embed(["a cat"]).shape == (1, 16)
    with (
        ServingClient(target, MODEL_NAME, version=2) as client,
        pytest.raises(ServingError, match="not found"),
    ):
        client.embed(["a cat"])


def test_unknown_model_is_a_serving_error(target):
    with ServingClient(target, "nope") as client, pytest.raises(ServingError, match="nope"):
        client.embed(["a cat"])


@pytest.mark.parametrize("scheme", ["http://", "grpc://"])
def test_unreachable_server_is_a_serving_error(scheme):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with (
        ServingClient(f"{scheme}127.0.0.1:{port}", MODEL_NAME, timeout=5) as client,
        pytest.raises(ServingError),
    ):
        client.embed(["a cat"])


@pytest.mark.parametrize("bad", ["one string", [b"bytes"], ["ok", None]])
def test_client_rejects_non_string_input(rest, bad):
    with ServingClient(rest.url, MODEL_NAME) as client, pytest.raises(TypeError):
        client.embed(bad)


def post(url: str, body: dict) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode("utf-8"))
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_rest_row_format_as_the_readme_shows(rest, served, tiny):
    """The README's curl bodies: ``instances`` of strings, and of token-id objects."""
    url = f"{rest.url}/v1/models/{MODEL_NAME}:predict"
    by_strings = np.array(post(url, {"instances": TEXTS[:2]})["predictions"])
    np.testing.assert_allclose(by_strings, direct(served, TEXTS[:2]), atol=1e-6)
    tokens = tiny.tokenizer(TEXTS[:2])
    rows = [{k: v[i].tolist() for k, v in tokens.items()} for i in range(2)]
    body = {"signature_name": "embed_token_ids", "instances": rows}
    np.testing.assert_allclose(np.array(post(url, body)["predictions"]), by_strings, atol=1e-6)


def test_rest_model_status(rest):
    with urllib.request.urlopen(f"{rest.url}/v1/models/{MODEL_NAME}", timeout=30) as response:
        status = json.loads(response.read())["model_version_status"]
    assert status == [
        {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
    ]


def test_deployment_kit_is_consistent():
    """export/: models.config parses as TF Serving's ModelServerConfig, compose.yaml mounts the
    base folder where it points and runs the TF Serving release of our TensorFlow."""
    kit = Path(__file__).resolve().parent.parent / "export"
    config = text_format.Parse(
        (kit / "models.config").read_text(), model_server_config_pb2.ModelServerConfig()
    )
    (model,) = config.model_config_list.config
    service = yaml.safe_load((kit / "compose.yaml").read_text())["services"]["tf-serving"]
    release = ".".join(tf.__version__.split(".")[:2])
    assert service["image"].startswith(f"tensorflow/serving:{release}.")
    mounts = [volume.split(":")[-2] for volume in service["volumes"]]
    assert model.base_path in mounts and "/models/models.config" in mounts
    assert "--model_config_file=/models/models.config" in service["command"]
    assert f"/v1/models/{model.name}:predict" in (kit / "README.md").read_text()
