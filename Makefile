# lnn-edge: set-up, tests, demo, lint. `make test` and `make demo` work from a fresh clone.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.lnn-edge-installed
# Two workers: CI and the development machines have 2 cores.
PYTEST_WORKERS ?= 2

.PHONY: setup system-packages test demo bench lint format clean fuzz

setup: $(STAMP) system-packages

# torch==2.13.0 first (its CPU wheel is on these machines), then the extras: the resolver then has nothing
# left to fetch for torch. A bare `torch` requirement would download a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[train,dev,plots]'
	touch $(STAMP)

system-packages:
	./scripts/ensure-system-packages.sh

test: setup
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --durations=15

demo: setup
	./scripts/demo.sh

# The benchmark matrix (instruction counts per core, flash, RAM, stack), host speed ratios and quantization
# accuracy on trained models, written to docs/benchmarks.md. About 40 minutes on 2 cores (the matrix most of it)
# once .bench-models holds the trained models; training them first (the mixed-memory LTC is the slow one) adds
# over an hour.
BENCH_OUT := build/bench
bench: setup
	mkdir -p $(BENCH_OUT)
	$(BIN)/python benchmarks/matrix.py --out $(BENCH_OUT)/matrix.json
	$(BIN)/python benchmarks/host_speed.py --steps 2000 --out $(BENCH_OUT)/host.md
	$(BIN)/python benchmarks/quant_accuracy.py --models .bench-models --out $(BENCH_OUT)/accuracy.md
	$(BIN)/python benchmarks/sigmoid_tables.py --models .bench-models --out $(BENCH_OUT)/sigmoid.md
	$(BIN)/python benchmarks/report.py --matrix $(BENCH_OUT)/matrix.json --host $(BENCH_OUT)/host.md \
		--accuracy $(BENCH_OUT)/accuracy.md --sigmoid $(BENCH_OUT)/sigmoid.md --out docs/benchmarks.md

# Coverage-guided fuzzing of the firmware's frame parser and request handler (libFuzzer, ASan/UBSan), see
# docs/fuzzing.md. New inputs, findings, the log and report.json go to build/fuzz/; a rerun resumes its corpus.
FUZZ_SECONDS ?= 600
fuzz: setup
	$(BIN)/python tests/support/libfuzzer.py --seconds $(FUZZ_SECONDS) --out build/fuzz

# ruff (lint and format), mypy (the package, tests and benchmarks) and import-linter (the import contracts in
# pyproject.toml, [tool.importlinter]). .ci/run runs this before the tests.
lint: setup
	$(BIN)/ruff check lnn_edge tests benchmarks
	$(BIN)/ruff format --check lnn_edge tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

format: setup
	$(BIN)/ruff format lnn_edge tests benchmarks
	$(BIN)/ruff check --fix lnn_edge tests benchmarks

clean:
	rm -rf build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache .import_linter_cache .grimp_cache demo-out
