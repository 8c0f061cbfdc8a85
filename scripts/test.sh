#!/usr/bin/env bash
# Set up .venv (scripts/setup.sh) and run the test suite. Extra arguments go to pytest,
# e.g. `bash scripts/test.sh -k tokenizers -x`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Without path arguments pytest runs testpaths (tests/, see pyproject.toml).
exec .venv/bin/python -m pytest -q "$@"
