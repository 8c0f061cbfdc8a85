"""JSON-Schema-Test-Suite (draft 2020-12) through our JSON Schema -> grammar translator, and the
peer llguidance on the same schemas and instances, in the same run.

For every test group (one schema, several instances), each engine either compiles the schema or
counts its instances as ``refused``; then every instance's SmolLM2 tokens are walked through a
fresh matcher. valid+accepted / invalid+rejected = passed; invalid+accepted = false positive;
valid+rejected = false negative.

Ours: the schema goes through ``Grammar.from_json_schema`` and ``compile_grammar`` for the
tokenizer's vocabulary (``vocabulary_for(tok, model)``, as ``compile_for_tokenizer`` does). An
instance is written in our grammar's canonical form (``serialize_instance``: compact, keys in the
schema's ``properties`` order, integral numbers as integers, others as plain decimals); one it
cannot write counts as ``unserializable``. A grammar fixes one key order per object, so every key
order of the instance is tried (``key_orders``, up to ``MAX_ORDERS`` spellings, ours first):
accepted = for some spelling, every token advances the matcher and it ``is_accepting()`` at the
end. So a valid instance counts as accepted when any order is, and an invalid one as a false
positive when any order is. The suite's remote documents (``json/remotes``) are given as
``resources`` (by their ``http://localhost:1234/`` URIs); nothing is fetched.

llguidance (``llguidance.LLMatcher``, default JSON options): ``llguidance.hf.from_tokenizer(tok)``
once; per schema ``LLMatcher.grammar_from_json_schema(schema)`` then ``LLMatcher(lltok, grammar)``.
Refused = an exception from either, or the new matcher already ``is_error()`` (unsupported keyword,
unsatisfiable schema, ...). Its default JSON grammar rejects ``\\uXXXX`` escapes and requires the
schema's property order (its own order, which for keys merged from ``$ref`` / ``allOf`` is not
always ours), so each instance is tried in several spellings, all
``json.dumps(..., separators=(",", ":"), ensure_ascii=False)``: ours re-dumped (our key order and
number spelling) and the raw instance (the suite's key order), each in every key order. Accepted = some spelling is accepted,
i.e. llguidance's language holds some spelling of the value (both spellings rejected on a valid
instance = false negative; either accepted on an invalid one = false positive); only if neither can
be written is it ``unserializable``. Each spelling walks a ``deep_copy()`` of the compiled matcher;
accepted = ``consume_tokens`` returns true, the matcher is not ``is_error()``, and it
``is_accepting()``.

Compile time (``time.perf_counter`` wall time) is schema dict -> a matcher ready for the first
token, for both: ours = ``Grammar.from_json_schema`` + ``compile_grammar`` + ``GrammarMatcher``;
llguidance = ``LLMatcher.grammar_from_json_schema`` + ``LLMatcher``. Ours is a real compile, never a cache
hit: ``compile_grammar(..., use_disk_cache=False)`` skips the compiled-grammar pickle cache, the
in-process memo of compiled grammars (``grammars.compiler._memory_cache``) is emptied before each
compile (the suite repeats schemas), and ``$GUIDED_DECODING_CACHE`` points at a new empty folder
under a ``TemporaryDirectory`` for each compile (set after the model is loaded), so lark's
parse-table cache never hits either. Not timed, one-time per process or tokenizer for both engines:
warm-up compiles of trivial schemas first (ours once through ``compile_for_tokenizer``, which
JIT-compiles / loads the Numba kernels and loads our vocabulary's token trie into memory, then twice
through the uncached path above, which warms lark; llguidance once), and building each engine's
tokenizer, so p50 reflects the per-schema cost. Both engines defer some work to the first token
masks (our per-state masks, llguidance's lazily built lexer states): the timed region
computes no mask. Reported: p50 / p99 per engine on every schema it compiled, and on the
schemas that BOTH compiled ("common"), plus ours / llguidance at p50 on the common ones. A compile
of ours that runs past ``--compile-timeout`` seconds (SIGALRM; default 60) is stopped, counted as
refused, left out of the times and listed after them.

Prints a per-file table (ours, then llguidance), totals, compile times, then one JSON line (the
last line) of totals; ``llguidance_*`` keys and ``*_common`` keys are null without llguidance.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/json_schema_suite.py [--quick]
        [--files a.json ...] [--compile-timeout S]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import warnings
from pathlib import Path

VERSION = "4.26.0"
MAX_ORDERS = 120  # spellings tried per instance (key orders)
CACHE = Path.home() / ".cache" / "guided-decoding" / "json-schema-test-suite"
QUICK = ["type.json", "enum.json", "const.json", "properties.json", "required.json", "items.json",
         "minimum.json", "maxLength.json", "anyOf.json", "ref.json"]
KEYS = ("passed", "false_positive", "false_negative", "refused", "unserializable", "total")


def suite_dir() -> Path:
    out = CACHE / "draft2020-12"
    if out.is_dir() and any(out.glob("*.json")):
        return out
    CACHE.mkdir(parents=True, exist_ok=True)
    sdist = CACHE / f"jsonschema-{VERSION}.tar.gz"
    if not sdist.exists():
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps",
                        f"jsonschema=={VERSION}", "-d", str(CACHE)], check=True)
    out.mkdir(exist_ok=True)
    prefix = f"jsonschema-{VERSION}/json/tests/draft2020-12/"
    with tarfile.open(sdist) as tar:
        for m in tar.getmembers():
            if m.name.startswith(prefix) and m.name.endswith(".json") and "/" not in m.name[len(prefix):]:
                (out / m.name[len(prefix):]).write_bytes(tar.extractfile(m).read())
    return out


def suite_remotes() -> dict:
    """The suite's remote documents (``json/remotes/``), by the URI its tests use for them
    (``http://localhost:1234/...``): given to our translator as ``resources`` (nothing is fetched)."""
    suite_dir()
    sdist = CACHE / f"jsonschema-{VERSION}.tar.gz"
    prefix = f"jsonschema-{VERSION}/json/remotes/"
    out = {}
    with tarfile.open(sdist) as tar:
        for m in tar.getmembers():
            if m.name.startswith(prefix) and m.name.endswith(".json"):
                out["http://localhost:1234/" + m.name[len(prefix):]] = json.loads(tar.extractfile(m).read())
    return out


class CompileTimeout(BaseException):
    """Our compile of one schema ran past ``--compile-timeout`` (a BaseException, so that no
    ``except Exception`` inside the library swallows it)."""


def percentile_ms(times: list[float], q: float) -> float | None:
    """The ``q`` quantile (nearest rank below) of ``times`` (seconds), in ms; None if empty."""
    if not times:
        return None
    s = sorted(times)
    return round(1000 * s[min(len(s) - 1, int(len(s) * q))], 2)


def compact(value) -> str:
    """``value`` as compact JSON with raw non-ASCII characters (ValueError for NaN / infinities)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def cells(r: dict) -> str:
    return (f"{r['passed']:5} {r['false_positive']:4} {r['false_negative']:4} {r['refused']:4} "
            f"{r['unserializable']:5}")


def classify(row: dict, accepted: bool, valid: bool) -> None:
    if accepted == valid:
        row["passed"] += 1
    elif accepted:
        row["false_positive"] += 1
    else:
        row["false_negative"] += 1


class _Raw(str):
    """A number kept as it was spelled."""


def key_orders(text: str, limit: int = MAX_ORDERS) -> list[str]:
    """``text`` (compact JSON) and the same value with the keys of its objects in other orders
    (up to ``limit`` spellings, ``text`` first; numbers keep their spelling). A grammar fixes one
    key order per object, so a value is in its language when some order is accepted, and an
    invalid value is a false positive when any order is accepted."""
    def parse(x):
        return json.loads(x, parse_float=_Raw, parse_int=_Raw, object_pairs_hook=lambda pairs: ("obj", pairs))

    def variants(v):
        if isinstance(v, tuple):
            pairs, out = v[1], []
            for perm in itertools.islice(itertools.permutations(pairs), limit):
                for combo in itertools.islice(itertools.product(*[variants(x) for _, x in perm]), limit):
                    out.append("{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + c
                                              for (k, _), c in zip(perm, combo)) + "}")
                    if len(out) >= limit:
                        return out
            return out
        if isinstance(v, list):
            return ["[" + ",".join(c) + "]" for c in itertools.islice(itertools.product(*[variants(x) for x in v]), limit)]
        if isinstance(v, _Raw):
            return [str(v)]
        return [json.dumps(v, ensure_ascii=False)]

    out = [text] + [x for x in variants(parse(text)) if x != text]
    return out[:limit]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="only a few files")
    ap.add_argument("--files", nargs="*", help="file names in draft2020-12/")
    ap.add_argument("--compile-timeout", type=float, default=60.0, metavar="S",
                    help="give up on our compile of a schema after S seconds (counted as refused "
                         "and listed); 0: no limit (default 60)")
    args = ap.parse_args(argv)

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from decoding.hf import compile_for_tokenizer, vocabulary_for
    from decoding.models import load_test_model
    from grammars import Grammar, GrammarError, GrammarMatcher, TokenRejectedError, compile_grammar
    from grammars import compiler as grammar_compiler
    from grammars.json_schema import serialize_instance

    try:
        import llguidance
        import llguidance.hf
    except ImportError as e:
        llguidance = None
        print(f"llguidance not importable ({e}): measuring ours only", flush=True)

    model, tok = load_test_model()
    remotes = suite_remotes()
    vocab = vocabulary_for(tok, model)
    refusals = (GrammarError, RecursionError, ValueError, TypeError, KeyError)

    # Warm-up, not timed: Numba kernels, our token trie (from the normal disk cache), llguidance.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warm = GrammarMatcher(compile_for_tokenizer(Grammar.from_json_schema({"type": "integer"}),
                                                    tok, model=model))
    for tid in tok.encode("12", add_special_tokens=False):
        warm.advance(tid)
    warm.is_accepting()
    lltok = None
    if llguidance is not None:
        try:
            lltok = llguidance.hf.from_tokenizer(tok)
            warm_grammar = llguidance.LLMatcher.grammar_from_json_schema({"type": "integer"})
            warm_ll = llguidance.LLMatcher(lltok, warm_grammar, log_level=0)
            warm_ll.consume_tokens(tok.encode("12", add_special_tokens=False))
        except Exception as e:  # noqa: BLE001 - a broken peer must not stop our own numbers
            lltok = None
            print(f"llguidance unusable ({type(e).__name__}: {e}): measuring ours only", flush=True)

    limit = args.compile_timeout if args.compile_timeout > 0 and hasattr(signal, "setitimer") else 0

    def on_alarm(signum, frame):
        raise CompileTimeout

    def compile_ours(schema):
        """(seconds, matcher ready for the first token) for a real, uncached compile."""
        memo = getattr(grammar_compiler, "_memory_cache", None)
        if memo is not None:
            memo.clear()
        os.environ["GUIDED_DECODING_CACHE"] = tempfile.mkdtemp(dir=scratch)
        previous = signal.signal(signal.SIGALRM, on_alarm) if limit else None
        t0 = time.perf_counter()
        try:
            if limit:
                signal.setitimer(signal.ITIMER_REAL, limit)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                m = GrammarMatcher(compile_grammar(Grammar.from_json_schema(schema, resources=remotes), vocab,
                                                   use_disk_cache=False))
        finally:
            if limit:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous)
        return time.perf_counter() - t0, m

    def compile_llg(schema):
        """(seconds, matcher) or None when llguidance refuses the schema."""
        t0 = time.perf_counter()
        try:
            m = llguidance.LLMatcher(lltok, llguidance.LLMatcher.grammar_from_json_schema(schema),
                                     log_level=0)
        except Exception:  # noqa: BLE001 - invalid grammar raised instead of an error state
            return None
        dt = time.perf_counter() - t0
        return None if m.is_error() else (dt, m)

    saved_cache_env = os.environ.get("GUIDED_DECODING_CACHE")
    scratch_dir = tempfile.TemporaryDirectory(prefix="json-suite-cache-")
    scratch = scratch_dir.name
    # Warm-up through the uncached path too: lark's own grammar parser, first-use code paths.
    for warm_schema in ({"type": "integer"}, {"properties": {"a": {"type": "string"}}}):
        compile_ours(warm_schema)

    folder = suite_dir()
    files = sorted(folder.glob("*.json"))
    if args.files:
        files = [folder / f for f in args.files]
    elif args.quick:
        files = [folder / f for f in QUICK]
    ll_on = lltok is not None
    totals = dict.fromkeys(KEYS, 0)
    ll_totals = dict.fromkeys(KEYS, 0)
    times: list[tuple[float | None, float | None]] = []  # (ours, llguidance) per schema
    timed_out: list[str] = []  # our compiles stopped at --compile-timeout
    head = f"{'pass':>5} {'FP':>4} {'FN':>4} {'ref':>4} {'unser':>5}"
    print(f"{'':32} {'ours':^25} | {'llguidance':^25}")
    print(f"{'file':32} {head} | {head} {'total':>5}")
    with scratch_dir:
        for f in files:
            row = dict.fromkeys(KEYS, 0)
            ll_row = dict.fromkeys(KEYS, 0)
            for index, group in enumerate(json.loads(f.read_text())):
                schema, tests = group["schema"], group["tests"]
                row["total"] += len(tests)
                ll_row["total"] += len(tests)
                try:
                    t_ours, ours = compile_ours(schema)
                except (CompileTimeout, *refusals) as e:
                    t_ours, ours = None, None
                    row["refused"] += len(tests)
                    if isinstance(e, CompileTimeout):
                        timed_out.append(f"{f.name} #{index} ({group['description']})")
                ll = compile_llg(schema) if ll_on else None
                t_ll, ll_matcher = ll if ll else (None, None)
                if ll_on and ll is None:
                    ll_row["refused"] += len(tests)
                times.append((t_ours, t_ll))
                for t in tests if ours is not None or ll_matcher is not None else ():
                    try:
                        text = serialize_instance(schema, t["data"], resources=remotes)
                    except Exception:  # noqa: BLE001
                        text = None
                    if ours is not None:
                        if text is None:
                            row["unserializable"] += 1
                        else:
                            ok = False
                            for spelled in key_orders(text):
                                m = GrammarMatcher(ours.compiled)
                                try:
                                    for tid in tok.encode(spelled, add_special_tokens=False):
                                        m.advance(tid)
                                    ok = m.is_accepting()
                                except TokenRejectedError:
                                    ok = False
                                if ok:
                                    break
                            classify(row, ok, t["valid"])
                    if ll_matcher is not None:
                        spellings = []
                        for value in ([text] if text is not None else []) + [t["data"]]:
                            try:
                                spelled = compact(json.loads(value) if value is text else value)
                            except (ValueError, TypeError):
                                continue
                            for variant in key_orders(spelled):
                                if variant not in spellings:
                                    spellings.append(variant)
                        if not spellings:
                            ll_row["unserializable"] += 1
                            continue
                        ok = False
                        for spelled in spellings:
                            m = ll_matcher.deep_copy()
                            ids = tok.encode(spelled, add_special_tokens=False)
                            try:
                                ok = m.consume_tokens(ids) and not m.is_error() and m.is_accepting()
                            except Exception:  # noqa: BLE001 - API-level failure: not accepted
                                ok = False
                            if ok:
                                break
                        classify(ll_row, ok, t["valid"])
            for k in KEYS:
                totals[k] += row[k]
                ll_totals[k] += ll_row[k]
            ll_cells = cells(ll_row) if ll_on else f"{'-':>5} {'-':>4} {'-':>4} {'-':>4} {'-':>5}"
            print(f"{f.name:32} {cells(row)} | {ll_cells} {row['total']:5}", flush=True)
        print(f"{'TOTAL':32} {cells(totals)} | "
              f"{cells(ll_totals) if ll_on else '(llguidance not run)'} {totals['total']:5}")
    if saved_cache_env is None:
        os.environ.pop("GUIDED_DECODING_CACHE", None)
    else:
        os.environ["GUIDED_DECODING_CACHE"] = saved_cache_env

    ours_all = [a for a, _ in times if a is not None]
    ll_all = [b for _, b in times if b is not None]
    common = [(a, b) for a, b in times if a is not None and b is not None]
    out = dict(totals)
    out["compile_p50_ms"] = percentile_ms(ours_all, 0.5)
    out["compile_p99_ms"] = percentile_ms(ours_all, 0.99)
    for k in ("passed", "false_positive", "false_negative", "refused"):
        out[f"llguidance_{k}"] = ll_totals[k] if ll_on else None
    out["compile_p50_ms_common"] = percentile_ms([a for a, _ in common], 0.5)
    out["compile_p99_ms_common"] = percentile_ms([a for a, _ in common], 0.99)
    out["llguidance_compile_p50_ms_common"] = percentile_ms([b for _, b in common], 0.5)
    out["llguidance_compile_p99_ms_common"] = percentile_ms([b for _, b in common], 0.99)
    out["llguidance_compile_p50_ms"] = percentile_ms(ll_all, 0.5)
    out["llguidance_compile_p99_ms"] = percentile_ms(ll_all, 0.99)
    p50, ll_p50 = out["compile_p50_ms_common"], out["llguidance_compile_p50_ms_common"]
    out["compile_ratio_p50_common"] = round(p50 / ll_p50, 2) if p50 and ll_p50 else None

    def show(label, values):
        p = [percentile_ms(values, q) for q in (0.5, 0.99)]
        return f"  {label:42} n={len(values):4}  p50 {p[0]} ms  p99 {p[1]} ms"

    print(f"compile time (schema -> matcher; {len(times)} schemas)")
    print(show("ours, all it compiled", ours_all))
    if timed_out:
        print(f"  ours: {len(timed_out)} schema(s) stopped after {limit:g} s, counted as refused "
              f"and left out of the times: {'; '.join(timed_out)}")
    if ll_on:
        print(show("llguidance, all it compiled", ll_all))
        print(show("ours, schemas both compiled", [a for a, _ in common]))
        print(show("llguidance, schemas both compiled", [b for _, b in common]))
        print(f"  ours / llguidance at p50 on common schemas: {out['compile_ratio_p50_common']}")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
