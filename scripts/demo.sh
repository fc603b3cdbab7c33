#!/usr/bin/env bash
# make demo: the whole pipeline on the default model and emulated boards (see `lnn-edge demo --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/lnn-edge demo -o "${DEMO_OUT:-demo-out}" "$@"
