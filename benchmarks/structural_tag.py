"""Structural tags (free text with two tool calls): per-token mask latency of ours against
xgrammar's structural tag and llguidance's lazy grammar, on the same texts, in the same process;
plus the cost of a decoding step in free text against an unconstrained one.

Workload: 8 chat answers in free text, each with two tool calls (``<function=weather>{...}
</function>``, ``<function=clock>{...}</function>``), tokenized with SmolLM2-135M-Instruct's
tokenizer. The constraint is one ``triggered_tags`` structural tag with the two tools' JSON
Schemas: ours through ``Grammar.from_structural_tag``, xgrammar through its own
``Grammar.from_structural_tag`` of the same JSON, llguidance through ``StructTag.to_grammar``
(lazy trigger lexemes, ``assume_special=False``: the trigger is text). Every engine compiles
fresh per document (ours: no memory or disk cache), so every document's pass is a first pass
over first-seen states: the headline. At each token the engine fills its bitmask (timed), the
bitmask must hold the next token, then the engine advances; the last mask must allow EOS.
Engines run interleaved per document, in a rotating order. A replay pass (same compiled grammars,
states seen) is reported under ``*_replay_*``.

Free part: the first-pass masks at positions outside the tool calls (``tag_free_first_pass_*``),
and ``free_step_ratio``: seconds per token of greedy ``generate`` with the structural-tag processor
over seconds per token without it, on prompts whose answers contain no trigger (same tokens;
medians of interleaved runs).

Usage:
    python benchmarks/structural_tag.py            # 3 replays, 4 generate rounds
    python benchmarks/structural_tag.py --quick    # about a minute, the same keys

The last line is one JSON object: ``tag_first_pass_p50_us``, ``tag_first_pass_p99_us``,
``xgrammar_tag_first_pass_p50_us``/``_p99_us``, ``llguidance_tag_first_pass_p50_us``/``_p99_us``,
``ratio_ours_best_peer_first_pass_p50``/``_p99``, ``tag_free_first_pass_p50_us``/``_p99_us``, the
same ``*_replay_*``, ``*_compile_ms``, ``free_step_ratio``, ``n_tokens``, ``load``.
"""

from __future__ import annotations

import argparse
import gc
import json
import time

from _common import percentiles_us, print_load, ratio
from _mask_engines import (
    Engine,
    Rejected,
    llguidance_engine,
    ours_engine,
    prepare_tokenizers,
    run_document,
    smollm2_folder,
    smollm2_vocabulary,
    xgrammar_engine,
)

WEATHER = {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1}},
           "required": ["city"], "additionalProperties": False}
CLOCK = {"type": "object", "properties": {"zone": {"enum": ["UTC", "CET", "PST"]}}, "required": ["zone"],
         "additionalProperties": False}
TOOLS = {"weather": WEATHER, "clock": CLOCK}
TRIGGER = "<function="
STRUCTURAL_TAG = {"type": "structural_tag", "format": {
    "type": "triggered_tags", "triggers": [TRIGGER],
    "tags": [{"type": "tag", "begin": f"<function={name}>", "end": "</function>",
              "content": {"type": "json_schema", "json_schema": schema}} for name, schema in TOOLS.items()]}}


def call(name: str, args: dict) -> str:
    return f"<function={name}>{json.dumps(args, ensure_ascii=False)}</function>"


TEXTS = [
    f"Sure! Let me look that up for you. {call('weather', {'city': 'Paris', 'days': 3})} "
    f"and the local time: {call('clock', {'zone': 'CET'})} I will report back.",
    f"I need two things first.\n{call('clock', {'zone': 'UTC'})}\n{call('weather', {'city': 'Tokyo'})}\nDone.",
    f"The forecast depends on the day (a < b, <func is not a call). {call('weather', {'city': 'Lima', 'days': 1})}"
    f" Also: {call('clock', {'zone': 'PST'})}",
    f"Here is my plan: 1) weather, 2) time.{call('weather', {'city': 'Oslo', 'days': 7})}"
    f"{call('clock', {'zone': 'CET'})} That is all for now, thanks for waiting!",
    f"Bonjour ! Je vérifie la météo à Montréal. {call('weather', {'city': 'Montréal'})} "
    f"puis l'heure. {call('clock', {'zone': 'UTC'})} Merci.",
    f"```\nno code here\n```\n{call('clock', {'zone': 'PST'})} and {call('weather', {'city': 'San José', 'days': 2})}",
    f"Thinking about it... the user wants both. {call('weather', {'city': 'Cairo', 'days': 5})}. "
    f"Then {call('clock', {'zone': 'UTC'})}. Finally I summarise: sunny, noon.",
    f"OK.{call('weather', {'city': 'Rome'})}{call('clock', {'zone': 'CET'})}",
]

FREE_PROMPTS = ["Tell me a short story about a cat.", "What is the capital of France? Explain briefly.",
                "List three colours.", "Say hello in French."]


def ours_compile(vocab):
    import grammars.compiler
    from grammars import Grammar, compile_grammar

    grammars.compiler._memory_cache.clear()
    return compile_grammar(Grammar.from_structural_tag(STRUCTURAL_TAG), vocab, use_disk_cache=False)


def xgrammar_compile(tk):
    import xgrammar as xgr

    return tk.xgrammar_compiler.compile_grammar(xgr.Grammar.from_structural_tag(json.dumps(STRUCTURAL_TAG)))


def llguidance_compile():
    from llguidance import LLMatcher, StructTag

    tags = [StructTag(trigger=TRIGGER, begin=f"<function={name}>", grammar=schema, end="</function>")
            for name, schema in TOOLS.items()]
    return LLMatcher.grammar_from_lark(StructTag.to_grammar(tags, assume_special=False))


def free_positions(tokenizer, ids: list[int], text: str) -> list[bool]:
    """Per mask (``len(ids) + 1``): whether the text before it lies outside every tool call."""
    spans, start = [], 0
    while (i := text.find(TRIGGER, start)) >= 0:
        end = text.index("</function>", i) + len("</function>")
        spans.append((i, end))
        start = end
    lengths = [len(tokenizer.decode(ids[:k])) for k in range(len(ids) + 1)]
    return [not any(a < n < b for a, b in spans) for n in lengths]


def first_passes(tk, docs, texts, replays: int):
    specs = {
        "ours": (lambda: ours_compile(tk.vocab), ours_engine),
        "xgrammar": (lambda: xgrammar_compile(tk), lambda c: xgrammar_engine(tk, c, "xgrammar")),
        "llguidance": (llguidance_compile, lambda c: llguidance_engine(tk, c)),
    }
    first = {name: [] for name in specs}
    replay = {name: [] for name in specs}
    compile_ms = {name: [] for name in specs}
    free_first: list[int] = []
    failures: dict[str, str] = {}
    engines: dict[str, list[Engine]] = {name: [] for name in specs}
    for d, (ids, text) in enumerate(zip(docs, texts)):
        gc.collect()
        names = list(specs)
        k = d % len(names)
        for name in names[k:] + names[:k]:
            if name in failures:
                continue
            compile_fn, wrap = specs[name]
            start = time.perf_counter()
            engine = wrap(compile_fn())
            compile_ms[name].append((time.perf_counter() - start) * 1e3)
            try:
                masks, _ = run_document(engine, ids, tk.eos)
            except Rejected as r:
                failures[name] = (f"document {d}: token {r.position} refused at the {r.stage} step after "
                                  f"{tk.hf.decode(ids[:r.position])!r}")
                continue
            first[name].extend(masks)
            engines[name].append(engine)
            if name == "ours":
                free_first.extend(ns for ns, free in zip(masks, free_positions(tk.hf, ids, text)) if free)
    for _ in range(replays):
        for name, bound in engines.items():
            for engine, ids in zip(bound, docs):
                replay[name].extend(run_document(engine, ids, tk.eos)[0])
    return first, replay, compile_ms, free_first, failures


def free_step_ratio(rounds: int, max_new_tokens: int) -> float | None:
    """Seconds per generated token with the structural-tag processor over without it, greedy, on
    prompts whose greedy answers hold no trigger (then both produce the same tokens)."""
    import torch

    from decoding.hf import GrammarLogitsProcessor, compile_for_tokenizer
    from decoding.models import load_test_model

    model, tok = load_test_model()
    processor = GrammarLogitsProcessor(compile_for_tokenizer(STRUCTURAL_TAG, tok, model=model))
    timings = {"plain": [], "tag": []}
    for r in range(rounds):
        for prompt in FREE_PROMPTS:
            ids = tok.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                          return_tensors="pt", return_dict=True)["input_ids"]
            for name in (("plain", "tag") if r % 2 == 0 else ("tag", "plain")):
                procs = [processor] if name == "tag" else []
                processor.reset()
                start = time.perf_counter()
                with torch.inference_mode():
                    out = model.generate(ids, max_new_tokens=max_new_tokens, do_sample=False,
                                         logits_processor=procs)
                n = out.shape[1] - ids.shape[1]
                timings[name].append((time.perf_counter() - start) / max(n, 1))
    import statistics

    return ratio(statistics.median(timings["tag"]), statistics.median(timings["plain"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer replays and generate rounds (same keys)")
    args = parser.parse_args()
    load = print_load("start")
    folder = smollm2_folder()
    tk = prepare_tokenizers("smollm2", folder, lambda t: smollm2_vocabulary(t, folder))
    docs = [tk.hf.encode(t, add_special_tokens=False) for t in TEXTS]
    first, replay, compile_ms, free_first, failures = first_passes(tk, docs, TEXTS, 1 if args.quick else 3)
    result: dict = {"n_tokens": sum(len(d) + 1 for d in docs)}
    print(f"{len(docs)} documents, {result['n_tokens']} masks per engine and pass")
    for name, prefix in (("ours", "tag"), ("xgrammar", "xgrammar_tag"), ("llguidance", "llguidance_tag")):
        f, r = percentiles_us(first[name]), percentiles_us(replay[name])
        result[f"{prefix}_first_pass_p50_us"] = f["p50"]
        result[f"{prefix}_first_pass_p99_us"] = f["p99"]
        result[f"{prefix}_replay_p50_us"] = r["p50"]
        result[f"{prefix}_replay_p99_us"] = r["p99"]
        result[f"{prefix}_compile_ms"] = (sorted(compile_ms[name])[len(compile_ms[name]) // 2]
                                          if compile_ms[name] else None)
        state = f"  REFUSED: {failures[name]}" if name in failures else ""
        print(f"{name:<11} first pass p50 {f['p50'] or 0:8.1f} us  p99 {f['p99'] or 0:8.1f} us   replay p50 "
              f"{r['p50'] or 0:7.1f} us  p99 {r['p99'] or 0:8.1f} us   compile {result[f'{prefix}_compile_ms'] or 0:7.1f} ms"
              + state)
    free = percentiles_us(free_first)
    result["tag_free_first_pass_p50_us"], result["tag_free_first_pass_p99_us"] = free["p50"], free["p99"]
    print(f"ours, free text only: first pass p50 {free['p50']:.1f} us  p99 {free['p99']:.1f} us")
    for stat in ("p50", "p99"):
        peers = [result[f"{p}_tag_first_pass_{stat}_us"] for p in ("xgrammar", "llguidance")
                 if result[f"{p}_tag_first_pass_{stat}_us"] is not None]
        result[f"ratio_ours_best_peer_first_pass_{stat}"] = ratio(result[f"tag_first_pass_{stat}_us"], min(peers)) \
            if peers else None
        print(f"ours / better peer, first pass {stat}: {result[f'ratio_ours_best_peer_first_pass_{stat}']:.2f}")
    result["free_step_ratio"] = free_step_ratio(2 if args.quick else 4, 24 if args.quick else 48)
    print(f"decoding step in free text / unconstrained step: {result['free_step_ratio']:.3f}")
    result["failures"] = failures
    result["load"] = [load, print_load("end")]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
