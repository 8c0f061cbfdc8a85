#!/usr/bin/env bash
# Set up .venv (scripts/setup.sh) and run the test suite, then (when called without arguments) the
# vLLM plugin's tests in their own venv (scripts/test_vllm.sh). Extra arguments go to pytest and
# run the main suite only, e.g. `bash scripts/test.sh -k tokenizers -x`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Without path arguments pytest runs testpaths (tests/, see pyproject.toml).
.venv/bin/python -m pytest -q "$@"
# With no arguments (as in CI), also the vLLM plugin's tests on the real engine, in .venv-vllm.
if [ $# -eq 0 ]; then
    bash scripts/test_vllm.sh
fi
