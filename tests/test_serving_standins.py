"""Local stand-ins for TF Serving's REST and gRPC predict APIs, over an exported SavedModel.

TF Serving itself cannot be installed here (no PyPI or Debian package), so these implement its
contract on 127.0.0.1 (ephemeral ports) with ``tf.saved_model.load``: REST ``POST
/v1/models/NAME[/versions/N]:predict`` (``instances`` -> ``predictions``, ``inputs`` ->
``outputs``), ``GET /v1/models/NAME`` and ``/metadata``; gRPC ``PredictionService.Predict`` and
``GetModelMetadata``. Each server stops itself after ``lifetime_s`` even if a test hangs.
"""

import json
import re
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import grpc
import numpy as np
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tokenizer ops the SavedModel uses)
from google.protobuf import json_format
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    predict_pb2,
    prediction_service_pb2_grpc,
)

LOOPBACK = "127.0.0.1"
DEFAULT_SIGNATURE = "serving_default"
MODEL_PATH = re.compile(
    r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>\d+))?(?P<action>:predict|/metadata)?$"
)


class ModelNotFound(LookupError):
    pass


class ServedModel:
    """The newest version under a TF Serving base folder, called as TF Serving calls it."""

    def __init__(self, name: str, base_dir: Path) -> None:
        versions = [int(p.name) for p in Path(base_dir).iterdir() if p.name.isdigit()]
        self.name = name
        self.version = max(versions)
        folder = Path(base_dir) / str(self.version)
        self.loaded = tf.saved_model.load(str(folder))
        saved = saved_model_pb2.SavedModel.FromString((folder / "saved_model.pb").read_bytes())
        self.signature_defs = get_model_metadata_pb2.SignatureDefMap()
        for key, signature in saved.meta_graphs[0].signature_def.items():
            if not key.startswith("__"):
                self.signature_defs.signature_def[key].CopyFrom(signature)
        self.requests = 0

    def check(self, name: str, version: int | None) -> None:
        if name != self.name or version not in (None, self.version):
            raise ModelNotFound(f"Servable not found for request: {name} version {version}")

    def predict(self, signature_name: str, inputs: dict) -> dict[str, np.ndarray]:
        self.requests += 1
        function = self.loaded.signatures[signature_name or DEFAULT_SIGNATURE]
        specs = function.structured_input_signature[1]
        if set(inputs) != set(specs):
            raise ValueError(f"inputs {sorted(inputs)} do not match {sorted(specs)}")
        tensors = {k: tf.constant(v, dtype=specs[k].dtype) for k, v in inputs.items()}
        return {k: v.numpy() for k, v in function(**tensors).items()}


def _rows_to_columns(instances: list, input_names: list[str]) -> dict[str, list]:
    if instances and isinstance(instances[0], dict):
        return {name: [row[name] for row in instances] for name in input_names}
    return {input_names[0]: instances}


class _RestHandler(BaseHTTPRequestHandler):
    server: "RestStandIn"

    def log_message(self, *args) -> None:  # keep pytest output clean
        pass

    def _reply(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _route(self) -> tuple[str, str]:
        match = MODEL_PATH.match(self.path)
        if match is None:
            raise ModelNotFound(f"Malformed request: {self.command} {self.path}")
        version = match["version"] and int(match["version"])
        self.server.model.check(match["name"], version)
        return match["action"] or "", match["name"]

    def do_GET(self) -> None:
        model = self.server.model
        try:
            action, name = self._route()
        except ModelNotFound as err:
            return self._reply(404, {"error": str(err)})
        if action == "/metadata":
            signatures = json_format.MessageToDict(
                model.signature_defs, preserving_proto_field_name=True
            )
            spec = {"name": name, "signature_name": "", "version": str(model.version)}
            return self._reply(200, {"model_spec": spec, "metadata": {"signature_def": signatures}})
        if action:
            return self._reply(404, {"error": f"Malformed request: GET {self.path}"})
        status = {"error_code": "OK", "error_message": ""}
        version_status = {"version": str(model.version), "state": "AVAILABLE", "status": status}
        return self._reply(200, {"model_version_status": [version_status]})

    def do_POST(self) -> None:
        model = self.server.model
        try:
            action, _ = self._route()
        except ModelNotFound as err:
            return self._reply(404, {"error": str(err)})
        if action != ":predict":
            return self._reply(404, {"error": f"Malformed request: POST {self.path}"})
        try:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            signature = body.get("signature_name", DEFAULT_SIGNATURE)
            input_names = sorted(model.signature_defs.signature_def[signature].inputs)
            if ("instances" in body) == ("inputs" in body):
                raise ValueError("expecting exactly one of 'instances' or 'inputs'")
            if "instances" in body:
                if not body["instances"]:
                    raise ValueError("No values in 'instances' array")
                columns = _rows_to_columns(body["instances"], input_names)
                outputs = {k: v.tolist() for k, v in model.predict(signature, columns).items()}
                if len(outputs) == 1:
                    predictions = next(iter(outputs.values()))
                else:
                    rows = zip(*outputs.values(), strict=True)
                    predictions = [dict(zip(outputs, row, strict=True)) for row in rows]
                return self._reply(200, {"predictions": predictions})
            inputs = body["inputs"]
            columns = inputs if isinstance(inputs, dict) else {input_names[0]: inputs}
            outputs = {k: v.tolist() for k, v in model.predict(signature, columns).items()}
            single = next(iter(outputs.values())) if len(outputs) == 1 else outputs
            return self._reply(200, {"outputs": single})
        except (ValueError, KeyError, TypeError, tf.errors.OpError) as err:
            return self._reply(400, {"error": str(err)})


class _BoundedServer:
    """Stops itself after ``lifetime_s`` seconds; a context manager."""

    lifetime_s = 120.0

    def __enter__(self):
        self._timer = threading.Timer(self.lifetime_s, self.stop)
        self._timer.daemon = True
        self._timer.start()
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._timer.cancel()
        self.stop()


class RestStandIn(_BoundedServer, ThreadingHTTPServer):
    """TF Serving's REST API on ``http://127.0.0.1:<ephemeral port>``."""

    daemon_threads = True

    def __init__(self, model: ServedModel) -> None:
        ThreadingHTTPServer.__init__(self, (LOOPBACK, 0), _RestHandler)
        self.model = model
        self.url = f"http://{LOOPBACK}:{self.server_port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, model: ServedModel) -> None:
        self.model = model

    def _check(self, request, context) -> None:
        spec = request.model_spec
        version = spec.version.value if spec.HasField("version") else None
        try:
            self.model.check(spec.name, version)
        except ModelNotFound as err:
            context.abort(grpc.StatusCode.NOT_FOUND, str(err))

    def Predict(self, request, context):
        self._check(request, context)
        inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
        try:
            outputs = self.model.predict(request.model_spec.signature_name, inputs)
        except (ValueError, KeyError, tf.errors.OpError) as err:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(err))
        response = predict_pb2.PredictResponse()
        response.model_spec.name = self.model.name
        response.model_spec.version.value = self.model.version
        for name in request.output_filter or outputs:
            response.outputs[name].CopyFrom(tf.make_tensor_proto(outputs[name]))
        return response

    def GetModelMetadata(self, request, context):
        self._check(request, context)
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = self.model.name
        response.model_spec.version.value = self.model.version
        response.metadata["signature_def"].Pack(self.model.signature_defs)
        return response


class GrpcStandIn(_BoundedServer):
    """TF Serving's gRPC ``PredictionService`` on ``127.0.0.1:<ephemeral port>``."""

    def __init__(self, model: ServedModel) -> None:
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
            _PredictionServicer(model), self.server
        )
        port = self.server.add_insecure_port(f"{LOOPBACK}:0")
        self.address = f"{LOOPBACK}:{port}"

    def start(self) -> None:
        self.server.start()

    def stop(self) -> None:
        self.server.stop(grace=1).wait()
