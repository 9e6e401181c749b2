"""What every in-graph tokenizer shares: the last step, ``[CLS] ids [SEP]`` (``<s> ids </s>``)
truncated to ``max_seq_length`` and right-padded into ``input_ids`` / ``attention_mask``, and
``FramedTokenizer``, their common base layer."""

import json
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

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


class FramedTokenizer(keras.layers.Layer):
    """The base of the in-graph tokenizers: string inputs, the frame of special tokens and the
    padding (``frame``), ``max_seq_length`` (the ``TextTokenizer``'s when made from one, read at
    each call or trace; ``length_source``), the shared ``get_config`` keys and, for a tokenizer
    whose model is a JSON-able dict (``self._model``, given back to ``set_vocabulary``), its
    ``.keras`` asset ``model_asset``."""

    model_asset: ClassVar[str] = ""

    def __init__(
        self, max_seq_length: int, cls_token: str, sep_token: str, pad_token: str, **kwargs
    ) -> None:
        super().__init__(**kwargs)
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        self._length_source = None
        self.cls_token, self.sep_token, self.pad_token = cls_token, sep_token, pad_token
        self.max_seq_length = max_seq_length
        self._model: dict = {}

    @property
    def max_seq_length(self) -> int:
        """Most tokens per text, the frame included: the `TextTokenizer`'s when made by
        `from_text_tokenizer` (set it there, or on the `SentenceEncoder`), else its own."""
        source = self._length_source
        return source.max_seq_length if source is not None else self._max_seq_length

    @max_seq_length.setter
    def max_seq_length(self, value: int) -> None:
        if self._length_source is not None:
            raise AttributeError(
                f"This {type(self).__name__} reads max_seq_length from its TextTokenizer; set "
                "it there (or on the SentenceEncoder)."
            )
        if value < 2:
            frame = f"{self.cls_token}, {self.sep_token}"
            raise ValueError(f"max_seq_length must be at least 2 ({frame}): {value}.")
        self._max_seq_length = int(value)

    @classmethod
    def twin_of(cls, tokenizer, family: str, name: str, pipeline: Callable[[dict], dict], **kwargs):
        """A ``cls`` made from ``tokenizer`` (a ``TextTokenizer`` of ``family``, called ``name`` in
        the error otherwise): ``pipeline`` maps its ``tokenizer.json`` to the constructor's
        settings; its ``max_seq_length`` is the text tokenizer's, read at each call (or trace)."""
        if tokenizer.family != family:
            raise ValueError(
                f"{cls.__name__} reproduces {name} tokenizers; this one is {tokenizer.family}."
            )
        special = tokenizer.special_tokens
        layer = cls(
            **pipeline(json.loads(tokenizer.to_str())),
            max_seq_length=tokenizer.max_seq_length,
            cls_token=special["cls_token"],
            sep_token=special["sep_token"],
            pad_token=special["pad_token"],
            **kwargs,
        )
        layer._length_source = tokenizer
        return layer

    def frame(self, ids: tf.RaggedTensor) -> dict[str, tf.Tensor]:
        """``framed_and_padded`` with this tokenizer's length and special ids."""
        return framed_and_padded(ids, self.max_seq_length, self._cls_id, self._sep_id, self._pad_id)

    def compute_output_spec(self, strings) -> dict[str, keras.KerasTensor]:
        return output_spec(strings)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "max_seq_length": self.max_seq_length,
            "cls_token": self.cls_token,
            "sep_token": self.sep_token,
            "pad_token": self.pad_token,
        }

    def save_assets(self, dir_path: str) -> None:
        content = json.dumps(self._model, ensure_ascii=False)
        (Path(dir_path) / self.model_asset).write_text(content, encoding="utf-8")

    def load_assets(self, dir_path: str) -> None:
        model = json.loads((Path(dir_path) / self.model_asset).read_text(encoding="utf-8"))
        self.set_vocabulary(**model)
