"""ONNX Runtime as a sentence-transformers user would run it, built by hand.

sentence-transformers' own ``backend="onnx"`` needs ``optimum``, which does not install beside
sentence-transformers 6 and transformers 5; so this exports the checkpoint's transformer with
``torch.onnx.export``, quantises it with ``onnxruntime.quantization.quantize_dynamic`` (int8
weights, as ``optimum``'s dynamic quantisation does), and pools and normalises in numpy the way
sentence-transformers does (mean or CLS pooling, then L2), batching sentences sorted by length
in characters as its ``encode`` does.
"""

from pathlib import Path

import numpy as np


def _token_embeddings_module(model):
    import torch

    class TokenEmbeddings(torch.nn.Module):
        """The transformer's last hidden state for (input_ids, attention_mask)."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            return self.model(input_ids=input_ids, attention_mask=attention_mask)[0]

    return TokenEmbeddings()


def export_onnx(reference, folder: Path, quantize: bool) -> Path:
    """The transformer of ``reference`` (a ``SentenceTransformer``) as an ONNX file in
    ``folder`` (int8 weights when ``quantize``)."""
    import torch

    path = folder / "model.onnx"
    if not path.is_file():
        transformer = _token_embeddings_module(reference[0].auto_model.eval())
        sample = reference.tokenize(["a short sentence", "another one"])
        names = ["input_ids", "attention_mask"]
        axes = {name: {0: "batch", 1: "length"} for name in names}
        with torch.no_grad():
            torch.onnx.export(
                transformer,
                (sample["input_ids"], sample["attention_mask"]),
                str(path),
                input_names=names,
                output_names=["token_embeddings"],
                dynamic_axes={**axes, "token_embeddings": {0: "batch", 1: "length"}},
                opset_version=17,
                dynamo=False,
            )
    if not quantize:
        return path
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantized = folder / "model-int8.onnx"
    if not quantized.is_file():
        quantize_dynamic(str(path), str(quantized), weight_type=QuantType.QInt8)
    return quantized


class OnnxEncoder:
    """``encode`` with ONNX Runtime (see the module): float32 or dynamic int8."""

    def __init__(self, reference, folder: Path, quantize: bool = False) -> None:
        import onnxruntime

        self.reference = reference
        self.mean = reference[1].pooling_mode == "mean"
        self.session = onnxruntime.InferenceSession(
            str(export_onnx(reference, folder, quantize)), providers=["CPUExecutionProvider"]
        )

    def _batch(self, texts: list[str]) -> np.ndarray:
        features = self.reference.tokenize(texts)
        mask = features["attention_mask"].numpy()
        inputs = {"input_ids": features["input_ids"].numpy(), "attention_mask": mask}
        tokens = self.session.run(None, inputs)[0]
        if self.mean:
            weights = mask[:, :, None].astype(np.float32)
            pooled = (tokens * weights).sum(1) / np.maximum(weights.sum(1), 1e-9)
        else:
            pooled = tokens[:, 0]
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        order = np.argsort([-len(text) for text in texts], kind="stable")
        batches = [order[start : start + batch_size] for start in range(0, len(texts), batch_size)]
        parts = [self._batch([texts[i] for i in index]) for index in batches]
        out = np.empty((len(texts), parts[0].shape[1]), np.float32)
        out[order] = np.concatenate(parts)
        return out
