"""Progress of the long steps: a tqdm bar on a terminal, plain lines in a log.

When standard error is a terminal, ``Progress`` draws one tqdm bar. Otherwise (a file, a pipe,
CI) it writes plain lines, ``label: 40/94 batches (43%), 9 s``, at most every
``PLAIN_INTERVAL_S`` seconds, then one final line ``label: 94/94 batches in 21.3 s``, with no
ANSI escape and no carriage return. ``show=None`` shows progress only once ``DELAY_S`` seconds
have passed, so quick calls stay silent. ``step`` frames one long step (an export, a conversion)
with ``label...`` and ``label done in 3.2 s``. ``labelled`` names the bars drawn inside it (an
evaluator's name for the embedding of its texts). No TensorFlow here: this is room 0.
"""

import contextlib
import contextvars
import sys
import time
from collections.abc import Iterator
from typing import TextIO

from tqdm import tqdm

DELAY_S = 2.0  # with show=None, nothing appears before this
PLAIN_INTERVAL_S = 5.0  # the most often a plain line is written

_naming: contextvars.ContextVar[tuple[str, bool | None] | None] = contextvars.ContextVar(
    "progress_naming", default=None
)


def is_terminal(stream: TextIO | None = None) -> bool:
    """Whether ``stream`` (default: standard error) is a terminal.

    >>> import io
    >>> is_terminal(io.StringIO())
    False
    """
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def keras_verbose(verbose: int | str = "auto") -> int | str:
    """The ``verbose`` for Keras' ``fit``: ``"auto"`` becomes 2 (one plain line per epoch) when
    standard output is not a terminal, since Keras' bar (``verbose=1``) then writes ANSI escapes
    and carriage returns into the log; any other value is kept.

    >>> keras_verbose(0)
    0
    """
    if verbose == "auto" and not is_terminal(sys.stdout):
        return 2
    return verbose


@contextlib.contextmanager
def labelled(label: str, leave: bool | None = None) -> Iterator[None]:
    """Bars started inside are named ``label`` rather than by their own label; ``leave``, when
    given, replaces theirs (``False``: a terminal bar is cleared when done, so one drawn over
    Keras' epoch bar leaves no trace).

    >>> with labelled("sts_dev"), Progress(1, "Batches", show=True, stream=sys.stdout) as bar:
    ...     bar.update()
    sts_dev: 1/1 in 0.0 s
    """
    token = _naming.set((label, leave))
    try:
        yield
    finally:
        _naming.reset(token)


class Progress:
    """Progress over ``total`` units (``unit`` in the plural: ``"batches"``) named ``label``
    (``labelled`` overrides it); ``show``: always (True), never (False), or once ``DELAY_S``
    seconds have passed (None). ``leave=False`` clears a terminal bar when done. Written to
    ``stream`` (default: standard error). See the module for what it looks like.

    >>> with Progress(3, "Batches", unit="batches", show=True, stream=sys.stdout) as bar:
    ...     for _ in range(3):
    ...         bar.update()
    Batches: 3/3 batches in 0.0 s
    """

    def __init__(
        self,
        total: int,
        label: str,
        unit: str = "",
        show: bool | None = None,
        leave: bool = True,
        stream: TextIO | None = None,
    ) -> None:
        naming = _naming.get()
        if naming is not None:
            label, leave = naming[0], leave if naming[1] is None else naming[1]
        self.total = total
        self.label = label
        self.unit = unit
        self.show = show
        self.n = 0
        self._stream = sys.stderr if stream is None else stream
        self._start = self._last_line = time.monotonic()
        self._shown = False
        self._closed = False
        self._bar = None
        if show is not False and is_terminal(self._stream):
            self._bar = tqdm(
                total=total,
                desc=self.label,
                unit=_singular(unit) or "it",
                file=self._stream,
                leave=leave,
                delay=DELAY_S if show is None else 0,
                dynamic_ncols=True,
            )

    def update(self, n: int = 1) -> None:
        """Marks ``n`` more units done."""
        self.n += n
        if self._bar is not None:
            self._bar.update(n)
            return
        now = time.monotonic()
        if self._wanted(now) and now - self._last_line >= PLAIN_INTERVAL_S:
            percent = f" ({100 * self.n / self.total:.0f}%)" if self.total else ""
            self._line(f"{self._count()}{percent}, {now - self._start:.0f} s")
            self._last_line = now

    def close(self) -> None:
        """Ends the bar, or writes the final plain line (when any progress was shown)."""
        if self._closed:
            return
        self._closed = True
        if self._bar is not None:
            self._bar.close()
        elif self._shown or self._wanted(time.monotonic()):
            self._line(f"{self._count()} in {time.monotonic() - self._start:.1f} s")

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _wanted(self, now: float) -> bool:
        if self.show is None:
            return now - self._start >= DELAY_S
        return self.show

    def _count(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        return f"{self.n}/{self.total}{unit}"

    def _line(self, text: str) -> None:
        self._shown = True
        _write_line(self._stream, f"{self.label}: {text}")


@contextlib.contextmanager
def step(label: str, stream: TextIO | None = None) -> Iterator[None]:
    """Writes ``label...`` before a long step and ``label done in X s`` after it (nothing more
    when it fails: the error says why).

    >>> with step("Converting", stream=sys.stdout):
    ...     pass
    Converting...
    Converting done in 0.0 s
    """
    stream = sys.stderr if stream is None else stream
    _write_line(stream, f"{label}...")
    start = time.monotonic()
    yield
    _write_line(stream, f"{label} done in {time.monotonic() - start:.1f} s")


def _singular(units: str) -> str:
    """tqdm's unit (``8.4batch/s``) from the plural of the plain lines (``94/94 batches``)."""
    if units.endswith(("ches", "shes", "sses", "xes")):
        return units[:-2]
    return units.removesuffix("s")


def _write_line(stream: TextIO, text: str) -> None:
    stream.write(text + "\n")
    with contextlib.suppress(AttributeError, ValueError):
        stream.flush()
