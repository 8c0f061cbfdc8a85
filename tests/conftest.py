"""Shared fixtures: the real test model, loaded once per test session (fp32, CPU)."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="session")
def test_model_and_tokenizer():
    """``(LlamaForCausalLM, tokenizer)`` of SmolLM2-135M-Instruct (converted on first use)."""
    from decoding.models import load_test_model

    return load_test_model(torch.float32)


@pytest.fixture(scope="session")
def test_model(test_model_and_tokenizer):
    """SmolLM2-135M-Instruct as a ``LlamaForCausalLM`` in fp32, eval mode. Do not modify it."""
    return test_model_and_tokenizer[0]


@pytest.fixture(scope="session")
def test_tokenizer(test_model_and_tokenizer):
    """The SmolLM2 tokenizer (byte-level BPE, per-digit pre-tokenizer). Do not modify it."""
    return test_model_and_tokenizer[1]
