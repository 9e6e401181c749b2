"""Progress for every long step, one bar (never two), plain lines in logs; a history plot worth
looking at."""

import io

import pytest
from test_training import PAIRS

from conftest import make_tiny_encoder
from keras_siamese import progress as progress_module
from keras_siamese.progress import Progress, keras_verbose, labelled, step
from keras_siamese.training import TrainingConfig, fit
from keras_siamese.training.history import TrainingHistory, history_record, plot_history


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_lines_in_a_log_have_no_escape_or_carriage_return(monkeypatch):
    monkeypatch.setattr(progress_module, "PLAIN_INTERVAL_S", 0.0)
    log = io.StringIO()
    with Progress(4, "Batches", "batches", show=True, stream=log) as bar:
        for _ in range(4):
            bar.update()
    lines = log.getvalue().splitlines()
    assert lines[-1].startswith("Batches: 4/4 batches in ")
    assert lines[0].startswith("Batches: 1/4 batches (25%)")
    assert "\r" not in log.getvalue() and "\x1b" not in log.getvalue()


def test_quick_work_stays_silent_and_slow_work_shows(monkeypatch):
    log = io.StringIO()
    with Progress(2, "Batches", stream=log) as bar:
        bar.update(2)
    assert log.getvalue() == ""
    monkeypatch.setattr(progress_module, "DELAY_S", 0.0)
    with Progress(2, "Batches", stream=log) as bar:
        bar.update(2)
    assert log.getvalue().startswith("Batches: 2/2 in ")


def test_a_terminal_gets_one_tqdm_bar_named_by_labelled():
    terminal = Terminal()
    with labelled("sts_dev"), Progress(3, "Batches", "batches", show=True, stream=terminal) as bar:
        bar.update(3)
    text = terminal.getvalue()
    assert "sts_dev" in text and "Batches" not in text
    assert "3/3" in text and "\r" in text  # tqdm draws in place


def test_step_frames_a_long_step():
    log = io.StringIO()
    with step("Converting", stream=log):
        pass
    assert log.getvalue().splitlines()[0] == "Converting..."
    assert log.getvalue().splitlines()[1].startswith("Converting done in ")


def test_encode_writes_one_progress_report(tiny_vocab_folder, capsys):
    """The issue: ``encode`` printed its bar twice."""
    encoder = make_tiny_encoder(tiny_vocab_folder)
    encoder.encode(["a man plays"] * 40, batch_size=8, show_progress_bar=True)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Batches: 5/5 batches in "), lines


def test_keras_bars_become_one_line_per_epoch_when_not_on_a_terminal():
    assert keras_verbose("auto") == 2  # pytest captures standard output
    assert keras_verbose(1) == 1


def test_history_has_every_step_and_the_score_before_training(tiny_vocab_folder):
    encoder = make_tiny_encoder(tiny_vocab_folder)
    history = fit(encoder, PAIRS, TrainingConfig(batch_size=4, epochs=2), verbose=0)
    assert isinstance(history, TrainingHistory)
    record = history_record(history, before={"sts_spearman_cosine": 50.0})
    assert len(record["step"]) == len(record["loss"]) == 2 * history.steps_per_epoch
    assert record["step"] == list(range(1, len(record["step"]) + 1))
    assert record["evaluation_step"][0] == 0
    assert record["sts_spearman_cosine"][0] == 50.0


@pytest.mark.parametrize("with_metric", [False, True])
def test_the_plot_has_a_loss_panel_and_one_metric_panel(with_metric):
    agg = pytest.importorskip("matplotlib.backends.backend_agg")
    record = {
        "steps_per_epoch": 3,
        "primary_metrics": ["sts_spearman_cosine"] if with_metric else [],
        "step": [1, 2, 3],
        "loss": [1.0001, 1.0002, 1.0003],  # tiny changes: an offset would appear by default
        "evaluation_step": [0, 3] if with_metric else [],
        **({"sts_spearman_cosine": [80.0, 84.5]} if with_metric else {}),
    }
    figure = plot_history(record)
    assert len(figure.axes) == (2 if with_metric else 1)
    agg.FigureCanvasAgg(figure).draw()
    for axis in figure.axes:
        assert axis.yaxis.get_major_formatter().get_offset() == ""
    if with_metric:
        xs, ys = figure.axes[1].lines[0].get_data()
        assert list(xs) == [0, 3] and list(ys) == [80.0, 84.5]
