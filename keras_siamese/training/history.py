"""A training's history: the loss of every step and the metrics of every evaluation, saved as
``history.json`` and plotted as ``history.png`` (two panels sharing x = the training step)."""

import json
import math
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import keras

from keras_siamese.atomic import atomic_file, write_atomically

PLOT_EXTRA = 'pip install "keras-siamese[plot]"'
# Main metrics recognised in a plain keras History, which does not know its evaluators.
PRIMARY_SUFFIXES = ("_spearman_cosine", "_cosine_ap", "_cosine_accuracy", "_cosine_ndcg@10")
NOT_METRICS = ("loss", "learning_rate")


class TrainingHistory(keras.callbacks.History):
    """A ``keras.callbacks.History`` (``fit`` returns one) that also keeps the loss of every
    training step and the metrics of every evaluation, by training step.

    The per-step loss is exact, not Keras' running mean: Keras logs the mean of the epoch's
    losses so far (weighted by batch size), so the loss of step k is read off the difference of
    the model's loss tracker (its ``total`` and ``count``) before and after it. Evaluations are
    the metrics that ``evaluators`` (placed before this callback) write into the logs, at the end
    of each epoch and at their ``every_n_steps``; ``before`` is the evaluation before training,
    at step 0. ``primary_metrics`` are the evaluators' main metrics (``Evaluator.primary_metric``).

    >>> history = TrainingHistory(before={"sts_spearman_cosine": 80.0})
    >>> history.evaluations
    {0: {'sts_spearman_cosine': 80.0}}
    """

    def __init__(
        self, evaluators: Iterable = (), before: Mapping[str, float] | None = None
    ) -> None:
        super().__init__()
        evaluators = [e for e in evaluators if hasattr(e, "primary_metric")]
        self.primary_metrics = [e.primary_metric for e in evaluators]
        self._prefixes = tuple(f"{e.name}_" for e in evaluators)
        self.steps_per_epoch: int | None = None
        self.steps: list[int] = []
        self.losses: list[float] = []
        self.evaluations: dict[int, dict[str, float]] = {}
        if before:
            self.record_evaluation(0, before)
        self._epoch = 0
        self._tracked = (0.0, 0.0)
        self._running_mean = 0.0

    def record_evaluation(self, step: int, metrics: Mapping[str, float]) -> None:
        """Adds ``metrics`` (``{name: value}``) as the evaluation at training step ``step``."""
        self.evaluations.setdefault(step, {}).update({k: float(v) for k, v in metrics.items()})

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch = epoch
        self._tracked = (0.0, 0.0)  # Keras resets its metrics before each epoch
        self._running_mean = 0.0
        self.steps_per_epoch = self.params.get("steps") if self.params else None

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        step = self._epoch * (self.steps_per_epoch or 0) + batch + 1
        loss = self._step_loss(batch, logs)
        if loss is not None:
            self.steps.append(step)
            self.losses.append(loss)
        metrics = self._metrics(logs)
        if metrics:
            self.record_evaluation(step, metrics)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        super().on_epoch_end(epoch, logs)
        metrics = self._metrics(logs or {})
        if metrics:
            step = self.steps[-1] if self.steps else (epoch + 1) * (self.steps_per_epoch or 1)
            self.record_evaluation(step, metrics)

    def _step_loss(self, batch: int, logs: dict) -> float | None:
        tracker = getattr(self.model, "_loss_tracker", None)
        total, count = getattr(tracker, "total", None), getattr(tracker, "count", None)
        if total is not None and count is not None:
            now = (float(total.numpy()), float(count.numpy()))
            before, self._tracked = self._tracked, now
            if now[1] > before[1]:
                return (now[0] - before[0]) / (now[1] - before[1])
        if "loss" not in logs:
            return None
        # No tracker to read: undo the running mean, assuming batches of equal size.
        mean, self._running_mean = self._running_mean, float(logs["loss"])
        return (batch + 1) * self._running_mean - batch * mean

    def _metrics(self, logs: Mapping) -> dict[str, float]:
        if self._prefixes:
            return {k: v for k, v in logs.items() if k.startswith(self._prefixes)}
        return {k: v for k, v in logs.items() if k not in NOT_METRICS}


def history_state(history: keras.callbacks.History) -> dict:
    """What ``restore_history`` needs to continue ``history`` in a resumed run, JSON-ready: Keras'
    per-epoch ``history`` and, for a ``TrainingHistory``, the per-step losses and evaluations.

    >>> history = TrainingHistory()
    >>> history.steps, history.losses = [1, 2], [0.9, 0.7]
    >>> history.history = {"loss": [0.8]}
    >>> again = TrainingHistory()
    >>> restore_history(again, json.loads(json.dumps(history_state(history))))
    >>> again.steps, again.losses, again.history
    ([1, 2], [0.9, 0.7], {'loss': [0.8]})
    """
    state: dict = {
        "history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
    }
    if isinstance(history, TrainingHistory):
        state["steps_per_epoch"] = history.steps_per_epoch
        state["steps"] = [int(step) for step in history.steps]
        state["losses"] = [float(loss) for loss in history.losses]
        state["evaluations"] = [
            [int(step), {k: float(v) for k, v in metrics.items()}]
            for step, metrics in sorted(history.evaluations.items())
        ]
    return state


def restore_history(history: keras.callbacks.History, state: Mapping) -> None:
    """Puts back into ``history`` what ``history_state`` saved (before ``fit`` continues it)."""
    history.history = {str(k): [float(v) for v in vs] for k, vs in state["history"].items()}
    if isinstance(history, TrainingHistory) and "steps" in state:
        history.steps_per_epoch = state.get("steps_per_epoch")
        history.steps = [int(step) for step in state["steps"]]
        history.losses = [float(loss) for loss in state["losses"]]
        history.evaluations = {}
        for step, metrics in state["evaluations"]:
            history.record_evaluation(int(step), metrics)


def history_record(
    history: keras.callbacks.History, before: Mapping[str, float] | None = None
) -> dict:
    """The JSON-ready content of ``history.json``: ``step`` and ``loss`` (per training step),
    ``evaluation_step`` and each metric's values at those steps (``None`` where a metric was not
    evaluated; step 0 is ``before`` training), ``primary_metrics`` and ``steps_per_epoch``. A
    plain ``keras.callbacks.History`` gives one point per epoch (its mean loss).

    >>> history = TrainingHistory(before={"sts_spearman_cosine": 80.0})
    >>> history.steps, history.losses = [1, 2], [0.9, 0.7]
    >>> history.record_evaluation(2, {"sts_spearman_cosine": 84.5})
    >>> history_record(history)["evaluation_step"]
    [0, 2]
    """
    if isinstance(history, TrainingHistory):
        steps, losses = list(history.steps), list(history.losses)
        evaluations = {step: dict(metrics) for step, metrics in history.evaluations.items()}
        primary, per_epoch = list(history.primary_metrics), history.steps_per_epoch
    else:
        values = {k: [float(v) for v in vs] for k, vs in history.history.items()}
        per_epoch = (getattr(history, "params", None) or {}).get("steps")
        epochs = max((len(vs) for vs in values.values()), default=0)
        steps = [(epoch + 1) * (per_epoch or 1) for epoch in range(epochs)]
        losses = values.get("loss", [])
        evaluations = {}
        for name, series in values.items():
            if name not in NOT_METRICS:
                for step, value in zip(steps, series, strict=False):
                    evaluations.setdefault(step, {})[name] = value
        names = {name for metrics in evaluations.values() for name in metrics}
        primary = sorted(n for n in names if n.endswith(PRIMARY_SUFFIXES)) or sorted(names)
    for name, value in (before or {}).items():
        evaluations.setdefault(0, {}).setdefault(name, float(value))
    order = sorted(evaluations)
    names = list(dict.fromkeys(name for step in order for name in evaluations[step]))
    record: dict = {
        "steps_per_epoch": per_epoch,
        "primary_metrics": [name for name in primary if name in names],
        "step": steps[: len(losses)],
        "loss": losses,
        "evaluation_step": order,
    }
    for name in names:
        record.setdefault(name, [evaluations[step].get(name) for step in order])
    return record


def save_history(
    history: keras.callbacks.History,
    folder: str | Path,
    before: Mapping[str, float] | None = None,
) -> tuple[Path, Path | None]:
    """Writes ``history.json`` (see ``history_record``) and ``history.png`` into ``folder``, each
    atomically, and returns their paths. The plot: the loss per step (raw, faint, and smoothed)
    above each evaluator's main metric per evaluation, from ``before`` training (step 0), on one
    x axis of training steps. Without matplotlib (the extra ``plot``) the PNG is skipped with a
    one-line notice and its path is ``None``.

    >>> import tempfile
    >>> history = TrainingHistory()
    >>> history.steps, history.losses = [1, 2, 3], [0.9, 0.7, 0.6]
    >>> history.primary_metrics = ["sts_spearman_cosine"]
    >>> history.record_evaluation(3, {"sts_spearman_cosine": 84.5})
    >>> paths = save_history(history, tempfile.mkdtemp(), before={"sts_spearman_cosine": 80.0})
    >>> [p.name for p in paths]
    ['history.json', 'history.png']
    """
    folder = Path(folder)
    record = history_record(history, before)
    json_path = write_atomically(folder / "history.json", json.dumps(record, indent=2) + "\n")
    try:
        from matplotlib.figure import Figure
    except ImportError:
        print(
            f"history.png not written: matplotlib is not installed ({PLOT_EXTRA})",
            file=sys.stderr,
        )
        return json_path, None
    png_path = folder / "history.png"
    figure = plot_history(record, Figure)
    with atomic_file(png_path) as tmp:
        figure.savefig(tmp, format="png", dpi=100)
    return json_path, png_path


def plot_history(record: Mapping, figure_class=None):
    """The matplotlib ``Figure`` of a ``history_record``: loss per step on top, main metrics
    below (a second y axis for [0, 1] metrics when x100 ones share the panel), x shared, no
    offset notation on the axes."""
    if figure_class is None:
        from matplotlib.figure import Figure as figure_class
    metrics = [name for name in record["primary_metrics"] if name in record]
    panels = 2 if metrics else 1
    figure = figure_class(figsize=(7, 2.8 * panels + 0.4), layout="constrained")
    axes = figure.subplots(panels, 1, sharex=True, squeeze=False)[:, 0]
    loss_axis = axes[0]
    steps, losses = record["step"], record["loss"]
    if losses:
        loss_axis.plot(steps, losses, color="tab:blue", alpha=0.25, linewidth=0.8, label="step")
        loss_axis.plot(steps, _smoothed(losses), color="tab:blue", label="smoothed")
        loss_axis.legend(loc="upper right", fontsize="small")
    loss_axis.set_ylabel("training loss")
    if metrics:
        _plot_metrics(axes[1], record, metrics)
    axes[-1].set_xlabel("training step")
    for axis in figure.axes:
        axis.grid(alpha=0.3)
        axis.ticklabel_format(axis="both", style="plain", useOffset=False)
    return figure


def _plot_metrics(axis, record: Mapping, metrics: Sequence[str]) -> None:
    """Each metric against the evaluation steps; fractions on a right axis when mixed with x100
    metrics (STS correlations)."""
    steps = record["evaluation_step"]
    large = [m for m in metrics if any(abs(v) > 1.0 for v in record[m] if v is not None)]
    small = [m for m in metrics if m not in large]
    groups = [(axis, large or small)]
    if large and small:
        groups.append((axis.twinx(), small))
    colors = iter(["tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown"] * 10)
    lines = []
    for group_axis, names in groups:
        for name in names:
            points = [(s, v) for s, v in zip(steps, record[name], strict=True) if v is not None]
            xs, ys = zip(*points, strict=True) if points else ((), ())
            lines += group_axis.plot(xs, ys, marker="o", color=next(colors), label=name)
    axis.set_ylabel("main metric" + (" (left: x100)" if len(groups) > 1 else ""))
    axis.legend(lines, [line.get_label() for line in lines], loc="lower right", fontsize="small")


def _smoothed(values: Sequence[float]) -> list[float]:
    """A debiased exponential moving average over about a twentieth of the values."""
    span = max(1.0, len(values) / 20)
    weight = 1 - 2 / (span + 1)
    average, smoothed = 0.0, []
    for count, value in enumerate(values, 1):
        average = weight * average + (1 - weight) * value
        smoothed.append(average / (1 - weight**count) if weight else average)
    return smoothed if all(map(math.isfinite, smoothed)) else list(values)
