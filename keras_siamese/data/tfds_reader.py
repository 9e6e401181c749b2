"""`read_tfds`: examples from a TensorFlow Datasets split, picking the features by name."""

from collections.abc import Mapping

import numpy as np

from keras_siamese.data.examples import Examples, error_source


def read_tfds(
    name: str,
    split: str,
    columns: Mapping[str, str],
    label: str | None = None,
    data_dir: str | None = None,
    label_range: tuple[float, float] | None = None,
) -> Examples:
    """Examples whose role `r` holds the text feature `columns[r]` of `tfds.load(name, split)`.

    Example:
        GLUE's STS-B (downloaded by TensorFlow Datasets on first use)::

            columns = {"text_a": "sentence1", "text_b": "sentence2"}
            dev = read_tfds("glue/stsb", "validation", columns, label="label")
    """
    import tensorflow_datasets as tfds  # this reader's own dependency, loaded on first use

    dataset = tfds.load(name, split=split, data_dir=data_dir)
    features = [*columns.values(), *([label] if label is not None else [])]
    with error_source(f"{name}[{split}]"):
        missing = [feature for feature in features if feature not in dataset.element_spec]
        if missing:
            raise ValueError(f"no feature(s) {missing}; it has {list(dataset.element_spec)}")
        values: dict[str, list[object]] = {feature: [] for feature in features}
        for example in tfds.as_numpy(dataset):
            for feature in features:
                values[feature].append(example[feature])
        texts = {role: [_text(v) for v in values[feature]] for role, feature in columns.items()}
        labels = None if label is None else np.asarray(values[label])
        return Examples(texts, labels, label_range)


def _text(value: object) -> object:
    return value.decode("utf-8") if isinstance(value, bytes) else value
