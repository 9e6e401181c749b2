"""Stand-ins for the real tokenizer and encoder, shared by the data and evaluation tests."""

import numpy as np
import tensorflow as tf

import keras_siamese  # noqa: F401  (selects the TensorFlow backend before keras)

# isort: split
import keras

PAD, UNKNOWN = 0, 1


class WordTokenizer:
    """Lower-cased whitespace words -> ids (0 pads, 1 is unknown), padded to the batch's longest."""

    def __init__(self, vocabulary: list[str]) -> None:
        self.vocabulary_size = len(vocabulary) + 2
        self.table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(vocabulary), tf.range(2, self.vocabulary_size, dtype=tf.int32)
            ),
            default_value=UNKNOWN,
        )

    def __call__(self, texts: tf.Tensor) -> dict[str, tf.Tensor]:
        words = tf.strings.split(tf.strings.lower(texts))
        ids = tf.ragged.map_flat_values(self.table.lookup, words)
        return {
            "input_ids": ids.to_tensor(PAD),
            "attention_mask": tf.ones_like(ids).to_tensor(0),
        }


class BagOfWordsEncoder(keras.layers.Layer):
    """Mean of trainable word vectors, with the `encode` method evaluators look for."""

    def __init__(self, tokenizer: WordTokenizer, dim: int = 8, **kwargs) -> None:
        super().__init__(**kwargs)
        self.tokenizer = tokenizer
        self.embedding = keras.layers.Embedding(tokenizer.vocabulary_size, dim)

    def call(self, input_ids: tf.Tensor, attention_mask: tf.Tensor) -> tf.Tensor:
        mask = tf.cast(attention_mask, self.compute_dtype)[..., None]
        return tf.reduce_sum(self.embedding(input_ids) * mask, 1) / tf.reduce_sum(mask, 1)

    def encode(
        self,
        texts: list[str],
        batch_size: int = 32,
        normalize: bool | None = None,
        show_progress_bar: bool | None = None,
    ) -> np.ndarray:
        tokens = self.tokenizer(tf.constant(texts))
        embeddings = self(tokens["input_ids"], tokens["attention_mask"])
        if normalize:
            embeddings = tf.math.l2_normalize(embeddings, axis=-1)
        return embeddings.numpy().astype(np.float32)
