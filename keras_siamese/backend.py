"""Backend guard: Keras 3 on TensorFlow, imported without TensorFlow's start-up chatter.

Every room of keras-siamese that uses Keras or TensorFlow imports this module first. It selects
the TensorFlow backend and imports TensorFlow with the process's standard error silenced, so the
lines that TensorFlow's C++ runtime writes before its logging is set up (absl's "All log messages
before absl::InitializeLog()", oneDNN's notice, "Could not find cuda drivers", cuInit's failure on a
machine without a GPU) do not reach the user. Set ``KERAS_SIAMESE_VERBOSE=1`` (the CLI's
``--verbose``) to see them, and TensorFlow's own log, again.

It also turns on oneDNN's CPU kernels (``TF_ENABLE_ONEDNN_OPTS=1``) unless the environment says
otherwise. TensorFlow turns them on by itself only on CPUs with AVX-512 VNNI, BF16 or AMX; on an
AVX2-only CPU they train 1.5x to 1.7x faster and encode batches about 1.2x faster (one sentence at
a time is a few milliseconds slower). Both settings only take effect when this module imports
TensorFlow: a process that imported TensorFlow first keeps its own.
"""

import contextlib
import os
import sys
from collections.abc import Iterator

VERBOSE_ENV = "KERAS_SIAMESE_VERBOSE"


def verbose() -> bool:
    """Whether TensorFlow's start-up and C++ log messages are shown (``KERAS_SIAMESE_VERBOSE``)."""
    return os.environ.get(VERBOSE_ENV, "").lower() not in ("", "0", "false")


@contextlib.contextmanager
def silenced_stderr() -> Iterator[None]:
    """Sends file descriptor 2 to /dev/null inside the block (C++ writes bypass ``sys.stderr``)."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable descriptor 2 (an embedded interpreter)
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
if not verbose() and not os.environ.get("TF_CPP_MIN_LOG_LEVEL"):
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"  # not even the C++ runtime's "E" lines (oneDNN's)
if "tensorflow" not in sys.modules and not verbose():
    with silenced_stderr():
        import tensorflow as tf

        # Probing the physical devices now runs CUDA's initialisation (and its failure on a
        # machine without a GPU) inside the silence, while logical devices stay configurable.
        tf.config.list_physical_devices()

import keras  # noqa: E402

if keras.backend.backend() != "tensorflow":
    raise ImportError(
        "keras-siamese needs the TensorFlow backend of Keras 3 (tokenisation and export run in "
        f"TensorFlow graphs); KERAS_BACKEND is {keras.backend.backend()!r}. "
        "Set KERAS_BACKEND=tensorflow."
    )
