# lnn-edge: set-up, tests, demo, lint. `make test` and `make demo` work from a fresh clone.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.lnn-edge-installed
# Two workers: CI and the development machines have 2 cores.
PYTEST_WORKERS ?= 2

.PHONY: setup system-packages test demo lint format clean

setup: $(STAMP) system-packages

# torch==2.13.0 first (its CPU wheel is on these machines), then the extras: the resolver then has nothing
# left to fetch for torch. A bare `torch` requirement would download a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[train,dev]'
	touch $(STAMP)

system-packages:
	./scripts/ensure-system-packages.sh

test: setup
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --durations=15

demo: setup
	./scripts/demo.sh

lint: setup
	$(BIN)/ruff check lnn_edge tests
	$(BIN)/ruff format --check lnn_edge tests
	$(BIN)/mypy

format: setup
	$(BIN)/ruff format lnn_edge tests
	$(BIN)/ruff check --fix lnn_edge tests

clean:
	rm -rf build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache demo-out
