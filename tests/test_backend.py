"""keras_siamese.backend: what a process gets by importing keras_siamese before TensorFlow."""

import os
import subprocess
import sys

import pytest

from conftest import REPO

# TensorFlow's own switch; its answer is not public API, so the test reads the private one.
ONEDNN_STATE = (
    "import keras_siamese as ks; ks.SentenceEncoder; "
    "from tensorflow.python.util import _pywrap_util_port as port; print(port.IsMklEnabled())"
)


@pytest.mark.parametrize(("setting", "enabled"), [(None, "True"), ("0", "False"), ("1", "True")])
def test_onednn_is_on_unless_the_environment_says_otherwise(setting, enabled):
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    if setting is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = setting
    result = subprocess.run(
        [sys.executable, "-c", ONEDNN_STATE],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == enabled
