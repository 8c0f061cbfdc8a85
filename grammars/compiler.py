"""`compile_grammar`: a :class:`Grammar` and a :class:`Vocabulary` to an immutable `CompiledGrammar`.

The compiled grammar holds only arrays (lexer automaton, LALR tables, token trie, token bytes): it
is picklable, shareable across threads, requests and processes, and cached on disk under a key made
of the grammar text, the vocabulary fingerprint and the library version, so a second process skips
the work.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field, replace
from typing import NamedTuple
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

from . import kernels
from .cache import cache_root, load_pickle, save_pickle
from .errors import EmptyLanguageError
from .gcpause import paused_gc
from .grammar import Grammar
from .lexing import Lexicon
from .lexing.merge import LiteralGroups, lalr_states, literal_groups
from .parsing.tables import ParseTables
from .parsing.tables import _dense as dense_tables
from .slices import MAX_SLICE_MASKS, NON_ASCII, slice_key
from .trie import TokenTrie
from .vocabulary import Vocabulary
from .vocabulary_check import check_vocabulary_can_start

try:
    LIBRARY_VERSION = version("guided-decoding")
except PackageNotFoundError:  # running from a source tree that is not installed
    LIBRARY_VERSION = "0+unknown"

FORMAT = 1  # bump when the compiled layout changes


def _engine_digest() -> str:
    """A hash of the engine's own source: a cached compiled grammar from other code is not used."""
    h = hashlib.sha256(f"{FORMAT}\x00{LIBRARY_VERSION}".encode())
    for path in sorted(Path(__file__).parent.rglob("*.py")):
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


ENGINE_DIGEST = _engine_digest()
MAX_LEXEME_MASKS = 4096  # cached stack-independent mask parts per compiled grammar (~6 KB each)
MAX_STATE_MASKS = 4096  # cached whole masks per compiled grammar, by matcher state (~6 KB each)


_MISSING = object()


class MatchState(NamedTuple):
    """One point of a sequence: parser stack, lexer state, the bytes of the step that led here,
    the terminals the parser can shift, and the previous state (a persistent list: forking a
    matcher copies one reference)."""

    stack: np.ndarray
    q: int
    data: bytes
    acc: np.ndarray
    parent: "MatchState | None"
    depth: int


class LexemeMask(NamedTuple):
    """Tokens allowed whatever the parser stack (``mask``), and the trie nodes where the parser
    must decide, with the lexer state before each (``boundary_node``, ``boundary_q``)."""

    mask: np.ndarray
    boundary_node: np.ndarray
    boundary_q: np.ndarray


class _Scratch:
    """Per-thread work arrays for the kernels (configuration pools), grown on demand."""

    def __init__(self, n_words: int, pool: int = 256, width: int = 64):
        self.n_words = n_words
        self.resize(pool, width)

    def resize(self, pool: int, width: int) -> None:
        self.pool, self.width = pool, width
        self.base = np.zeros(pool, dtype=np.int32)
        self.length = np.zeros(pool, dtype=np.int32)
        self.suffix = np.zeros((pool, width), dtype=np.int32)
        self.acc = np.zeros((pool, self.n_words), dtype=np.uint64)
        self.memo_t = np.zeros((pool, kernels.MEMO), dtype=np.int32)
        self.memo_c = np.zeros((pool, kernels.MEMO), dtype=np.int32)
        self.memo_n = np.zeros(pool, dtype=np.int32)
        self.tmp = np.zeros(width, dtype=np.int32)
        self.tmp2 = np.zeros(width, dtype=np.int32)

    def grow(self) -> None:
        if self.pool > 1 << 20:
            raise MemoryError("grammar walk needs more than a million parser configurations")
        self.resize(self.pool * 2, self.width * 2)

    def pools(self) -> tuple:
        return (self.base, self.length, self.suffix, self.acc, self.memo_t, self.memo_c,
                self.memo_n, self.tmp, self.tmp2)


@dataclass(frozen=True, eq=False)
class CompiledGrammar:
    """A grammar compiled against one vocabulary: immutable arrays, safe to share.

    Create per-sequence :class:`grammars.GrammarMatcher` objects from it.

    Example:
        >>> from grammars import Grammar, Vocabulary, compile_grammar
        >>> vocab = Vocabulary([b"yes", b"no", b"y", b"es", None], eos_token_ids=(4,))
        >>> cg = compile_grammar(Grammar.from_lark('start: "yes" | "no"'), vocab, use_disk_cache=False)
        >>> cg.vocab_size, cg.bitmask_words
        (5, 1)
    """

    grammar_text: str
    start: str
    key: str
    lexicon: Lexicon
    tables: ParseTables
    trie: TokenTrie
    eos_token_ids: np.ndarray  # int32
    vocab_size: int
    logits_width: int
    _local: threading.local = field(default_factory=threading.local, repr=False, compare=False)

    def __getstate__(self):
        state = dict(self.__dict__)
        for transient in ("_local", "_lexeme_masks", "_state_masks", "_initial_state"):
            state.pop(transient, None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        object.__setattr__(self, "_local", threading.local())

    @property
    def bitmask_words(self) -> int:
        """int32 words in one row of the allowed-token bitmask (``ceil(logits_width / 32)``)."""
        return (self.logits_width + 31) // 32

    @property
    def terminal_names(self) -> tuple[str, ...]:
        return self.lexicon.names

    def token_bytes(self, token_id: int) -> bytes | None:
        """The bytes of a token, or None for a token no grammar may produce."""
        return self.trie.token_bytes(token_id)

    @property
    def lexer_args(self) -> tuple:
        """The kernels' fixed lexer and parser arguments, in their order."""
        lx, pt = self.lexicon, self.tables
        return (lx.transitions, lx.live, lx.accept, lx.extend, pt.action, pt.rule_len,
                pt.rule_lhs, pt.end_state, lx.ignore, len(lx.names))

    @property
    def initial_state(self) -> "MatchState":
        """The state before any token."""
        state = self.__dict__.get("_initial_state")
        if state is None:
            root = MatchState(np.array([self.tables.start_state], dtype=np.int32), 0, b"", None,
                              None, 0)
            state = self.step(root, b"")
            state = state._replace(parent=None, depth=0)
            self.__dict__["_initial_state"] = state
        return state

    def step(self, state: "MatchState", data: bytes) -> "MatchState | None":
        """The state after ``data`` (its parent is ``state``), or None if a byte is not allowed."""
        arr = np.frombuffer(data, dtype=np.uint8)
        stack = state.stack
        while True:
            scratch = self.scratch()
            new_stack = np.empty(len(stack) + scratch.width, dtype=np.int32)
            acc = np.empty(self.lexicon.n_words, dtype=np.uint64)
            status, n, q2 = kernels.advance_bytes(stack, state.q, arr, *self.lexer_args,
                                                  *scratch.pools(), new_stack, acc)
            if status != kernels.OVERFLOW:
                break
            scratch.grow()
        if status != kernels.OK:
            return None
        return MatchState(new_stack[:n].copy(), int(q2), data, acc, state, state.depth + 1)

    def lexeme_mask(self, q: int, acc: np.ndarray) -> "LexemeMask":
        """The stack-independent part of the mask for lexer state q and shiftable terminals acc
        (computed on first use, then cached: at most ``MAX_LEXEME_MASKS`` entries). The tokens
        of q's slice (:mod:`grammars.slices`) come from the vocabulary's slice masks instead of
        the trie walk."""
        key = (q, acc.tobytes())
        cache = self.__dict__.setdefault("_lexeme_masks", {})
        hit = cache.get(key)
        if hit is not None:
            return hit
        lx = self.lexicon
        lo, hi, utf8 = slice_key(q, acc, lx.transitions, lx.live, lx.accept, lx.extend)
        entry = self._lexeme_walk(q, acc, lo, hi, NON_ASCII if utf8 else np.uint8(0))
        if len(cache) >= MAX_LEXEME_MASKS:
            cache.clear()
        cache[key] = entry
        return entry

    def _lexeme_walk(self, q: int, acc: np.ndarray, lo: np.uint64 = np.uint64(0),
                     hi: np.uint64 = np.uint64(0), flags: np.uint8 = np.uint8(0)) -> "LexemeMask":
        """``lexeme_mask`` uncached, skipping the slice of ASCII bytes ``lo``/``hi`` and node
        ``flags`` (see ``kernels.lexeme_walk``); the empty slice (the defaults) walks every token.
        A slice's mask is recorded on the first walk with it and kept per vocabulary (on the trie:
        at most ``MAX_SLICE_MASKS``)."""
        trie, lx = self.trie, self.lexicon
        sliced = bool(lo or hi or flags)
        slice_id = (int(lo), int(hi), int(flags))
        masks = trie.__dict__.setdefault("_slice_masks", {})
        known = masks.get(slice_id) if sliced else None
        mask = np.zeros(self.bitmask_words, dtype=np.uint32)
        size = 1024
        while True:
            nodes = np.empty(size, dtype=np.int32)
            qs = np.empty(size, dtype=np.int32)
            recorded = np.zeros(self.bitmask_words if known is None else 1, dtype=np.uint32)
            n = kernels.lexeme_walk(q, acc, trie.max_depth, trie.node_byte, trie.node_depth,
                                    trie.subtree_end, trie.token_start, trie.token_ids,
                                    lx.transitions, lx.live, lx.accept, lx.extend, lx.ignore, mask,
                                    nodes, qs, trie.node_ascii, trie.node_flags, lo, hi, flags,
                                    known is None, recorded)
            if n != kernels.OVERFLOW:
                break
            size *= 4
            mask[:] = 0
        if known is not None:
            mask |= known
        elif sliced:
            mask |= recorded
            recorded.flags.writeable = False
            if len(masks) >= MAX_SLICE_MASKS:
                masks.clear()
            masks[slice_id] = recorded
        return LexemeMask(mask, nodes[:n].copy(), qs[:n].copy())

    def state_mask(self, stack: np.ndarray, q: int, acc: np.ndarray) -> np.ndarray | None:
        """The allowed-token mask (uint32 words, read-only) of a matcher state, or None if no
        token is allowed although the state is not finished. Cached by state: a sequence stays in
        the same state for many tokens (inside a string, say), and so do concurrent requests."""
        key = (q, stack.tobytes())
        cache = self.__dict__.setdefault("_state_masks", {})
        hit = cache.get(key, _MISSING)
        if hit is not _MISSING:
            return hit
        lexeme = self.lexeme_mask(q, acc)
        trie, lx, pt = self.trie, self.lexicon, self.tables
        out = np.empty(self.bitmask_words, dtype=np.uint32)
        while True:
            np.copyto(out, lexeme.mask)
            scratch = self.scratch()
            end = kernels.fill_mask(stack, q, lexeme.boundary_node, lexeme.boundary_q,
                                    trie.max_depth, trie.node_byte, trie.node_depth,
                                    trie.subtree_end, trie.token_start, trie.token_ids,
                                    self.eos_token_ids, lx.transitions, lx.live, lx.accept,
                                    lx.extend, pt.action, pt.rule_len, pt.rule_lhs, pt.end_state,
                                    pt.end_symbol, lx.ignore, len(lx.names), *scratch.pools(), out)
            if end != kernels.OVERFLOW:
                break
            scratch.grow()
        result = out if end == 1 or out.any() else None
        if result is not None:
            result.flags.writeable = False
        if len(cache) >= MAX_STATE_MASKS:
            cache.clear()
        cache[key] = result
        return result

    def scratch(self) -> _Scratch:
        s = getattr(self._local, "scratch", None)
        if s is None:
            s = self._local.scratch = _Scratch(self.lexicon.n_words)
        return s


_memory_cache: dict[str, CompiledGrammar] = {}
_trie_cache: dict[str, TokenTrie] = {}
_lock = threading.Lock()


def compile_grammar(grammar: Grammar, vocab: Vocabulary, *, use_disk_cache: bool = True) -> CompiledGrammar:
    """Compile ``grammar`` for ``vocab`` (memoised in memory and, by default, on disk).

    Raises :class:`grammars.errors.GrammarError` subclasses for grammars that cannot be compiled,
    and :class:`EmptyLanguageError` when no string of the grammar can be produced.
    """
    key = hashlib.sha256(
        f"{ENGINE_DIGEST}\x00{grammar.digest}\x00{vocab.fingerprint}".encode()
    ).hexdigest()[:40]
    with _lock:
        hit = _memory_cache.get(key)
    if hit is not None:
        return hit
    path = cache_root() / "grammars" / f"{key}.pkl"
    compiled = load_pickle(path) if use_disk_cache else None
    if not isinstance(compiled, CompiledGrammar) or compiled.key != key:
        with paused_gc():
            compiled = _build(grammar, vocab, key, use_disk_cache)
            check_vocabulary_can_start(compiled, grammar, vocab)
        if use_disk_cache:
            save_pickle(path, compiled)
    with _lock:
        # one trie per vocabulary, also for a grammar from disk (which holds its own copy): the
        # slice masks on it are shared by every grammar of the vocabulary
        object.__setattr__(compiled, "trie", _trie_cache.setdefault(vocab.fingerprint, compiled.trie))
        _memory_cache[key] = compiled
    return compiled


def token_trie(vocab: Vocabulary, *, use_disk_cache: bool = True) -> TokenTrie:
    """The vocabulary's byte trie, built once per vocabulary (memory and disk cache)."""
    with _lock:
        hit = _trie_cache.get(vocab.fingerprint)
    if hit is not None:
        return hit
    path = cache_root() / "tries" / f"{vocab.fingerprint}-{ENGINE_DIGEST}.pkl"
    trie = load_pickle(path) if use_disk_cache else None
    if not isinstance(trie, TokenTrie):
        trie = TokenTrie.from_vocabulary(vocab)
        if use_disk_cache:
            save_pickle(path, trie)
    with _lock:
        _trie_cache[vocab.fingerprint] = trie
    return trie


def _build(grammar: Grammar, vocab: Vocabulary, key: str, use_disk_cache: bool) -> CompiledGrammar:
    parser = grammar.parser
    groups = literal_groups(parser) if grammar.indenter is None else None  # the indenter reads lark's terminals
    merged = lalr_states(groups.rules, grammar.start) if groups is not None else None
    if merged is None:
        groups = None
    lexicon = Lexicon.from_lark(parser, groups.members if groups else None)
    _check_rules_productive(grammar, lexicon, groups)
    if merged is None:
        tables = ParseTables.from_lark(parser, list(lexicon.names), grammar.start, grammar.indenter)
    else:
        nonterminals = {r.origin.name for r in groups.rules} | {grammar.start}
        tables = dense_tables(*merged, list(lexicon.names), nonterminals)
    _check_no_swallowed_terminals(grammar, lexicon, tables)
    if grammar.lexing == "all" and lexicon.shares_lexemes(tables.action):
        tables = replace(tables, shared_lexemes=True)
    return CompiledGrammar(
        grammar_text=grammar.text,
        start=grammar.start,
        key=key,
        lexicon=lexicon,
        tables=tables,
        trie=token_trie(vocab, use_disk_cache=use_disk_cache),
        eos_token_ids=np.array(vocab.eos_token_ids, dtype=np.int32),
        vocab_size=vocab.size,
        logits_width=vocab.logits_width,
    )


def _check_rules_productive(grammar: Grammar, lexicon: Lexicon, groups: LiteralGroups | None) -> None:
    """Every rule must derive some finite string, else the parser could walk into a dead end."""
    productive = {name for name, ok in zip(lexicon.names, lexicon.productive().tolist()) if ok}
    for name, members in (groups.members if groups else {}).items():
        if name in productive:
            productive.update(members)
    if grammar.indenter is not None:  # the indenter produces its %declare'd terminals
        productive |= {grammar.indenter.indent, grammar.indenter.dedent}
    rules = grammar.parser.rules
    changed = True
    while changed:
        changed = False
        for rule in rules:
            if rule.origin.name not in productive and all(
                s.name in productive for s in rule.expansion
            ):
                productive.add(rule.origin.name)
                changed = True
    dead = sorted({r.origin.name for r in rules} - productive)
    empty = [f"{t.name} {t.pattern.raw or repr(t.pattern.value)}" for t in grammar.parser.terminals
             if t.name not in productive]
    why = f" (terminal(s) {', '.join(empty)} match no text)" if empty else ""
    if grammar.start in dead:
        raise EmptyLanguageError(
            f"{grammar.source}: the grammar's language is empty{why}: rule {grammar.start!r} never "
            "derives a finite string (every alternative needs itself or another such rule)"
        )
    if dead:
        raise EmptyLanguageError(
            f"{grammar.source}: rule(s) {', '.join(repr(d.lstrip('_')) for d in dead)} never derive "
            f"a finite string{why}; give each a non-recursive alternative"
        )


def _check_no_swallowed_terminals(grammar: Grammar, lexicon: Lexicon, tables: ParseTables) -> None:
    """Refuse a grammar with a dead end that greedy lexing creates: a parser state, reached by
    shifting terminal A, where every terminal that may come next starts with a byte that extends A
    (``start: NAME NAME`` with ``NAME: /[a-z]+/``) and no %ignore'd separator can come between."""
    n = len(lexicon.names)
    ignored = [t for t in range(n) if lexicon.is_ignored(t)]
    action = tables.action
    allowed = action[:, :n] != -1  # shift or reduce on each terminal
    # Per terminal: can a separator end it; per state: the union of the first bytes of the
    # terminals allowed there, and whether one of them starts with no byte. Set-wise, not pairwise.
    separated = np.array(
        [lexicon.is_ignored(a) or any(not lexicon.swallows(a, i) for i in ignored) for a in range(n)],
        dtype=bool,
    )
    rows, cols = np.nonzero(allowed)
    next_first = np.zeros((action.shape[0], 4), dtype=np.uint64)
    np.bitwise_or.at(next_first, rows, lexicon.first_bytes[cols])
    next_blank = np.zeros(action.shape[0], dtype=bool)
    next_blank[rows[~lexicon.first_bytes[cols].any(axis=1)]] = True
    states, shifted = np.nonzero(action[:, :n] >= 0)
    targets = action[states, shifted]
    dead_end = ~separated[shifted] & (action[targets, tables.end_symbol] == -1)
    dead_end &= allowed[targets].any(axis=1) & ~next_blank[targets]
    dead_end &= ~(next_first[targets] & ~lexicon.extends_all[shifted]).any(axis=1)
    for a, target in zip(shifted[dead_end].tolist(), targets[dead_end].tolist()):
        following = np.flatnonzero(allowed[target]).tolist()
        names = ", ".join(lexicon.names[t] for t in following[:5])
        if len(following) > 5:
            names += f" (and {len(following) - 5} more)"
        raise EmptyLanguageError(
            f"{grammar.source}: after terminal {lexicon.names[a]} only {names} may come, "
            f"but lexing is greedy: {lexicon.names[a]} would swallow their first "
            "character. Put a separator between them (a literal, or an %ignore'd "
            f"terminal such as whitespace) or make {lexicon.names[a]} unable to continue "
            "with their first character"
        )
