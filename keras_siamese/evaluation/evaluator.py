"""`Evaluator`: the Keras callback base of the evaluators, also callable outside training."""

from collections.abc import Sequence
from typing import Literal, Protocol

import keras
import numpy as np

from keras_siamese.data.examples import Examples
from keras_siamese.progress import labelled


class Encoder(Protocol):
    """What evaluators need of a model: texts in, float32 embeddings [N, D] out."""

    def encode(
        self,
        texts: list[str],
        batch_size: int = 32,
        normalize: bool | None = None,
        show_progress_bar: bool | None = None,
    ) -> np.ndarray: ...


class Evaluator(keras.callbacks.Callback):
    """Computes metrics of an encoder; as a callback, writes them into the logs of each epoch.

    Metrics are named `{name}_{metric}`, so `History`, `EarlyStopping` and `ModelCheckpoint`
    (placed after the evaluator in `callbacks`) see them, e.g. `monitor=evaluator.primary_metric`.
    With `every_n_steps`, the metrics also go into the logs of every n-th training batch.
    The encoder is the one given, else the first layer of the model (the model itself first)
    that has an `encode` method. Subclasses set `primary` and implement `compute`.
    """

    primary: str

    def __init__(
        self,
        name: str,
        encoder: Encoder | None = None,
        batch_size: int = 32,
        every_n_steps: int | None = None,
    ) -> None:
        super().__init__()
        self.name = name
        self.encoder = encoder
        self.batch_size = batch_size
        self.every_n_steps = every_n_steps
        # Without step evaluations the batch hook does nothing, so Keras may run it asynchronously.
        self.async_safe = not every_n_steps
        self._steps = 0
        self._steps_before_epoch = 0

    @property
    def primary_metric(self) -> str:
        """The log key of the metric that sums up this evaluation."""
        return f"{self.name}_{self.primary}"

    def compute(self, encoder: Encoder) -> dict[str, float]:
        """The metrics, by short name, of `encoder`."""
        raise NotImplementedError

    def evaluate(self, encoder: Encoder | None = None) -> dict[str, float]:
        """The metrics of `encoder` (default: see the class), named `{name}_{metric}`."""
        if encoder is None:
            encoder = self._model_encoder() if self.encoder is None else self.encoder
        return {f"{self.name}_{key}": float(value) for key, value in self.compute(encoder).items()}

    def __call__(self, encoder: Encoder | None = None) -> dict[str, float]:
        return self.evaluate(encoder)

    def embed(
        self,
        encoder: Encoder,
        *texts: Sequence[str],
        kind: Literal["query", "document"] | None = None,
    ) -> list[np.ndarray]:
        """Embeddings of each list of texts, encoding every distinct text once (with progress
        named after this evaluator when it takes more than a couple of seconds).

        `kind` encodes with the encoder's `encode_query` or `encode_document` (its prompts, as
        sentence-transformers' retrieval evaluators do) where it has one, else with `encode`."""
        unique = list(dict.fromkeys(text for column in texts for text in column))
        encode = getattr(encoder, f"encode_{kind}", None) if kind else None
        encode = encode if callable(encode) else encoder.encode
        with labelled(self.name, leave=False):  # the encoder's progress, named after this one
            vectors = encode(unique, batch_size=self.batch_size, show_progress_bar=None)
        vectors = np.asarray(vectors, dtype=np.float32)
        position = {text: row for row, text in enumerate(unique)}
        return [vectors[[position[text] for text in column]] for column in texts]

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._steps = 0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._steps_before_epoch = self._steps

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if not self.every_n_steps:
            return
        steps = self._steps_before_epoch + batch + 1
        if steps // self.every_n_steps > self._steps // self.every_n_steps and logs is not None:
            logs.update(self.evaluate())
        self._steps = steps

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is not None:
            logs.update(self.evaluate())

    def _model_encoder(self) -> Encoder:
        layers = [] if self.model is None else [self.model]
        while layers:
            layer = layers.pop(0)
            if callable(getattr(layer, "encode", None)):
                return layer
            layers.extend(getattr(layer, "layers", []))
        raise ValueError(
            f"{type(self).__name__} has no encoder: pass one, or use it as a callback of a model "
            "with a layer that has an `encode` method"
        )


def columns_of(examples: Examples, *roles: str) -> list[list[str]]:
    """The columns of `examples` for `roles`, or an error naming the roles it lacks."""
    missing = [role for role in roles if role not in examples.columns]
    if missing:
        raise ValueError(f"examples lack role(s) {missing}: they have {list(examples.roles)}")
    return [examples.columns[role] for role in roles]
