"""ADED draft-and-verify against plain greedy ``generate`` and HF prompt lookup, on the test model.

Two prompt sets (``data/drafting_prompts.json``): input-grounded (summarise, extract, edit code,
answer from a passage; 12 prompts) and open (chat questions without a passage; 12 prompts).
For each prompt the three methods run back to back, in a rotating order, in one process: plain
greedy, prompt lookup (``prompt_lookup_num_tokens=10``) and ours (``custom_generate=aded_generate``).
Then batch 4: plain batched greedy against ours batched, on groups of 4 prompts (left padding);
and JSON-grammar greedy: plain ``generate`` with :class:`GrammarLogitsProcessor` against ours with
the same processor (grammar-aware drafting), on 6 JSON prompts.

The tri-gram table is built from ``data/drafting_corpus.jsonl``: the test model's own greedy answers
to 200 other prompts (``benchmarks/make_drafting_corpus.py``; none of the benchmark prompts), and it
keeps learning from every request of the run, as it would in use.

    python benchmarks/drafting.py                 # fp32 and bf16, 24 prompts, 128 new tokens
    python benchmarks/drafting.py --quick         # fp32, 8 prompts, 64 new tokens
    python benchmarks/drafting.py --device cuda --max-nodes 32   # on a GPU, with bigger trees
    python benchmarks/drafting.py --model-layout  # verify without decoding/hf/skinny_linear.py's layout

Speedups are ratios of summed wall times over a set (every method generates the same tokens when
outputs are identical). The last line is JSON with ``speedup_vs_greedy_grounded``,
``speedup_vs_pld_grounded``, ``speedup_vs_greedy_open``, ``speedup_vs_pld_open``,
``speedup_batch4``, ``speedup_constrained_json`` and ``identical_outputs`` (fp32, or the
first dtype run), plus per-dtype
figures and the mean accepted tokens per verification step.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import torch

from _common import fmt, print_load, print_result_line, print_table

from decoding.drafting import aded_generate, build_trigram_table
from decoding.hf import GrammarLogitsProcessor, compile_for_tokenizer
from decoding.models import load_test_model
from drafters import DraftConfig

DATA = Path(__file__).parent / "data"
METHODS = ("greedy", "pld", "ours")


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def chat_inputs(tok, prompts: list[str], device: str) -> dict:
    texts = [tok.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True,
                                     tokenize=False) for p in prompts]
    tok.padding_side = "left"
    enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    return {k: v.to(device) for k, v in enc.items()}


def timed(fn, device: str):
    sync(device)
    start = time.perf_counter()
    out = fn()
    sync(device)
    return out, time.perf_counter() - start


def run_set(model, tok, prompts, ours_kwargs, max_new, device) -> dict:
    seconds = dict.fromkeys(METHODS, 0.0)
    tokens = dict.fromkeys(METHODS, 0)
    identical = True
    pld_identical = True
    steps = accepted = 0
    for i, prompt in enumerate(prompts):
        inputs = chat_inputs(tok, [prompt], device)
        n_in = inputs["input_ids"].shape[1]
        stats: dict = {}
        calls = {
            "greedy": lambda: model.generate(**inputs, max_new_tokens=max_new, do_sample=False),
            "pld": lambda: model.generate(**inputs, max_new_tokens=max_new, do_sample=False,
                                          prompt_lookup_num_tokens=10),
            "ours": lambda: model.generate(**inputs, max_new_tokens=max_new, do_sample=False,
                                           custom_generate=aded_generate, draft_stats=stats,
                                           **ours_kwargs),
        }
        outs = {}
        for k in range(3):
            method = METHODS[(i + k) % 3]
            outs[method], dt = timed(calls[method], device)
            seconds[method] += dt
            tokens[method] += outs[method].shape[1] - n_in
        identical &= torch.equal(outs["ours"], outs["greedy"])
        pld_identical &= torch.equal(outs["pld"], outs["greedy"])
        steps += stats["steps"] + 1  # the prompt's forward pass chooses the first token
        accepted += stats["new_tokens"]
    return {
        "tokens_per_s": {m: tokens[m] / seconds[m] for m in METHODS},
        "speedup_vs_greedy": seconds["greedy"] / seconds["ours"],
        "speedup_vs_pld": seconds["pld"] / seconds["ours"],
        "pld_vs_greedy": seconds["greedy"] / seconds["pld"],
        "tokens_per_step": accepted / steps,
        "identical": identical,
        "pld_identical": pld_identical,
    }


def plain_vs_ours(model, batches: list[dict], plain_kwargs, ours_kwargs, device: str) -> dict:
    """Plain ``generate`` against ours on each input batch, alternating which runs first;
    ``*_kwargs`` are functions returning fresh ``generate`` arguments."""
    seconds = {"plain": 0.0, "ours": 0.0}
    identical = True
    for i, inputs in enumerate(batches):
        outs = {}
        for name in (("plain", "ours") if i % 2 == 0 else ("ours", "plain")):
            kwargs = plain_kwargs() if name == "plain" else ours_kwargs()
            outs[name], dt = timed(lambda: model.generate(**inputs, **kwargs), device)
            seconds[name] += dt
        identical &= outs["plain"].shape == outs["ours"].shape and torch.equal(outs["plain"], outs["ours"])
    return {"speedup": seconds["plain"] / seconds["ours"], "identical": identical,
            "groups": len(batches)}


def run_constrained(model, tok, prompts, ours_kwargs, max_new, device) -> dict:
    """JSON-grammar greedy: plain constrained ``generate`` against ours (grammar-aware drafts)."""
    compiled = compile_for_tokenizer("json", tok, model=model)
    common = dict(max_new_tokens=max_new, do_sample=False)
    return plain_vs_ours(
        model, [chat_inputs(tok, [p], device) for p in prompts],
        lambda: dict(common, logits_processor=[GrammarLogitsProcessor(compiled)]),
        lambda: dict(common, logits_processor=[GrammarLogitsProcessor(compiled)],
                     custom_generate=aded_generate, **ours_kwargs),
        device)


def run_batch4(model, tok, prompts, ours_kwargs, max_new, device) -> dict:
    """Batches of 4 prompts: plain batched greedy against ours batched."""
    common = dict(max_new_tokens=max_new, do_sample=False)
    groups = [prompts[i:i + 4] for i in range(0, len(prompts) - 3, 4)]
    return plain_vs_ours(
        model, [chat_inputs(tok, g, device) for g in groups], lambda: common,
        lambda: dict(common, custom_generate=aded_generate, **ours_kwargs),
        device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fp32, 8 prompts, 64 new tokens")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtypes", default=None, help="comma-separated: float32,bfloat16")
    parser.add_argument("--max-nodes", type=int, default=None,
                        help="draft nodes per step (default: DraftConfig.for_model)")
    parser.add_argument("--lookup", type=int, default=DraftConfig().lookup, help="context-path tokens")
    parser.add_argument("--model-layout", action="store_true",
                        help="verify with the model's own GEMM layout (skinny_linear=False)")
    args = parser.parse_args()
    data = json.loads((DATA / "drafting_prompts.json").read_text())
    corpus = [json.loads(line)["text"] for line in (DATA / "drafting_corpus.jsonl").read_text().splitlines()]
    count = 4 if args.quick else len(data["grounded"])
    max_new = 64 if args.quick else 128
    dtypes = (args.dtypes or ("float32" if args.quick else "float32,bfloat16")).split(",")
    configs = {}
    for dtype in dtypes:
        default = DraftConfig.for_model(torch.device(args.device).type, dtype)
        configs[dtype] = replace(default, lookup=args.lookup,
                                 max_nodes=args.max_nodes or default.max_nodes)
    print_load("start")
    print(f"table corpus: {len(corpus)} answers of the test model to prompts that are not "
          f"benchmark prompts (data/drafting_corpus.jsonl); {count} prompts per set, "
          f"{max_new} new tokens, device {args.device}, draft trees of "
          + ", ".join(f"{c.max_nodes} nodes ({d})" for d, c in configs.items())
          + f", {'model' if args.model_layout else 'skinny'} GEMM layout")
    results = {}
    for dtype in dtypes:
        model, tok = load_test_model(getattr(torch, dtype))
        model.to(args.device)
        table = build_trigram_table(corpus, tok)
        warm = chat_inputs(tok, ["Hello!"], args.device)
        model.generate(**warm, max_new_tokens=4, do_sample=False, custom_generate=aded_generate,
                       trigram_table=table.copy())
        model.generate(**warm, max_new_tokens=4, do_sample=False, prompt_lookup_num_tokens=10)
        ours = dict(trigram_table=table, draft_config=configs[dtype], skinny_linear=not args.model_layout)
        per = {name: run_set(model, tok, data[name][:count], ours, max_new, args.device)
               for name in ("grounded", "open")}
        mixed = [p for pair in zip(data["grounded"][:count], data["open"][:count]) for p in pair]
        per["batch4"] = run_batch4(model, tok, mixed[:4] if args.quick else mixed, ours, max_new,
                                   args.device)
        json_prompts = data["constrained_json"][: count if args.quick else None]
        per["constrained"] = run_constrained(model, tok, json_prompts, ours, max_new, args.device)
        results[dtype] = per
        print(f"\n{dtype}:")
        rows = []
        for name in ("grounded", "open"):
            r = per[name]
            tps = r["tokens_per_s"]
            rows.append([name, fmt(tps["greedy"]), fmt(tps["pld"]), fmt(tps["ours"]),
                         fmt(r["speedup_vs_greedy"], 2), fmt(r["speedup_vs_pld"], 2),
                         fmt(r["pld_vs_greedy"], 2), fmt(r["tokens_per_step"], 2),
                         str(r["identical"]), str(r["pld_identical"])])
        print_table(["set", "greedy tok/s", "pld tok/s", "ours tok/s", "ours/greedy", "ours/pld",
                     "pld/greedy", "tokens/step", "ours = greedy", "pld = greedy"], rows)
        b = per["batch4"]
        print(f"batch 4 ({b['groups']} groups): ours/plain batched greedy {b['speedup']:.2f}x, "
              f"identical {b['identical']}")
        c = per["constrained"]
        print(f"JSON grammar, greedy: ours/plain constrained generate {c['speedup']:.2f}x, "
              f"identical {c['identical']}")
    print_load("end")
    head = results[dtypes[0]]
    print_result_line({
        "speedup_vs_greedy_grounded": head["grounded"]["speedup_vs_greedy"],
        "speedup_vs_pld_grounded": head["grounded"]["speedup_vs_pld"],
        "speedup_vs_greedy_open": head["open"]["speedup_vs_greedy"],
        "speedup_vs_pld_open": head["open"]["speedup_vs_pld"],
        "speedup_batch4": head["batch4"]["speedup"],
        "speedup_constrained_json": head["constrained"]["speedup"],
        "identical_outputs": all(r[s]["identical"] for r in results.values()
                                 for s in ("grounded", "open", "batch4", "constrained")),
        "dtype": dtypes[0],
        "device": args.device,
        "skinny_linear": not args.model_layout,
        "max_nodes": configs[dtypes[0]].max_nodes,
        "per_dtype": {d: {"grounded": round(r["grounded"]["speedup_vs_greedy"], 3),
                          "grounded_vs_pld": round(r["grounded"]["speedup_vs_pld"], 3),
                          "open": round(r["open"]["speedup_vs_greedy"], 3),
                          "open_vs_pld": round(r["open"]["speedup_vs_pld"], 3),
                          "batch4": round(r["batch4"]["speedup"], 3),
                          "tokens_per_step_grounded": round(r["grounded"]["tokens_per_step"], 3),
                          "tokens_per_step_open": round(r["open"]["tokens_per_step"], 3),
                          "max_nodes": configs[d].max_nodes,
                          "constrained_json": round(r["constrained"]["speedup"], 3),
                          "identical": all(r[s]["identical"]
                                           for s in ("grounded", "open", "batch4", "constrained"))}
                      for d, r in results.items()},
    })


if __name__ == "__main__":
    main()
