"""``KeepBest``: the best weights by an evaluator's metric, restored at the end of training
(sentence-transformers' ``load_best_model_at_end``)."""

import math
from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np
from safetensors.numpy import load_file, save_file

from keras_siamese.evaluation import Evaluator

BEST_WEIGHTS = "best.safetensors"
SCORE_KEY = "score"


class KeepBest(keras.callbacks.Callback):
    """Keeps, in memory, a copy of ``encoder``'s weights whenever ``monitor`` (a metric an
    evaluator placed before this callback writes into the logs, at a step or an epoch end)
    beats every earlier value; ``restore`` puts the best copy back. Higher is better, as for
    every evaluator's primary metric (``MSEEvaluator``'s is a negated error).

    ``save``/``load`` write and read the copy in a folder (``fit`` keeps it in each backup, so a
    resumed run still ends with the best of the whole run).

    >>> import numpy as np
    >>> layer = keras.layers.Dense(1)
    >>> layer.build((None, 1))
    >>> keep = KeepBest(layer, "dev_score")
    >>> keep.on_epoch_end(0, {"dev_score": 0.8})
    >>> layer.set_weights([np.zeros((1, 1)), np.zeros(1)])
    >>> keep.on_epoch_end(1, {"dev_score": 0.5})  # worse: the copy stays
    >>> keep.restore(), keep.best
    (True, 0.8)
    """

    def __init__(self, encoder: keras.Layer, monitor: str) -> None:
        super().__init__()
        self.encoder, self.monitor = encoder, monitor
        self.best = -math.inf
        self._weights: list[np.ndarray] | None = None

    @classmethod
    def for_callbacks(
        cls,
        encoder: keras.Layer,
        monitor: bool | str,
        callbacks: Sequence[keras.callbacks.Callback],
    ) -> "KeepBest":
        """``monitor=True``: the first evaluator's primary metric; a string names the metric."""
        if isinstance(monitor, str):
            return cls(encoder, monitor)
        evaluators = [c for c in callbacks if isinstance(c, Evaluator)]
        if not evaluators:
            raise ValueError("keep_best needs an evaluator among the callbacks to pick the best")
        return cls(encoder, evaluators[0].primary_metric)

    def _consider(self, logs: dict | None) -> None:
        value = (logs or {}).get(self.monitor)
        if value is not None and math.isfinite(float(value)) and float(value) > self.best:
            self.best = float(value)
            self._weights = [np.array(w, copy=True) for w in self.encoder.get_weights()]

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._consider(logs)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self._consider(logs)

    def restore(self) -> bool:
        """Puts the best weights back into the encoder; ``False`` when nothing was evaluated."""
        if self._weights is None:
            return False
        self.encoder.set_weights(self._weights)
        return True

    def save(self, folder: Path) -> None:
        """The best copy so far as ``folder/best.safetensors`` (nothing before the first one)."""
        if self._weights is not None:
            tensors = {str(i): np.ascontiguousarray(w) for i, w in enumerate(self._weights)}
            save_file(tensors, str(folder / BEST_WEIGHTS), metadata={SCORE_KEY: repr(self.best)})

    def load(self, folder: Path) -> None:
        """Reads what ``save`` wrote in ``folder``, if it did."""
        path = folder / BEST_WEIGHTS
        if not path.is_file():
            return
        from safetensors import safe_open

        with safe_open(str(path), "np") as file:
            score = float((file.metadata() or {}).get(SCORE_KEY, "nan"))
        tensors = load_file(str(path))
        expected = len(self.encoder.get_weights())
        if len(tensors) != expected or not math.isfinite(score):
            raise ValueError(f"{path} is not a copy of this encoder's best weights")
        self.best = score
        self._weights = [tensors[str(i)] for i in range(expected)]
