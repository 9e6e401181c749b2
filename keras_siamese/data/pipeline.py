"""`make_dataset`: a tf.data pipeline of tokenised batches, ready for `model.fit`."""

import itertools
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from keras_siamese.data.batching import BatchPlan
from keras_siamese.data.examples import Examples
from keras_siamese.tokenizers import TextTokenizer

Tokenizer = Callable[[tf.Tensor], dict[str, tf.Tensor]]


def make_dataset(
    examples: Examples,
    tokenizer: Tokenizer | TextTokenizer,
    batch_size: int,
    shuffle: bool = True,
    seed: int | None = None,
    drop_remainder: bool = False,
    no_duplicates: bool = False,
    length_bucketing: bool | None = None,
    prefetch: bool = True,
    group_by_label: bool = False,
) -> tf.data.Dataset:
    """Batches `(features, labels)` of `examples`, tokenised.

    `features` maps `{role}_input_ids` and `{role}_attention_mask` (int32 [B, T], each role padded
    to its longest text in the batch) for every role; `labels` are float32 scores or int32 class
    ids ([B]; [B, ...] for vector labels, e.g. a teacher's embeddings or scores), or zeros when
    the examples have none (in-batch-negative losses ignore them). The batches
    follow a `BatchPlan` (see it for `shuffle`, `length_bucketing`, `no_duplicates`,
    `group_by_label` and `drop_remainder`); each new pass over the dataset (each epoch) is
    shuffled anew, reproducibly from `seed`. `tokenizer`: a `TextTokenizer` (an encoder's
    `tokenizer`, as `fit` gives): every text is tokenised once, up front, by its Rust tokenizer,
    and the pipeline only gathers and pads each batch's ids (no tokenizer graph to trace, no
    tokenising beside the training step); or a function mapping a tf.string [B] tensor to
    {"input_ids", "attention_mask"} (an in-graph tokenizer), called on each batch.

    Example:
        >>> train = make_dataset(tiny_examples, tiny_encoder.tokenizer, 2, seed=0)  # model.fit
        >>> features, labels = next(iter(train))
        >>> sorted(features), labels.shape
        (['text_a_attention_mask', 'text_a_input_ids', 'text_b_attention_mask', 'text_b_input_ids'],
         TensorShape([2]))
        >>> tokenizer = tiny_encoder.in_graph_tokenizer()  # or InGraphTokenizer(vocabulary)
        >>> train = make_dataset(tiny_examples, tokenizer, 2, seed=0)
        >>> features, labels = next(iter(train))
        >>> sorted(features), labels.shape
        (['text_a_attention_mask', 'text_a_input_ids', 'text_b_attention_mask', 'text_b_input_ids'],
         TensorShape([2]))
    """
    if examples.labels is not None and examples.labels.dtype.kind == "U":
        raise ValueError("labels are class names: map them to numbers with Examples.relabel")
    plan = BatchPlan(
        examples,
        batch_size,
        shuffle=shuffle,
        seed=seed,
        drop_remainder=drop_remainder,
        no_duplicates=no_duplicates,
        length_bucketing=length_bucketing,
        group_by_label=group_by_label,
    )
    epochs = itertools.count()

    def batch_rows():
        yield from plan.batches(next(epochs))

    dataset = tf.data.Dataset.from_generator(
        batch_rows, output_signature=tf.TensorSpec([None], tf.int64)
    )
    if plan.num_batches is not None:
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(plan.num_batches))
    labels = np.zeros(len(examples), np.float32) if examples.labels is None else examples.labels
    labels = tf.constant(labels)
    if isinstance(tokenizer, TextTokenizer):
        batch = _gathered_batches(examples, tokenizer, labels)
    else:
        batch = _tokenized_batches(examples, tokenizer, labels)
    dataset = dataset.map(batch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.prefetch(tf.data.AUTOTUNE) if prefetch else dataset


def _gathered_batches(examples: Examples, tokenizer: TextTokenizer, labels: tf.Tensor) -> Callable:
    """The batch of some rows, from every text's ids computed once (each role a ragged
    [N, None] of ids), padded to each role's longest text in the batch."""
    tokens = {}
    for role, column in examples.columns.items():
        ids = tokenizer.encode_ids(column)
        values = np.concatenate(ids) if ids else np.zeros(0, np.int32)
        tokens[role] = tf.RaggedTensor.from_row_lengths(values, [len(row) for row in ids])
    pad = tokenizer.pad_token_id

    def gather(rows: tf.Tensor) -> tuple[dict[str, tf.Tensor], tf.Tensor]:
        features = {}
        for role, ragged in tokens.items():
            ids = tf.gather(ragged, rows)
            features[f"{role}_input_ids"] = ids.to_tensor(default_value=pad)
            features[f"{role}_attention_mask"] = tf.sequence_mask(ids.row_lengths(), dtype=tf.int32)
        return features, tf.gather(labels, rows)

    return gather


def _tokenized_batches(examples: Examples, tokenizer: Tokenizer, labels: tf.Tensor) -> Callable:
    """The batch of some rows, tokenised by ``tokenizer`` (in-graph) in the pipeline."""
    texts = {role: tf.constant(column) for role, column in examples.columns.items()}

    def tokenize(rows: tf.Tensor) -> tuple[dict[str, tf.Tensor], tf.Tensor]:
        # One tokenizer call for all roles (one trace of its graph, not one per role), then
        # each role's rows, cut to the role's own longest text.
        size = tf.size(rows)
        tokens = tokenizer(tf.concat([tf.gather(column, rows) for column in texts.values()], 0))
        ids = tf.cast(tokens["input_ids"], tf.int32)
        mask = tf.cast(tokens["attention_mask"], tf.int32)
        features = {}
        for i, role in enumerate(texts):
            role_mask = mask[i * size : (i + 1) * size]
            longest = tf.maximum(tf.reduce_max(tf.reduce_sum(role_mask, axis=1)), 0)
            features[f"{role}_input_ids"] = ids[i * size : (i + 1) * size, :longest]
            features[f"{role}_attention_mask"] = role_mask[:, :longest]
        return features, tf.gather(labels, rows)

    return tokenize
