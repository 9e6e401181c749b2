"""Writing a training History: the numbers as JSON, a PNG plot of loss and metrics per epoch."""

import json
from pathlib import Path

import keras


def save_history(history: keras.callbacks.History, folder: str | Path) -> tuple[Path, Path]:
    """Writes ``history.json`` and ``history.png`` (one panel per logged value) into ``folder``.

    >>> import tempfile
    >>> history = keras.callbacks.History()
    >>> history.history = {"loss": [0.9, 0.5], "sts_dev_spearman_cosine": [80.0, 84.5]}
    >>> [p.name for p in save_history(history, tempfile.mkdtemp())]
    ['history.json', 'history.png']
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    values = {k: [float(v) for v in vs] for k, vs in history.history.items()}
    json_path = folder / "history.json"
    json_path.write_text(json.dumps(values, indent=2))
    names = [n for n in values if n != "learning_rate"] or ["loss"]
    figure, axes = plt.subplots(len(names), 1, figsize=(6, 2.5 * len(names)), squeeze=False)
    for axis, name in zip(axes[:, 0], names, strict=True):
        series = values.get(name, [])
        axis.plot(range(1, len(series) + 1), series, marker="o")
        axis.set_title(name)
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
    figure.tight_layout()
    png_path = folder / "history.png"
    figure.savefig(png_path, dpi=100)
    plt.close(figure)
    return json_path, png_path
