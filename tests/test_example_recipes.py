"""The recipes in ``examples/`` run end to end on a small slice (``--limit``) of the shared data
with the real all-MiniLM-L6-v2: each prints its before/after metrics and saves a model."""

import json
import os
import subprocess
import sys

import pytest

from conftest import REPO

pytestmark = pytest.mark.integration

RECIPES = {
    "sick_nli_softmax.py": ["dev_nli_accuracy", "dev_sts_spearman_cosine"],
    "sick_mnrl_mined.py": ["dev_sts_spearman_cosine"],
    "distill_mse.py": ["sts_dev_spearman_cosine", "dev_teacher_negative_mse"],
    "stsb_cosent_keep_best.py": ["sts_dev_spearman_cosine"],
}


@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_recipe_runs_on_a_slice(recipe, shared_data, minilm_path, tmp_path):
    command = [sys.executable, str(REPO / "examples" / recipe), "--data", str(shared_data)]
    command += ["--limit", "48", "--batch-size", "8", "--output", str(tmp_path)]
    if recipe == "stsb_cosent_keep_best.py":
        command += ["--every", "2"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    for metric in RECIPES[recipe]:
        assert metric in report["before"] and metric in report["after"], (metric, report)
    assert (tmp_path / "model" / "modules.json").is_file()
    assert not (tmp_path / "backup").exists()  # deleted once training completed
