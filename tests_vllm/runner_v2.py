"""Drives logits processors the way vLLM's Model Runner V2 does on a GPU, on the real runner state
(``vllm.v1.worker.gpu.states.RequestState``, its CPU build) and the real interface classes
(``LogitsProcRequestState``, ``LogitsContext``). The two Triton kernels the runner would launch
(flushing staged writes; ``post_update`` appending sampled tokens) are done here with tensor ops,
since Triton has no CPU backend."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

import vllm.v1.worker.cpu.shm  # noqa: F401  (the CPU worker's patches: UVA buffers as CPU tensors)
from vllm.v1.worker.gpu.sample.logits_processor.interface import LogitsContext, LogitsProcRequestState
from vllm.v1.worker.gpu.states import RequestState


def _flush(staged) -> None:
    """What ``StagedWriteTensor.apply_write`` does on a GPU (its kernel), on the CPU tensor."""
    start = 0
    for index, col, end in zip(staged._staged_write_indices, staged._staged_write_starts,
                               staged._staged_write_cu_lens):
        values = staged._staged_write_contents[start:end]
        staged.gpu.view(staged.num_rows, -1)[index, col:col + len(values)] = torch.tensor(values)
        start = end
    staged.clear_staged_writes()


class RunnerV2:
    """A batch of requests in slots, stepped with explicit row orders and draft tokens."""

    def __init__(self, vocab_size: int, *, max_num_reqs: int = 8, max_model_len: int = 512,
                 num_speculative_steps: int = 4) -> None:
        self.states = RequestState(max_num_reqs, max_model_len, 4096, num_speculative_steps, vocab_size,
                                   torch.device("cpu"))
        self.req_states = LogitsProcRequestState.from_request_state(self.states)  # processors' view
        self.processors: list = []
        self.vocab_size = vocab_size

    def add(self, req_id: str, prompt: Sequence[int], params, output: Sequence[int] = ()) -> int:
        """Admit a request (``output``: tokens it already produced, as on resumption after
        preemption, where ``prefill_len > prompt_len``); returns its slot."""
        self.states.add_request(req_id, len(prompt), [*prompt, *output], 0, params.max_tokens)
        slot = self.states.req_id_to_index[req_id]
        for p in self.processors:
            p.add_request(slot, params)
        self.states.prompt_len.copy_to_uva()
        self.states.prefill_len.copy_to_uva()
        _flush(self.states.total_len)
        _flush(self.states.all_token_ids)
        for p in self.processors:
            p.apply_staged_writes()
        return slot

    def remove(self, req_id: str) -> None:
        self.states.remove_request(req_id)

    def output(self, req_id: str) -> list[int]:
        slot = self.states.req_id_to_index[req_id]
        begin, end = int(self.states.prompt_len.np[slot]), int(self.states.total_len.gpu[slot])
        return self.states.all_token_ids.gpu[slot, begin:end].tolist()

    def step(self, order: Sequence[str], drafts: dict[str, Sequence[int]] | None = None,
             logits: torch.Tensor | None = None, prefilling: Sequence[str] = ()) -> tuple[torch.Tensor, dict]:
        """One sampling step over the requests in ``order`` (their batch positions), each with one
        logits row plus one per draft token; ``prefilling`` requests are mid-way through a chunked
        prefill (their row is discarded). Returns the processed logits and each request's rows."""
        drafts = drafts or {}
        st = self.states
        slots = [st.req_id_to_index[r] for r in order]
        row_slot, local, input_ids, pos, rows_of = [], [], [], [], {}
        for req_id, slot in zip(order, slots):
            total = int(st.total_len.gpu[slot])
            last = total - 1 if req_id not in prefilling else total // 2  # a chunk's last position
            ids = [int(st.all_token_ids.gpu[slot, last]), *drafts.get(req_id, ())]
            rows_of[req_id] = list(range(len(row_slot), len(row_slot) + len(ids)))
            row_slot += [slot] * len(ids)
            local += range(len(ids))
            input_ids += ids
            pos += range(last, last + len(ids))
        if logits is None:
            logits = torch.zeros(len(row_slot), self.vocab_size)
        ctx = LogitsContext(
            expanded_idx_mapping=torch.tensor(row_slot, dtype=torch.int32),
            idx_mapping=torch.tensor(slots, dtype=torch.int32),
            idx_mapping_np=np.asarray(slots, dtype=np.int32),
            expanded_local_pos=torch.tensor(local, dtype=torch.int32),
            input_ids=torch.tensor(input_ids, dtype=torch.int32),
            pos=torch.tensor(pos, dtype=torch.int64),
            seq_lens_upper_bound_np=np.asarray([p + 1 for p in pos], dtype=np.int32))
        for p in self.processors:
            logits = p.apply(logits, ctx)
        return logits, rows_of

    def commit(self, req_id: str, tokens: Sequence[int]) -> None:
        """What ``post_update`` does after sampling: append the accepted tokens."""
        slot = self.states.req_id_to_index[req_id]
        total = int(self.states.total_len.gpu[slot])
        self.states.all_token_ids.gpu[slot, total:total + len(tokens)] = torch.tensor(list(tokens))
        self.states.total_len.gpu[slot] = total + len(tokens)
