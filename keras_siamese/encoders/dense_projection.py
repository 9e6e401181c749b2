"""Dense projection after pooling (sentence-transformers' ``Dense`` module)."""

import json
from pathlib import Path

import keras
import numpy as np
from safetensors.numpy import save_file

from keras_siamese import backend as _backend  # noqa: F401
from keras_siamese.encoders.safetensors_io import checked_weight, read_safetensors

# sentence-transformers stores the activation as a torch class path.
TORCH_ACTIVATIONS = {
    "torch.nn.modules.activation.Tanh": "tanh",
    "torch.nn.modules.linear.Identity": "linear",
    "torch.nn.modules.activation.ReLU": "relu",
    "torch.nn.modules.activation.Sigmoid": "sigmoid",
    "torch.nn.modules.activation.GELU": "gelu",
}


@keras.saving.register_keras_serializable(package="keras_siamese")
class DenseProjection(keras.layers.Dense):
    """A ``keras.layers.Dense`` that reads and writes sentence-transformers' ``Dense`` folders.

    >>> layer = DenseProjection(4, activation="tanh")
    >>> tuple(layer(keras.ops.ones((2, 8))).shape)
    (2, 4)
    """

    @classmethod
    def from_folder(cls, path: Path) -> "DenseProjection":
        path = Path(path)
        config = json.loads((path / "config.json").read_text())
        name = config.get("activation_function", "torch.nn.modules.activation.Tanh")
        if name not in TORCH_ACTIVATIONS:
            raise ValueError(
                f"{path}: unsupported Dense activation {name!r}; "
                f"supported: {sorted(TORCH_ACTIVATIONS)}."
            )
        layer = cls(
            config["out_features"],
            activation=TORCH_ACTIVATIONS[name],
            use_bias=config.get("bias", True),
        )
        layer.build((None, config["in_features"]))
        tensors = read_safetensors(path)
        layer.kernel.assign(
            checked_weight(tensors, "linear.weight", tuple(layer.kernel.shape[::-1]), path).T
        )
        if layer.use_bias:
            layer.bias.assign(checked_weight(tensors, "linear.bias", tuple(layer.bias.shape), path))
        return layer

    def save_to_folder(self, path: Path) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        activation = keras.activations.serialize(self.activation)
        activation = activation if isinstance(activation, str) else activation["config"]
        torch_name = {v: k for k, v in TORCH_ACTIVATIONS.items()}[activation]
        config = {
            "in_features": int(self.kernel.shape[0]),
            "out_features": self.units,
            "bias": self.use_bias,
            "activation_function": torch_name,
        }
        (path / "config.json").write_text(json.dumps(config, indent=2))
        tensors = {"linear.weight": np.ascontiguousarray(keras.ops.convert_to_numpy(self.kernel).T)}
        if self.use_bias:
            tensors["linear.bias"] = keras.ops.convert_to_numpy(self.bias)
        save_file(tensors, str(path / "model.safetensors"))
