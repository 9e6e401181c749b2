"""All roles of a batch through the encoder as one batch: ``JoinRoles`` stacks the roles' token
rows (each right-padded to the widest role), ``SplitRoles`` cuts the embeddings back per role.

One encoder call per step, not one per role: the train step is traced, differentiated and
optimised by Grappler once, not once per role (a triplet step starts in about half the time),
and each matmul sees all rows at once. Padding is masked, so every row's embedding is the one
its own call would give.

>>> import numpy as np
>>> ids = [np.array([[5, 6, 7]]), np.array([[8, 9]])]
>>> masks = [np.ones((1, 3), "int32"), np.ones((1, 2), "int32")]
>>> joined = JoinRoles()((ids, masks))
>>> keras.ops.convert_to_numpy(joined["input_ids"]).tolist()
[[5, 6, 7], [8, 9, 0]]
>>> keras.ops.convert_to_numpy(joined["attention_mask"]).tolist()
[[1, 1, 1], [1, 1, 0]]
>>> [tuple(part.shape) for part in SplitRoles(2)(np.zeros((2, 4), "float32"))]
[(1, 4), (1, 4)]
"""

from keras_siamese import backend  # noqa: F401  (selects the TensorFlow backend first)

# isort: split
import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_siamese")
class JoinRoles(keras.layers.Layer):
    """``(ids, masks)``, one int ``[B, T_r]`` of each per role -> ``{"input_ids",
    "attention_mask"}`` ``[n * B, max T_r]``: the roles' rows one after another, each role
    right-padded with id 0 and mask 0."""

    def call(self, inputs):
        ids, masks = inputs
        width = ops.max(ops.stack([ops.shape(mask)[1] for mask in masks]))

        def joined(parts):
            padded = [ops.pad(part, [[0, 0], [0, width - ops.shape(part)[1]]]) for part in parts]
            return ops.concatenate(padded, axis=0)

        return {"input_ids": joined(ids), "attention_mask": joined(masks)}

    def compute_output_spec(self, inputs):
        ids, masks = inputs
        return {
            "input_ids": keras.KerasTensor((None, None), dtype=ids[0].dtype),
            "attention_mask": keras.KerasTensor((None, None), dtype=masks[0].dtype),
        }


@keras.saving.register_keras_serializable(package="keras_siamese")
class SplitRoles(keras.layers.Layer):
    """``[count * B, D]`` -> ``count`` tensors ``[B, D]``, in ``JoinRoles``' order."""

    def __init__(self, count: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.count = count

    def call(self, inputs):
        return ops.split(inputs, self.count, axis=0)

    def compute_output_shape(self, input_shape):
        rows = None if input_shape[0] is None else input_shape[0] // self.count
        return [(rows, *input_shape[1:])] * self.count

    def get_config(self) -> dict:
        return {**super().get_config(), "count": self.count}
