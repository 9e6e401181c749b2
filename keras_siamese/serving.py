"""A client for TF Serving's predict API, over REST (standard library only) or gRPC.

It speaks to a SavedModel written by ``keras_siamese.export.saved_model``: the ``serving_default``
signature takes ``sentences`` (strings) and returns ``embeddings`` ``[batch, dim]``.

With TF Serving serving the export as model ``minilm``::

    with ServingClient("http://localhost:8501", "minilm") as client:
        client.embed(["A man is playing a guitar."]).shape  # (1, 384)
    ServingClient("grpc://localhost:8500", "minilm").embed(["Hi"]).shape  # (1, 384)
"""

import contextlib
import json
import urllib.error
import urllib.request
from collections.abc import Sequence
from functools import cached_property
from typing import Any, Protocol

import numpy as np

from keras_siamese.validation import check_texts

SENTENCES_INPUT = "sentences"
EMBEDDINGS_OUTPUT = "embeddings"
DEFAULT_SIGNATURE = "serving_default"
REST_SCHEMES = ("http://", "https://")
GRPC_SCHEME = "grpc://"
# Embeddings of 64 long sentences are far below gRPC's 4 MB default; 100,000-character inputs
# are not, so both directions allow 64 MB.
GRPC_MESSAGE_LIMIT = 64 * 1024 * 1024


class ServingError(RuntimeError):
    """The model server answered with an error, or could not be reached."""


class _Transport(Protocol):
    def predict(self, sentences: list[str]) -> np.ndarray: ...

    def signature_defs(self) -> dict[str, Any]: ...

    def close(self) -> None: ...


class ServingClient:
    """Embeds sentences with a model served by TF Serving.

    ``target`` is ``http(s)://host:8501`` for the REST API or ``grpc://host:8500`` (or plain
    ``host:8500``) for gRPC, which needs ``tensorflow-serving-api``. ``version`` pins a model
    version (default: the newest the server has loaded). Sentences are sent ``batch_size`` at a
    time; ``timeout`` (seconds) bounds each request.

    >>> client = ServingClient("http://localhost:8501", "minilm", batch_size=32)  # no request yet
    >>> client.batch_size, client.signature_name  # client.embed(sentences) asks the server
    (32, 'serving_default')
    """

    def __init__(
        self,
        target: str,
        model_name: str,
        *,
        version: int | None = None,
        signature_name: str = DEFAULT_SIGNATURE,
        timeout: float = 30.0,
        batch_size: int = 64,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}.")
        if version is not None and version < 1:
            raise ValueError(f"version must be a positive integer, got {version}.")
        self.batch_size = batch_size
        self.signature_name = signature_name
        if target.startswith(REST_SCHEMES):
            self._transport: _Transport = _RestTransport(
                target, model_name, version, signature_name, timeout
            )
        else:
            self._transport = _GrpcTransport(
                target.removeprefix(GRPC_SCHEME), model_name, version, signature_name, timeout
            )

    def embed(self, sentences: Sequence[str]) -> np.ndarray:
        """float32 ``[len(sentences), embedding_dim]`` embeddings, in input order."""
        sentences = check_texts(sentences, "sentences", allow_empty=True)
        if not sentences:
            return np.zeros((0, self.embedding_dim), np.float32)
        return np.concatenate(
            [
                self._transport.predict(sentences[start : start + self.batch_size])
                for start in range(0, len(sentences), self.batch_size)
            ]
        )

    def signature_defs(self) -> dict[str, Any]:
        """The model's signatures as TF Serving's metadata API describes them (JSON form)."""
        return self._transport.signature_defs()

    @cached_property
    def embedding_dim(self) -> int:
        """The embedding size, read from the served signature's output shape."""
        signature = self.signature_defs()[self.signature_name]
        return int(signature["outputs"][EMBEDDINGS_OUTPUT]["tensor_shape"]["dim"][-1]["size"])

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> "ServingClient":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class _RestTransport:
    """``POST /v1/models/NAME[/versions/N]:predict`` in the columnar (``inputs``) form."""

    def __init__(
        self, url: str, model_name: str, version: int | None, signature_name: str, timeout: float
    ) -> None:
        self.model_url = f"{url.rstrip('/')}/v1/models/{model_name}"
        if version is not None:
            self.model_url += f"/versions/{version}"
        self.signature_name = signature_name
        self.timeout = timeout

    def _request(self, url: str, body: dict | None = None) -> dict:
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        request = urllib.request.Request(
            url, data=data, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as err:
            message = err.read().decode("utf-8", "replace")
            with contextlib.suppress(ValueError, KeyError, TypeError):
                message = json.loads(message)["error"]
            raise ServingError(f"{url}: HTTP {err.code}: {message}") from None
        except (urllib.error.URLError, TimeoutError) as err:
            raise ServingError(f"{url}: {getattr(err, 'reason', err)}") from None

    def predict(self, sentences: list[str]) -> np.ndarray:
        body = {"signature_name": self.signature_name, "inputs": {SENTENCES_INPUT: sentences}}
        outputs = self._request(f"{self.model_url}:predict", body)["outputs"]
        if isinstance(outputs, dict):  # several named outputs
            outputs = outputs[EMBEDDINGS_OUTPUT]
        return np.asarray(outputs, dtype=np.float32)

    def signature_defs(self) -> dict[str, Any]:
        metadata = self._request(f"{self.model_url}/metadata")["metadata"]
        return metadata["signature_def"]["signature_def"]

    def close(self) -> None:
        pass


class _GrpcTransport:
    """``tensorflow.serving.PredictionService`` ``Predict`` and ``GetModelMetadata``."""

    def __init__(
        self,
        address: str,
        model_name: str,
        version: int | None,
        signature_name: str,
        timeout: float,
    ) -> None:
        try:
            import grpc
            from tensorflow_serving.apis import prediction_service_pb2_grpc
        except ImportError as err:
            raise ImportError(
                "The gRPC client needs tensorflow-serving-api: "
                "pip install 'keras-siamese[serving]' (or use an http:// URL for REST)."
            ) from err
        self._grpc = grpc
        self._channel = grpc.insecure_channel(
            address,
            options=[
                ("grpc.max_send_message_length", GRPC_MESSAGE_LIMIT),
                ("grpc.max_receive_message_length", GRPC_MESSAGE_LIMIT),
            ],
        )
        self._stub = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)
        self.address = address
        self.model_name = model_name
        self.version = version
        self.signature_name = signature_name
        self.timeout = timeout

    def _fill_model_spec(self, request) -> None:
        request.model_spec.name = self.model_name
        request.model_spec.signature_name = self.signature_name
        if self.version is not None:
            request.model_spec.version.value = self.version

    def _call(self, method, request):
        try:
            return method(request, timeout=self.timeout)
        except self._grpc.RpcError as err:
            raise ServingError(f"{self.address}: {err.code().name}: {err.details()}") from None

    def predict(self, sentences: list[str]) -> np.ndarray:
        import tensorflow as tf
        from tensorflow_serving.apis import predict_pb2

        request = predict_pb2.PredictRequest()
        self._fill_model_spec(request)
        request.inputs[SENTENCES_INPUT].CopyFrom(tf.make_tensor_proto(sentences, dtype=tf.string))
        request.output_filter.append(EMBEDDINGS_OUTPUT)
        response = self._call(self._stub.Predict, request)
        return tf.make_ndarray(response.outputs[EMBEDDINGS_OUTPUT]).astype(np.float32)

    def signature_defs(self) -> dict[str, Any]:
        from google.protobuf import json_format
        from tensorflow_serving.apis import get_model_metadata_pb2

        request = get_model_metadata_pb2.GetModelMetadataRequest()
        self._fill_model_spec(request)
        request.metadata_field.append("signature_def")
        response = self._call(self._stub.GetModelMetadata, request)
        signatures = get_model_metadata_pb2.SignatureDefMap()
        response.metadata["signature_def"].Unpack(signatures)
        as_json = json_format.MessageToDict(signatures, preserving_proto_field_name=True)
        return as_json["signature_def"]

    def close(self) -> None:
        self._channel.close()
