"""The class vLLM loads (entry point ``decoding.vllm_plugin:GuidedDecodingLogitsProcessor``): one
class for both of vLLM's logits-processor interfaces, since the same entry point is loaded by the
V1 runner (``(vllm_config, device, is_pin_memory)``) and by Model Runner V2
(``(vllm_config, req_states)``); it hands each call to the adapter of the runner that built it.

Example:
    >>> from vllm import SamplingParams
    >>> GuidedDecodingLogitsProcessor.validate_params(SamplingParams(extra_args={"regex": "a+"}))
    >>> GuidedDecodingLogitsProcessor.validate_params(SamplingParams(extra_args={"regex": "a("}))
    Traceback (most recent call last):
    ...
    ValueError: bad regex: ...
"""

from __future__ import annotations

from typing import Any

import torch
from vllm import SamplingParams
from vllm.v1.sample.logits_processor import BatchUpdate, LogitsProcessor
from vllm.v1.worker.gpu.sample.logits_processor.interface import LogitsProcessor as RunnerV2Processor

from .engine import ConstraintEngine
from .runner_v1 import RunnerV1Adapter
from .runner_v2 import RunnerV2Adapter
from .spec import ConstraintSpec, check_sampling


class GuidedDecodingLogitsProcessor(LogitsProcessor, RunnerV2Processor):
    """Masks (``constrained``) or reweights (``asap``) the logits rows of the requests that carry a
    ``grammar``, ``regex``, ``json_schema`` or ``structural_tag`` in their extra arguments; leaves
    the other rows alone. See :mod:`decoding.vllm` for the request format and registration.

    vLLM builds one instance per entry-point registration *and* per explicit registration; only the
    first instance of an engine acts (the others pass logits through)."""

    def __init__(self, vllm_config: Any, device_or_req_states: Any, is_pin_memory: bool = False) -> None:
        engine = ConstraintEngine.for_config(vllm_config)
        self.acting = engine is not None
        self.v1: RunnerV1Adapter | None = None
        self.v2: RunnerV2Adapter | None = None
        if engine is None:
            return
        if isinstance(device_or_req_states, torch.device):
            self.v1 = RunnerV1Adapter(engine)
        else:
            self.v2 = RunnerV2Adapter(engine, device_or_req_states)

    @classmethod
    def validate_params(cls, sampling_params: SamplingParams) -> None:
        spec = ConstraintSpec.from_extra_args(sampling_params.extra_args)
        check_sampling(sampling_params, spec)
        if spec is not None:
            ConstraintEngine.precompile(spec)

    # -- the V1 interface ----------------------------------------------------------------------
    def is_argmax_invariant(self) -> bool:
        return False

    def update_state(self, batch_update: BatchUpdate | None) -> None:
        if self.v1 is not None:
            self.v1.update_state(batch_update)

    # -- Model Runner V2 -----------------------------------------------------------------------
    def add_request(self, req_idx: int, sampling_params: SamplingParams) -> bool:
        return self.v2 is not None and self.v2.add_request(req_idx, sampling_params)

    # -- both ----------------------------------------------------------------------------------
    def apply(self, logits: torch.Tensor, ctx: Any = None) -> torch.Tensor:
        if self.v1 is not None:
            return self.v1.apply(logits)
        if self.v2 is not None:
            return self.v2.apply(logits, ctx)
        return logits
