"""Tokens per second of JSON-constrained greedy ``generate`` against unconstrained (test model).

Both runs use the same chat prompt, greedy decoding and ``min_new_tokens = max_new_tokens = N``, so
they generate exactly N tokens (end-of-sequence is held back until then; the prompt asks for a long
JSON document so that the constrained text is still open at N: ``constrained_json_closed_early``
says otherwise). The constrained run adds ``GrammarLogitsProcessor`` with the bundled JSON
grammar: a new processor per call, as for a new request, over one compiled grammar shared by all
calls (as a server would). Repetitions alternate which run goes first; the numbers are medians.
The processor's own time per call is measured by a thin timing wrapper, which gives the overhead
per token without the noise of two model timings. Torch runs on one thread by default: on this
shared 2-core machine a second busy process makes two-thread runs vary several-fold, which would
drown a sub-millisecond overhead.

Usage:
    python benchmarks/generate_overhead.py            # N=64, 5 repetitions
    python benchmarks/generate_overhead.py --quick    # N=24, 2 repetitions, under a minute

The last line is one JSON object: ``constrained_tps``, ``unconstrained_tps``, ``ratio``
(constrained / unconstrained), ``ratio_best`` (the same from each run's fastest repetition),
``overhead_ms_per_token`` (from the two medians), ``processor_ms_per_token`` /
``processor_mean_ms_per_token`` (the wrapper's median and mean over all calls), ``new_tokens``,
``repetitions``, the load.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402
from transformers import LogitsProcessor  # noqa: E402

from _common import fmt, median, print_load, print_result_line, print_table  # noqa: E402

# Asks for more JSON than N tokens hold: greedy constrained output is still open at 64 tokens.
PROMPT = (
    'Give the inventory of a hardware store as JSON: an object whose key "products" holds an '
    "array of 40 product objects (id, name, category, price, stock, tags). Output only JSON."
)


class TimedProcessor(LogitsProcessor):
    """Wraps a logits processor and records the wall time of each call (ns)."""

    def __init__(self, inner: LogitsProcessor):
        self.inner = inner
        self.calls_ns: list[int] = []

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        start = time.perf_counter_ns()
        out = self.inner(input_ids, scores)
        self.calls_ns.append(time.perf_counter_ns() - start)
        return out


def prompt_ids(tokenizer: Any) -> dict[str, torch.Tensor]:
    """The chat-formatted prompt as ``generate`` keyword arguments."""
    return tokenizer.apply_chat_template([{"role": "user", "content": PROMPT}],
                                         add_generation_prompt=True, return_tensors="pt",
                                         return_dict=True)


def generate(model: Any, inputs: dict[str, torch.Tensor], n: int,
             processor: LogitsProcessor | None) -> tuple[float, torch.Tensor]:
    """Greedy-generate exactly ``n`` tokens; (seconds, new token ids)."""
    extra = {"logits_processor": [processor]} if processor is not None else {}
    start = time.perf_counter()
    with torch.inference_mode():
        out = model.generate(**inputs, do_sample=False, max_new_tokens=n, min_new_tokens=n,
                             **extra)
    seconds = time.perf_counter() - start
    new = out[0, inputs["input_ids"].shape[1]:]
    if len(new) != n:
        raise RuntimeError(f"generated {len(new)} tokens instead of {n}")
    return seconds, new


def json_closed(text: str) -> bool:
    """Whether ``text`` holds a complete JSON value (the grammar would have allowed stopping)."""
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="N=24, 2 repetitions")
    parser.add_argument("--tokens", type=int, default=None, help="new tokens per run (default 64)")
    parser.add_argument("--reps", type=int, default=None, help="repetitions (default 5)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    n = args.tokens or (24 if args.quick else 64)
    reps = args.reps or (2 if args.quick else 5)
    torch.set_num_threads(args.threads)
    load_start = print_load("start")

    from decoding.hf import GrammarLogitsProcessor, compile_for_tokenizer
    from decoding.models import load_test_model

    model, tokenizer = load_test_model()
    compiled = compile_for_tokenizer("json", tokenizer, model=model)
    inputs = prompt_ids(tokenizer)
    print(f"model {type(model).__name__} fp32, torch threads {torch.get_num_threads()}, prompt "
          f"{inputs['input_ids'].shape[1]} tokens, {n} new tokens, {reps} repetitions")

    generate(model, inputs, 4, None)  # warm-up: first forward passes, Numba kernels
    generate(model, inputs, 4, GrammarLogitsProcessor(compiled))

    seconds: dict[str, list[float]] = {"constrained": [], "unconstrained": []}
    processor_ns: list[int] = []
    texts: dict[str, str] = {}
    for rep in range(reps):
        order = ["constrained", "unconstrained"] if rep % 2 == 0 else ["unconstrained",
                                                                          "constrained"]
        for kind in order:
            timed = None
            if kind == "constrained":
                timed = TimedProcessor(GrammarLogitsProcessor(compiled))
            elapsed, new = generate(model, inputs, n, timed)
            seconds[kind].append(elapsed)
            texts[kind] = tokenizer.decode(new, skip_special_tokens=True)
            if timed is not None:
                processor_ns.extend(timed.calls_ns)

    tps = {kind: n / median(values) for kind, values in seconds.items()}
    best_tps = {kind: n / min(values) for kind, values in seconds.items()}
    result = {
        "constrained_tps": tps["constrained"],
        "unconstrained_tps": tps["unconstrained"],
        "ratio": tps["constrained"] / tps["unconstrained"],
        "ratio_best": best_tps["constrained"] / best_tps["unconstrained"],
        "overhead_ms_per_token": 1e3 / tps["constrained"] - 1e3 / tps["unconstrained"],
        "processor_ms_per_token": median(processor_ns) / 1e6,
        "processor_mean_ms_per_token": sum(processor_ns) / len(processor_ns) / 1e6,
        "new_tokens": n,
        "repetitions": reps,
        "constrained_json_closed_early": json_closed(texts["constrained"]),
        "torch_threads": torch.get_num_threads(),
    }

    print(f"\nGreedy generate, {n} new tokens, median of {reps} (interleaved):")
    print_table(["run", "tokens/s", "ms/token", "runs (s)"], [
        [kind, fmt(tps[kind], 2), fmt(1e3 / tps[kind], 1),
         " ".join(f"{s:.2f}" for s in seconds[kind])] for kind in seconds])
    print(f"constrained / unconstrained: {result['ratio']:.3f}; overhead "
          f"{result['overhead_ms_per_token']:.2f} ms/token from the medians, processor "
          f"{result['processor_ms_per_token']:.3f} ms/call median, "
          f"{result['processor_mean_ms_per_token']:.3f} mean")
    for kind, text in texts.items():
        print(f"{kind} text: {text[:160]!r}")
    result["loadavg_start"] = load_start
    result["loadavg_end"] = print_load("end")
    print_result_line(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
