"""A test hook: ``kill_point(name)`` kills the process with SIGKILL where a test asked for it.

The environment variable ``KERAS_SIAMESE_KILL_AT`` names one point, ``NAME`` or ``NAME#N`` (the
N-th time the process reaches it, from 1); unset (always, outside tests), ``kill_point`` only reads
a dict. Training and the ``train`` command mark the points a kill test needs: each training step,
the steps of writing a backup, and the steps of the final save (see ``tests/test_kill.py``).

>>> kill_point("nowhere")  # no KERAS_SIAMESE_KILL_AT: nothing happens
"""

import os
import signal
from collections import Counter

ENV = "KERAS_SIAMESE_KILL_AT"
_reached: Counter = Counter()


def kill_point(name: str) -> None:
    """SIGKILLs this process if ``KERAS_SIAMESE_KILL_AT`` asks for this visit of ``name``."""
    wanted = os.environ.get(ENV)
    if not wanted:
        return
    point, _, count = wanted.partition("#")
    if point != name:
        return
    _reached[name] += 1
    if _reached[name] == int(count or 1):
        os.kill(os.getpid(), signal.SIGKILL)
