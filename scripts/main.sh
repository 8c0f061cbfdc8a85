#!/usr/bin/env bash
# Set up .venv (scripts/setup.sh) and run the main job: a chat generation on the bundled test model.
# Extra arguments become the prompt, e.g. `bash scripts/main.sh "Name three colors."`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m decoding.demo "$@"
