"""Model Runner V2's logits-processor interface (vLLM's GPU default): requests live in persistent
slots (recycled: ``add_request`` resets one), each step's rows are mapped to slots by
``ctx.expanded_idx_mapping``, committed tokens are in ``req_states.all_token_ids`` up to
``total_len``, and under speculative decoding a request owns one row per draft token
(``ctx.expanded_local_pos``; the draft tokens are the rows' ``ctx.input_ids`` after the first).

Each step reads the batch layout and the slots' lengths from the device in one transfer, and the
newly committed tokens (when they are not already among the rows' inputs) in a second one.

Example (what vLLM does with it; see ``tests_vllm/test_runner_v2.py`` for a run):
    >>> adapter = RunnerV2Adapter(engine, req_states)                         # doctest: +SKIP
    >>> adapter.add_request(slot, params); adapter.apply(logits, ctx)         # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

if TYPE_CHECKING:  # duck-typed: runs without vLLM too (scripts/gpu_check.sh)
    from vllm.v1.worker.gpu.sample.logits_processor.interface import LogitsContext, LogitsProcRequestState

from .engine import ConstraintEngine, RowsOf
from .request import ConstrainedRequest


@dataclass
class _Slot:
    request: ConstrainedRequest
    committed: list[int] = field(default_factory=list)  # output tokens read so far


class RunnerV2Adapter:
    """Keeps the constrained requests by slot and constrains their rows."""

    def __init__(self, engine: ConstraintEngine, req_states: LogitsProcRequestState) -> None:
        self.engine = engine
        self.req_states = req_states
        self.slots: dict[int, _Slot] = {}

    def add_request(self, req_idx: int, sampling_params: Any) -> bool:
        self.slots.pop(req_idx, None)  # the slot's previous occupant, if any
        request = self.engine.admit(sampling_params)
        if request is None:
            return False
        self.slots[req_idx] = _Slot(request)
        return True

    def apply(self, logits: torch.Tensor, ctx: LogitsContext) -> torch.Tensor:
        if not any(int(s) in self.slots for s in ctx.idx_mapping_np):
            return logits
        n = logits.shape[0]
        rs = self.req_states
        host = torch.cat([ctx.expanded_idx_mapping[:n].long(), ctx.expanded_local_pos[:n].long(),
                          ctx.input_ids[:n].long(), ctx.pos[:n].long(), rs.total_len.gpu.long()]
                         ).cpu().numpy()
        row_slot, input_ids, pos, total_len = host[:n], host[2 * n:3 * n], host[3 * n:4 * n], host[4 * n:]
        rows_of: dict[int, list[int]] = {}
        for row in range(n):  # a request's rows are contiguous, in draft order
            rows_of.setdefault(int(row_slot[row]), []).append(row)
        prompt_len = rs.prompt_len.np
        batch, reads = [], []
        for slot, rows in rows_of.items():
            state = self.slots.get(slot)
            total, first = int(total_len[slot]), rows[0]
            if state is None or pos[first] + 1 < total:  # not ours, or a prefill chunk: no sample
                continue
            request, committed = state.request, state.committed
            have, start = len(committed), int(prompt_len[slot])
            if request.spec.sampler == "asap" and request.trie is None:
                reads.append((state, slot, 0, start, True))
            if total - start < have:
                del committed[total - start:]
            elif total - start == have + 1 and pos[first] == total - 1:
                committed.append(int(input_ids[first]))  # the last committed token is the row's input
            elif total - start > have:
                reads.append((state, slot, start + have, total, False))
            batch.append(RowsOf(request, committed, rows, input_ids[rows[1:]].tolist()))
        if reads:
            self._read_tokens(reads)
        self.engine.constrain(logits, batch)
        return logits

    def _read_tokens(self, reads: list[tuple[_Slot, int, int, int, bool]]) -> None:
        """Copy ``all_token_ids[slot, begin:end]`` of each read to the host (one transfer): a
        prompt for ASAp's trie key, or output tokens to append to ``committed``."""
        slots = np.concatenate([np.full(end - begin, slot) for _, slot, begin, end, _ in reads])
        cols = np.concatenate([np.arange(begin, end) for _, _, begin, end, _ in reads])
        table = self.req_states.all_token_ids.gpu
        tokens = table[torch.from_numpy(slots).to(table.device),
                       torch.from_numpy(cols).to(table.device)].cpu().tolist()
        at = 0
        for state, _, begin, end, is_prompt in reads:
            part, at = tokens[at:at + end - begin], at + end - begin
            if is_prompt:
                self.engine.attach_trie(state.request, part)
            else:
                state.committed.extend(part)
