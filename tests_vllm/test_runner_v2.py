"""Model Runner V2 (vLLM's GPU default) cannot run here (no GPU). What can be checked: the V2 loader's
own test accepts the class, constructed the V2 way it stays inert, and where V2 is expected a
constrained request is refused with the instruction (the engine itself keeps starting)."""

from __future__ import annotations

import pytest
import torch
from vllm import SamplingParams
from vllm.v1.worker.gpu.sample.logits_processor.interface import LogitsProcessor as RunnerV2Processor

import decoding.vllm_plugin as plugin


def test_the_v2_loader_accepts_the_class():
    cls = plugin.GuidedDecodingLogitsProcessor
    assert isinstance(cls, type) and issubclass(cls, RunnerV2Processor)  # the loader's check


def test_inert_when_built_by_runner_v2():
    proc = plugin.GuidedDecodingLogitsProcessor(object(), object())  # (vllm_config, req_states)
    assert not proc.acting
    assert proc.add_request(0, SamplingParams(extra_args={"grammar": "choices"})) is False
    logits = torch.randn(2, 8)
    assert torch.equal(proc.apply(logits.clone(), object()), logits)


def test_constrained_requests_are_refused_where_runner_v2_is_expected(monkeypatch):
    monkeypatch.setattr(plugin, "_runner_v2_likely", lambda: True)
    with pytest.raises(ValueError, match="VLLM_USE_V2_MODEL_RUNNER=0"):
        plugin.GuidedDecodingLogitsProcessor.validate_params(SamplingParams(extra_args={"regex": "a+"}))
    plugin.GuidedDecodingLogitsProcessor.validate_params(SamplingParams())  # others pass
