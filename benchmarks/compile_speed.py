"""Compile speed, ours beside llguidance and lark in one process (issue 17's cold path).

* schema compile (schema -> matcher ready for its first mask, caches bypassed) on the
  JSON-Schema-Test-Suite's schemas (draft 2020-12) and the real-schema corpus
  (``data/json_schemas/``), ours and llguidance's on SmolLM2's vocabulary;
* literal scaling: ``start: "w0x" | ... | "w{n-1}x"``, ours (``Grammar.from_lark`` + compile,
  caches bypassed) and lark's own ``Lark(text, parser="lalr")``;
* a large grammar (lark's own ``python.lark``), ``large_grammar_compile_ms``;
* a new process to its first JSON mask with warm disk caches (``process_first_mask_ms``, from the
  engine's import; ``process_first_mask_after_import_ms`` from the compile, the engine imported)
  and with empty ones, Numba's JIT included (``compile_cold_ms``).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/compile_speed.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# torch and the tokenizer (transformers) load first, the model folder is given (decoding.models
# would import the engine before the clock starts); the clock runs from the engine's import to the
# mask (the first number) and from the grammar's compile to the mask (the second: the engine
# already imported, the figure earlier sessions reported as process_first_mask_ms).
FIRST_MASK = """
import sys, time
import torch
from transformers import AutoTokenizer
tok = AutoTokenizer.from_pretrained(sys.argv[1])
t0 = time.perf_counter()
from decoding.hf import compile_for_tokenizer
from grammars import GrammarMatcher
t1 = time.perf_counter()
cg = compile_for_tokenizer("json", tok)
GrammarMatcher(cg).allowed_token_ids()
t2 = time.perf_counter()
print((t2 - t0) * 1000, (t2 - t1) * 1000)
"""


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout()


def _pct(values, q):
    return float(np.percentile(values, q)) if values else None


def _fmt(x):
    return "n/a" if x is None else f"{x:.1f}"


def schema_compile(quick: bool, timeout: float, slowest: int = 0) -> dict:
    from benchmarks._schema_corpus import load_schema_corpus
    from benchmarks.json_schema_suite import suite_dir, suite_remotes
    from decoding.hf import vocabulary_for
    from decoding.models import load_test_model
    from grammars import Grammar, GrammarMatcher, compile_grammar
    from grammars import compiler as grammar_compiler

    model, tok = load_test_model()
    vocab = vocabulary_for(tok, model)
    remotes = suite_remotes()
    schemas = [g["schema"] for f in sorted(suite_dir().glob("*.json")) for g in json.loads(f.read_text())]
    unique = list({json.dumps(s, sort_keys=True): s for s in schemas}.values())
    corpus = [s for _, s in load_schema_corpus()]
    if quick:
        unique = unique[:: max(1, len(unique) // 240)]
        corpus = corpus[:: max(1, len(corpus) // 80)]
    schemas = unique + corpus
    try:
        import llguidance
        import llguidance.hf

        lltok = llguidance.hf.from_tokenizer(tok)
    except Exception as e:  # noqa: BLE001 - a peer that cannot run is reported as not run
        print(f"llguidance not run: {e}")
        lltok = None
    scratch = tempfile.mkdtemp(prefix="compile-speed-")

    def ours(schema):
        grammar_compiler._memory_cache.clear()
        os.environ["GUIDED_DECODING_CACHE"] = tempfile.mkdtemp(dir=scratch)
        t0 = time.perf_counter()
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                GrammarMatcher(compile_grammar(Grammar.from_json_schema(schema, resources=remotes), vocab,
                                               use_disk_cache=False)).allowed_token_ids()
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        return (time.perf_counter() - t0) * 1000

    def llg(schema):
        t0 = time.perf_counter()
        m = llguidance.LLMatcher(lltok, llguidance.LLMatcher.grammar_from_json_schema(schema), log_level=0)
        if m.is_error():
            raise ValueError(m.get_error())
        m.compute_logits() if hasattr(m, "compute_logits") else m.compute_bitmask()
        return (time.perf_counter() - t0) * 1000

    signal.signal(signal.SIGALRM, _alarm)
    for warm in ({"type": "integer"}, {"properties": {"a": {"type": "string"}}}):
        ours(warm)
        if lltok is not None:
            llg(warm)
    both, ours_all, timeouts, timed = [], [], 0, []
    for index, schema in enumerate(schemas):
        try:
            a = ours(schema)
        except _Timeout:
            a, timeouts = timeout * 1000, timeouts + 1
        except Exception:  # noqa: BLE001 - refused: not timed
            a = None
        if a is not None:
            timed.append((a, index))
        try:
            b = llg(schema) if lltok is not None else None
        except Exception:  # noqa: BLE001
            b = None
        if a is not None:
            ours_all.append(a)
        if a is not None and b is not None:
            both.append((a, b))
    for ms, index in sorted(timed, reverse=True)[:slowest]:
        print(f"  {ms:8.1f} ms  schema {index}: {json.dumps(schemas[index])[:150]}")
    a, b = [x for x, _ in both], [y for _, y in both]
    out = {"schemas": len(schemas), "schemas_both_compiled": len(both), "schema_timeouts": timeouts,
           "ours_schema_compile_p50_ms": _pct(a, 50), "ours_schema_compile_p99_ms": _pct(a, 99),
           "llguidance_schema_compile_p50_ms": _pct(b, 50), "llguidance_schema_compile_p99_ms": _pct(b, 99),
           "ours_schema_compile_all_p50_ms": _pct(ours_all, 50)}
    print(f"schema compile on {len(both)} schemas both compile (of {len(schemas)}; {timeouts} past "
          f"{timeout:.0f} s): ours p50 {_fmt(out['ours_schema_compile_p50_ms'])} ms p99 "
          f"{_fmt(out['ours_schema_compile_p99_ms'])} ms; llguidance p50 "
          f"{_fmt(out['llguidance_schema_compile_p50_ms'])} p99 {_fmt(out['llguidance_schema_compile_p99_ms'])}", flush=True)
    return out


def literals(sizes) -> dict:
    import lark

    from grammars import Grammar, Vocabulary, compile_grammar
    from grammars.warmup import compile_kernels

    compile_kernels()  # a process's first kernel load is process_first_mask_ms's, not this
    vocab = Vocabulary([bytes([c]) for c in b"wx0123456789"] + [None], eos_token_ids=(12,))
    out = {}
    for n in sizes:
        text = "start: " + " | ".join(f'"w{i}x"' for i in range(n))
        t0 = time.perf_counter()
        lark.Lark(text, parser="lalr")
        out[f"lark_literals_{n}_ms"] = (time.perf_counter() - t0) * 1000
        os.environ["GUIDED_DECODING_CACHE"] = tempfile.mkdtemp(prefix="compile-speed-lit-")
        t0 = time.perf_counter()
        compile_grammar(Grammar.from_lark(text), vocab, use_disk_cache=False)
        out[f"literals_{n}_ms"] = (time.perf_counter() - t0) * 1000
        print(f"{n} literals: ours {out[f'literals_{n}_ms']:.0f} ms, lark {out[f'lark_literals_{n}_ms']:.0f} ms "
              f"({out[f'literals_{n}_ms'] / out[f'lark_literals_{n}_ms']:.2f}x)", flush=True)
    return out


def large_grammar() -> dict:
    import lark

    from decoding.hf import vocabulary_for
    from decoding.models import load_test_model
    from grammars import Grammar, compile_grammar

    text = (Path(lark.__file__).parent / "grammars" / "python.lark").read_text()
    model, tok = load_test_model()
    vocab = vocabulary_for(tok, model)
    os.environ["GUIDED_DECODING_CACHE"] = tempfile.mkdtemp(prefix="compile-speed-large-")
    t0 = time.perf_counter()
    try:
        compile_grammar(Grammar.from_lark(text, start="file_input", indenter="python"), vocab, use_disk_cache=False)
        ms = (time.perf_counter() - t0) * 1000
        print(f"python.lark: {ms:.0f} ms", flush=True)
    except Exception as e:  # noqa: BLE001 - reported, not timed
        ms = None
        print(f"python.lark not compiled: {type(e).__name__}: {str(e)[:200]}", flush=True)
    return {"large_grammar_compile_ms": ms}


def first_mask(env_extra: dict) -> tuple[float, float] | tuple[None, None]:
    """A new process's (engine import to first mask, compile to first mask) in ms."""
    from decoding.models import test_model_path

    env = dict(os.environ, **env_extra)
    r = subprocess.run([sys.executable, "-c", FIRST_MASK, str(test_model_path())], cwd=ROOT, env=env,
                       capture_output=True, text=True)
    try:
        total, after_import = map(float, r.stdout.strip().splitlines()[-1].split())
        return total, after_import
    except (ValueError, IndexError):
        print(f"first-mask process failed: {r.stderr[-300:]}")
        return None, None


def _with_cache_env(fn, *args):
    """``fn(*args)`` with ``GUIDED_DECODING_CACHE`` restored afterwards (the timed compiles point
    it at empty folders; the model itself stays where it is)."""
    saved = os.environ.get("GUIDED_DECODING_CACHE")
    try:
        return fn(*args)
    finally:
        if saved is None:
            os.environ.pop("GUIDED_DECODING_CACHE", None)
        else:
            os.environ["GUIDED_DECODING_CACHE"] = saved


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a sample of schemas; literals up to 5,000")
    ap.add_argument("--timeout", type=float, default=None,
                    help="seconds per schema compile of ours (counted at that time; default 10, 5 with --quick)")
    ap.add_argument("--parts", default="literals,schemas,large,process",
                    help="comma-separated parts to run (default all): literals, schemas, large, process")
    ap.add_argument("--slowest", type=int, default=0,
                    help="print the N slowest schemas of ours (ms, corpus index, a prefix of the schema)")
    args = ap.parse_args(argv)
    args.timeout = args.timeout or (5.0 if args.quick else 10.0)
    parts = set(args.parts.split(","))
    from decoding.models import test_model_path

    test_model_path()  # converted once, in the normal cache
    out = {"ours_schema_compile_p50_ms": None, "llguidance_schema_compile_p50_ms": None,
           "process_first_mask_ms": None, "process_first_mask_after_import_ms": None, "compile_cold_ms": None}
    if "literals" in parts:
        out.update(_with_cache_env(literals, [1000, 5000] if args.quick else [1000, 5000, 20000]))
    if "schemas" in parts:
        out.update(_with_cache_env(schema_compile, args.quick, args.timeout, args.slowest))
    if "large" in parts:
        out.update(_with_cache_env(large_grammar))
    if "process" in parts:
        first_mask({})  # warms the disk caches
        runs = [first_mask({}) for _ in range(3)]  # the median of three: other jobs share the machine
        totals = sorted(t for t, _ in runs if t is not None)
        after = sorted(a for _, a in runs if a is not None)
        out["process_first_mask_ms"] = totals[len(totals) // 2] if totals else None
        out["process_first_mask_after_import_ms"] = after[len(after) // 2] if after else None
        cold = tempfile.mkdtemp(prefix="compile-speed-cold-")
        out["compile_cold_ms"] = first_mask({"GUIDED_DECODING_CACHE": cold, "NUMBA_CACHE_DIR": cold})[0]
    for n in (1000, 5000, 20000):
        out.setdefault(f"literals_{n}_ms", None)
        out.setdefault(f"lark_literals_{n}_ms", None)
    p50 = out["ours_schema_compile_p50_ms"]
    print(f"ratios: schema p50 ours/llguidance "
          f"{_fmt(p50 / out['llguidance_schema_compile_p50_ms']) if p50 and out['llguidance_schema_compile_p50_ms'] else 'n/a'}, "
          f"process_first_mask {_fmt(out['process_first_mask_ms'])} ms (engine import included; "
          f"{_fmt(out['process_first_mask_after_import_ms'])} ms after it), compile_cold {_fmt(out['compile_cold_ms'])} ms")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
