"""The V1 logits-processor interface (vLLM's CPU runner, and GPU runners with
``VLLM_USE_V2_MODEL_RUNNER=0``): persistent batch indices, a live list of output tokens per
request, additions, removals and moves announced in ``update_state``.

Example (what vLLM does with it; see ``tests_vllm/test_runner_v2.py`` for a run):
    >>> adapter = RunnerV1Adapter(engine)                                     # doctest: +SKIP
    >>> adapter.update_state(batch_update); adapter.apply(logits)             # doctest: +SKIP
"""

from __future__ import annotations

import torch
from vllm.v1.sample.logits_processor import BatchUpdate, MoveDirectionality

from .engine import ConstraintEngine, RowsOf
from .request import ConstrainedRequest


class RunnerV1Adapter:
    """Keeps the constrained requests by persistent batch index and constrains their rows."""

    def __init__(self, engine: ConstraintEngine) -> None:
        self.engine = engine
        self.rows: dict[int, tuple[ConstrainedRequest, list[int]]] = {}

    def update_state(self, batch_update: BatchUpdate | None) -> None:
        if batch_update is None:
            return
        for index in batch_update.removed:
            self.rows.pop(index, None)
        for index, params, prompt_ids, output_ids in batch_update.added:
            request = self.engine.admit(params)
            if request is None:
                self.rows.pop(index, None)
                continue
            if request.spec.sampler == "asap":
                self.engine.attach_trie(request, prompt_ids or [])
            self.rows[index] = (request, output_ids)
        for a, b, direction in batch_update.moved:
            row_a, row_b = self.rows.pop(a, None), self.rows.pop(b, None)
            if row_a is not None:
                self.rows[b] = row_a
            if direction == MoveDirectionality.SWAP and row_b is not None:
                self.rows[a] = row_b

    def apply(self, logits: torch.Tensor) -> torch.Tensor:
        batch = [RowsOf(request, output, (index,)) for index, (request, output) in self.rows.items()
                 if index < logits.shape[0]]
        if batch:
            self.engine.constrain(logits, batch)
        return logits
