"""Result keys, tables and the issue's targets of ``benchmarks/mask_latency.py``."""

from __future__ import annotations

from typing import Any

import numpy as np

from _common import fmt, median, percentiles_us, print_table, ratio

PEERS = ("llguidance", "xgrammar", "xgrammar_lark")


def _max_us(samples_ns: list[int]) -> float | None:
    return float(np.max(samples_ns)) / 1e3 if samples_ns else None


def workload_result(w: Any) -> dict[str, Any]:
    """Flat result keys of one workload, prefixed with ``w.prefix``."""
    p = w.prefix
    out: dict[str, Any] = {f"{p}n_tokens": sum(len(d) for d in w.docs), f"{p}n_docs": len(w.docs)}
    for name, track in w.tracks.items():
        ok = track.failure is None and bool(track.first_mask)
        first, step = percentiles_us(track.first_mask), percentiles_us(track.first_step)
        later = percentiles_us(track.mask)
        values = {
            "first_pass_p50_us": first["p50"], "first_pass_p99_us": first["p99"],
            "first_pass_max_us": _max_us(track.first_mask),
            "step_first_pass_p50_us": step["p50"], "step_first_pass_p99_us": step["p99"],
            "advance_first_pass_p50_us": percentiles_us(track.first_advance)["p50"],
            "p50_us": later["p50"], "p99_us": later["p99"], "mean_us": later["mean"],
            "advance_p50_us": percentiles_us(track.advance)["p50"],
        }
        for key, value in values.items():
            out[f"{p}{name}_{key}"] = value if ok else None
        label = "compile_warm_ms" if name == "ours" else f"{name}_compile_ms"
        out[f"{p}{label}"] = median(track.compile_ms) if ok and track.compile_ms else None
        if track.failure or track.rejected:
            out[f"{p}{name}_failure"] = track.failure or f"{len(track.rejected)} documents refused"
    for peer in PEERS:
        if f"{p}{peer}_p50_us" not in out:
            continue
        for q in ("first_pass_p50", "first_pass_p99", "first_pass_max", "step_first_pass_p99",
                  "p50", "p99"):
            out[f"{p}ratio_ours_{peer}_{q}"] = ratio(out[f"{p}ours_{q}_us"], out[f"{p}{peer}_{q}_us"])
    if p == "tag_":  # issue 19's names: ours without an engine name, and the better peer
        for q in ("p50", "p99"):
            out[f"tag_first_pass_{q}_us"] = out[f"tag_ours_first_pass_{q}_us"]
            peers = [out[f"tag_{e}_first_pass_{q}_us"] for e in ("llguidance", "xgrammar")
                     if out.get(f"tag_{e}_first_pass_{q}_us") is not None]
            out[f"tag_ratio_ours_best_peer_first_pass_{q}"] = ratio(
                out[f"tag_first_pass_{q}_us"], min(peers) if peers else None)
    return out


def print_workload_table(w: Any, result: dict[str, Any]) -> None:
    """Per-engine cold and replay figures of one workload, from its result keys."""
    p = w.prefix
    print(f"\n{p or 'json_'}: {w.kind} on {w.tokenizers.label}, {len(w.docs)} documents, "
          f"{result[f'{p}n_tokens']} tokens; µs. Cold = each document on a fresh compile (the "
          "headline); step = mask + advance; replay = the same document again:")
    rows = []
    for name in w.tracks:
        def r(key: str, digits: int = 1) -> str:
            return fmt(result.get(f"{p}{name}_{key}"), digits)

        ratios = "" if name == "ours" else (
            f"{fmt(result.get(f'{p}ratio_ours_{name}_first_pass_p50'), 2)} / "
            f"{fmt(result.get(f'{p}ratio_ours_{name}_first_pass_p99'), 2)} / "
            f"{fmt(result.get(f'{p}ratio_ours_{name}_step_first_pass_p99'), 2)}")
        label = "compile_warm_ms" if name == "ours" else f"{name}_compile_ms"
        rows.append([name, r("first_pass_p50_us"), r("first_pass_p99_us"), r("first_pass_max_us"),
                     r("step_first_pass_p50_us"), r("step_first_pass_p99_us"), r("p50_us"),
                     r("p99_us"), fmt(result.get(f"{p}{label}"), 2), ratios])
    print_table(["engine", "cold p50", "cold p99", "cold max", "step p50", "step p99",
                 "replay p50", "replay p99", "1st mask ms", "ours/engine cold p50 / p99 / step p99"],
                rows)
    for name, track in w.tracks.items():
        if track.failure:
            print(f"  FAILED {name}: {track.failure}")
        for rejected in track.rejected:
            print(f"  REFUSED by {name}: {rejected}")
    if p == "tag_":
        print(f"  ours / better peer, cold p50 {fmt(result['tag_ratio_ours_best_peer_first_pass_p50'], 2)}"
              f", p99 {fmt(result['tag_ratio_ours_best_peer_first_pass_p99'], 2)}")


def print_setup_table(tokenizers: list[Any], probes: dict[str, dict[str, float]],
                      result: dict[str, Any]) -> None:
    """Per-tokenizer setup cost of each engine, and the new-process compile probes."""
    print("\nTokenizer setup (once per tokenizer), ms:")
    rows = [[tk.label, *(fmt(tk.setup_ms[k]) for k in ("tokenizer_load", "ours", "llguidance",
                                                         "xgrammar"))] for tk in tokenizers]
    print_table(["tokenizer", "HF load", "ours (vocab + trie)", "llguidance", "xgrammar"], rows)
    for kind, probe in probes.items():
        print(f"  new process ({kind} caches): import transformers "
              f"{probe['import_transformers_ms']:.0f}, import grammars {probe['import_ms']:.0f}, "
              f"tokenizer {probe['tokenizer_ms']:.0f}, vocabulary {probe['vocab_ms']:.0f}, JSON to "
              f"first mask {probe['compile_ms']:.0f} (compile_grammar "
              f"{probe['compile_grammar_ms']:.0f} + first mask {probe['first_mask_ms']:.0f}) ms")


def _target(missed: list[str], name: str, value: float | None, limit: float, unit: str,
            peer_refused: bool = False) -> list[str]:
    """One row of the targets table; a target whose peer refused the grammar is not counted."""
    if peer_refused:
        return [name, "-", f"<= {limit:g}{unit}", "n/a: the peer refused the grammar"]
    ok = value is not None and value <= limit
    if not ok:
        missed.append(name)
    return [name, fmt(value, 2), f"<= {limit:g}{unit}", "ok" if ok else "MISSED"]


def print_targets(result: dict[str, Any]) -> list[str]:
    """Issue 17's and 19's targets on the cold figures; returns the names of the missed ones."""
    missed: list[str] = []
    rows = []
    for p in ("", "gemma_", "sql_", "large_"):
        if f"{p}n_tokens" not in result:
            continue
        refused = {e: "compile:" in str(result.get(f"{p}{e}_failure", ""))
                   for e in ("xgrammar", "llguidance")}
        rows.append(_target(missed, f"{p}ours/xgrammar cold p50",
                            result.get(f"{p}ratio_ours_xgrammar_first_pass_p50"), 1.0, "x",
                            refused["xgrammar"]))
        rows.append(_target(missed, f"{p}ours/llguidance cold p99",
                            result.get(f"{p}ratio_ours_llguidance_first_pass_p99"), 1.0, "x",
                            refused["llguidance"]))
        rows.append(_target(missed, f"{p}ours/llguidance step p99",
                            result.get(f"{p}ratio_ours_llguidance_step_first_pass_p99"), 1.0, "x",
                            refused["llguidance"]))
        if p in ("", "gemma_"):
            rows.append(_target(missed, f"{p}ours cold max us",
                                result.get(f"{p}ours_first_pass_max_us"), 2000, " us"))
    if "tag_n_tokens" in result:
        for q in ("p50", "p99"):
            rows.append(_target(missed, f"tag_ours/better peer cold {q}",
                                result.get(f"tag_ratio_ours_best_peer_first_pass_{q}"), 1.0, "x"))
    print("\nTargets (issue 17: cold p50 <= xgrammar, p99 and step p99 <= llguidance, max <= 2 ms "
          "for JSON; issue 19: tag <= the better peer); a peer that ran but has no figure counts as missed:")
    print_table(["target", "measured", "limit", ""], rows)
    return missed
