#!/usr/bin/env bash
# The CUDA paths, on a machine with a GPU (torch + this project; no vLLM needed):
#   1. the plugin's Model Runner V2 adapter on CUDA logits and CUDA runner state: its masks equal
#      the same steps on the CPU;
#   2. benchmarks/drafting.py --device cuda --quick;
#   3. the HF processor on the test model on CUDA: greedy output matches the regex and equals the
#      CPU run's.
# Without CUDA it stops at once with exit status 2 and says so. Usage: bash scripts/gpu_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
if ! "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
    echo "gpu_check: no CUDA device visible to torch ($PY): this check needs a GPU" >&2
    exit 2
fi

echo "== 1. Model Runner V2 adapter on CUDA logits"
"$PY" - <<'EOF'
from types import SimpleNamespace as NS

import numpy as np
import torch

from decoding.hf import vocabulary_for
from decoding.models import load_test_model
from decoding.vllm.engine import ConstraintEngine
from decoding.vllm.runner_v2 import RunnerV2Adapter

model, tok = load_test_model()
vocabulary = vocabulary_for(tok, model)
width = vocabulary.logits_width
schema = '{"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}'
requests = [{"regex": "[0-9]{2,4}-[a-z]+"}, {"grammar": "json"}, {"json_schema": schema}]
texts = ["12-ab", '{"a": [1, 2]}', '{"n": 42}']
prompt = tok("Write it:")["input_ids"]


def run(device: str) -> list[torch.Tensor]:
    """Three requests in slots 2, 0, 5, stepped token by token along ``texts`` with one draft row
    each; rows reordered every step. Returns each step's finite-logits masks."""
    slots, seqs = [2, 0, 5], [tok(t)["input_ids"] for t in texts]
    table = torch.zeros(8, 256, dtype=torch.int64, device=device)
    total = torch.zeros(8, dtype=torch.int64, device=device)
    prompt_len = np.zeros(8, dtype=np.int32)
    for s in slots:
        table[s, :len(prompt)] = torch.tensor(prompt, device=device)
        total[s], prompt_len[s] = len(prompt), len(prompt)
    rs = NS(all_token_ids=NS(gpu=table), total_len=NS(gpu=total), prompt_len=NS(np=prompt_len))
    adapter = RunnerV2Adapter(ConstraintEngine(vocabulary), rs)
    for s, extra in zip(slots, requests):
        assert adapter.add_request(s, NS(extra_args=extra, max_tokens=64))
    masks = []
    for step in range(min(len(q) for q in seqs) - 1):
        order = [0, 1, 2] if step % 2 == 0 else [2, 0, 1]
        row_slot, local, ids, pos = [], [], [], []
        for i in order:
            s, t = slots[i], int(total[slots[i]])
            row_ids = [int(table[s, t - 1]), seqs[i][step]]  # the last token, then one draft
            row_slot += [s, s]; local += [0, 1]; ids += row_ids; pos += [t - 1, t]
        ctx = NS(expanded_idx_mapping=torch.tensor(row_slot, device=device),
                 expanded_local_pos=torch.tensor(local, device=device),
                 input_ids=torch.tensor(ids, device=device), pos=torch.tensor(pos, device=device),
                 idx_mapping_np=np.asarray([slots[i] for i in order]))
        logits = adapter.apply(torch.zeros(len(ids), width, device=device), ctx)
        assert logits.device.type == torch.device(device).type
        masks.append(torch.isfinite(logits).cpu())
        for i in order:  # commit the drafted token
            s = slots[i]
            table[s, int(total[s])] = seqs[i][step]
            total[s] += 1
    return masks


cpu, cuda = run("cpu"), run("cuda")
assert len(cpu) == len(cuda) > 0
for step, (a, b) in enumerate(zip(cpu, cuda)):
    assert torch.equal(a, b), f"step {step}: CUDA masks differ from the CPU's"
    assert bool(a.any(dim=1).all()) and not bool(a.all(dim=1).any()), f"step {step}: mask is empty or full"
print(f"ok: {len(cuda)} steps x {cuda[0].shape[0]} rows, CUDA masks equal the CPU's")
EOF

echo "== 2. benchmarks/drafting.py --device cuda --quick"
"$PY" benchmarks/drafting.py --device cuda --quick

echo "== 3. HF processor on CUDA"
"$PY" - <<'EOF'
import re

import torch

from decoding.hf import GrammarLogitsProcessor, compile_for_tokenizer
from decoding.models import load_test_model
from grammars import Grammar

model, tok = load_test_model()
pattern = "[12][0-9]{3}-[01][0-9]-[0-3][0-9]"
compiled = compile_for_tokenizer(Grammar.from_regex(pattern), tok, model=model)
ids = tok.apply_chat_template([{"role": "user", "content": "When did Apollo 11 land? Date only."}],
                              add_generation_prompt=True, return_tensors="pt", return_dict=True)
texts = {}
for device in ("cpu", "cuda"):
    m = model.to(device)
    out = m.generate(**{k: v.to(device) for k, v in ids.items()}, max_new_tokens=16, do_sample=False,
                     logits_processor=[GrammarLogitsProcessor(compiled)])
    texts[device] = tok.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)
assert re.fullmatch(pattern, texts["cuda"]), f"CUDA output {texts['cuda']!r} does not match {pattern}"
assert texts["cuda"] == texts["cpu"], f"CUDA {texts['cuda']!r} != CPU {texts['cpu']!r}"
print(f"ok: HF processor on CUDA produced {texts['cuda']!r}, as on the CPU")
EOF
echo "gpu_check: all CUDA checks passed"
