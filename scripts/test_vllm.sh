#!/usr/bin/env bash
# Set up .venv-vllm (scripts/setup_vllm.sh) and run the vLLM plugin's tests on the real engine.
# Extra arguments go to pytest. One engine at a time: never run this beside another engine.
set -euo pipefail
cd "$(dirname "$0")/.."
# One Numba cache per environment: two Numba versions sharing __pycache__ overwrite each other's
# index and recompile the kernels (about 15 s) each time the other venv ran.
export NUMBA_CACHE_DIR="$PWD/.venv-vllm/numba-cache"
bash scripts/setup_vllm.sh
export VLLM_CPU_KVCACHE_SPACE=${VLLM_CPU_KVCACHE_SPACE:-2} OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
exec .venv-vllm/bin/python -m pytest -q -p no:cacheprovider tests_vllm decoding/vllm_plugin.py "$@"
