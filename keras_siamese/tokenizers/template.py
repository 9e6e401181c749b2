"""The last step of every in-graph tokenizer: ``[CLS] ids [SEP]`` (``<s> ids </s>``), truncated
to ``max_seq_length`` and right-padded into ``input_ids`` / ``attention_mask``."""

import tensorflow as tf

from keras_siamese import backend  # noqa: F401  (selects the TensorFlow backend first)

# isort: split
import keras

OUTPUTS = ("input_ids", "attention_mask")


def framed_and_padded(
    ids: tf.RaggedTensor, max_seq_length: int, cls_id: int, sep_id: int, pad_id: int
) -> dict[str, tf.Tensor]:
    """Token ids ``[batch, (tokens)]`` -> int32 ``input_ids`` and ``attention_mask``
    ``[batch, longest]``: the first ``max_seq_length - 2`` ids between ``cls_id`` and ``sep_id``,
    padded with ``pad_id`` (mask 0) to the batch's longest.

    >>> ids = tf.ragged.constant([[7, 8, 9], []], dtype=tf.int32)
    >>> framed_and_padded(ids, 4, cls_id=2, sep_id=3, pad_id=0)["input_ids"].numpy().tolist()
    [[2, 7, 8, 3], [2, 3, 0, 0]]
    """
    body = ids[:, : max_seq_length - 2]
    rows = body.nrows()
    framed = tf.concat([tf.fill([rows, 1], cls_id), body, tf.fill([rows, 1], sep_id)], axis=1)
    return {
        "input_ids": framed.to_tensor(pad_id),
        "attention_mask": tf.ones_like(framed).to_tensor(0),
    }


def output_spec(strings) -> dict[str, keras.KerasTensor]:
    """What an in-graph tokenizer gives for ``strings`` ``[batch]``: its output spec."""
    return {name: keras.KerasTensor((strings.shape[0], None), dtype="int32") for name in OUTPUTS}
