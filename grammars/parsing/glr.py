"""The general path: a grammar that LALR(1) cannot take, run as a set of LR stacks (GLR).

The tables are lark's LALR(1) analysis with every action of a conflict cell kept
(:class:`~grammars.parsing.tables.ParseTables` ``conflicts``). A matcher state is a set of
*branches*, each an LR stack with its own lexer state, lexed exactly as the LALR path lexes
(greedy, contextual: the terminals a branch's stack can shift), except that with shared lexemes
(``Grammar.lexing == "all"``) a lexeme that several terminals match is read as each of them.
Where a cell holds several actions, or a lexeme has several readings, the branch splits; equal
branches merge, so an ambiguous grammar keeps a few distinct stacks, not one per parse. The mask
is the union of the branches' masks: the part inside the current lexeme comes from the LALR
kernels (``CompiledGrammar.lexeme_mask``), the rest from a walk of the token trie below the nodes
where a terminal ends.

Bounds: at most ``MAX_BRANCHES`` branches after a step and ``MAX_STACKS`` stacks explored while
one terminal is reduced; past them :class:`GrammarTooLargeError` says so (a cycle of empty rules,
or an ambiguity that grows with the text).
"""

from __future__ import annotations

import itertools
import threading
from typing import NamedTuple

import numpy as np

from ..errors import GrammarTooLargeError
from ..lexing.lexicon import several_bits
from .glr_walk import (END, END_BEFORE, GO_SETTLE, IGNORED_END, OVERFLOW, SETTLE_AT, classify,
                       mark_tokens, subtree_tokens, subtree_walk)

MAX_BRANCHES = 512
MAX_STACKS = 20_000
MAX_MEMO = 200_000  # cached stacks, feeds and steps per compiled grammar before they are dropped
MAX_MASKS = 4096
MAX_WALKS = 20_000  # memoised subtree walks (see GeneralParser._subtree)

Stack = tuple[int, ...]
Branch = tuple[Stack, int]  # (LR stack, lexer state)
_ACCEPTED: Stack = ()
_ROOT = np.zeros(1, dtype=np.int32)  # the trie's root node, where a mask's walks start
_ROOT_WHERE = ("root",)


class _Walk(NamedTuple):
    """A memoised stack-independent walk (see ``GeneralParser._walk``): the mask words it sets
    and its boundaries, grouped by (kind, terminal that ends, column), each with its nodes; per
    group, once needed, the tokens at and below its nodes (``GeneralParser._potential``)."""

    serial: int
    words: np.ndarray
    values: np.ndarray
    groups: tuple[tuple[int, int, int, np.ndarray], ...]
    potentials: list


class GeneralState(NamedTuple):
    """One point of a sequence on the general path: the branches, the bytes of the step that led
    here and the previous state (the same shape of history as the LALR path's ``MatchState``)."""

    branches: tuple[Branch, ...]
    data: bytes
    parent: "GeneralState | None"
    depth: int


def _bits(words: np.ndarray) -> int:
    return int.from_bytes(words.astype("<u8").tobytes(), "little")


class GeneralParser:
    """The general path over one compiled grammar (one per grammar: see
    :func:`grammars.parsing.general.general_parser`).

    Example:
        >>> from grammars import Grammar, compile_grammar, byte_vocabulary
        >>> g = Grammar.from_lark('start: e\\ne: e "+" e | "1"')
        >>> from grammars.parsing.general import general_parser
        >>> p = general_parser(compile_grammar(g, byte_vocabulary(), use_disk_cache=False))
        >>> state = p.advance(p.initial, b"1+1+1")
        >>> p.is_accepting(state), p.advance(state, b"++") is None
        (True, True)
    """

    def __init__(self, compiled) -> None:
        lx, pt = compiled.lexicon, compiled.tables
        self.compiled = compiled
        self.n_terms = len(lx.names)
        self.n_words = lx.n_words
        self.ignore = _bits(lx.ignore)
        self.action = pt.action.tolist()  # rows of Python ints: read per terminal, in Python
        self.conflicts = pt.conflicts
        self.rule_len = pt.rule_len.tolist()
        self.rule_lhs = pt.rule_lhs.tolist()
        self.end_state, self.end_symbol = pt.end_state, pt.end_symbol
        self.transitions = lx.transitions
        self._rows: dict[int, list[int]] = {}
        self._by_state: dict[int, tuple[int, tuple[tuple[int, int], ...]]] = {}
        self._live, self._accept, self._extend = {}, {}, {}
        self.trie = compiled.trie
        self._serials = itertools.count(1)  # walk ids (next() is atomic: threads may share)
        self.tab_len = 8  # read only where a newline terminal is live: with an indenter
        # per lexer state: whether an indenter's newline terminal is live (none here)
        self._newline_live = np.zeros(lx.transitions.shape[0], dtype=np.bool_)
        self._local = threading.local()  # per-thread walk buffers (see _buffers)
        self._walks: dict = {}
        self._acc_classes: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}
        self._clear()
        self.initial = GeneralState((((pt.start_state,), 0),), b"", None, 0)
        self.shared = pt.shared_lexemes  # a lexeme several terminals match: each read (_reading)

    def _clear(self) -> None:
        self._feeds: dict[tuple[Stack, int], tuple[Stack, ...]] = {}
        self._acc: dict[Stack, int] = {}
        self._steps: dict[tuple[Stack, int, int], tuple[Branch, ...]] = {}
        self._masks: dict[tuple[Branch, ...], np.ndarray | None] = {}

    # -- lexer rows as Python ints, made on first use -------------------------------------------
    def _row(self, q: int) -> list[int]:
        row = self._rows.get(q)
        if row is None:
            row = self._rows[q] = self.transitions[q].tolist()
        return row

    def _set(self, cache: dict, table: np.ndarray, q: int) -> int:
        x = cache.get(q)
        if x is None:
            x = cache[q] = _bits(table[q])
        return x

    def live(self, q: int) -> int:
        return self._set(self._live, self.compiled.lexicon.live, q)

    def accept(self, q: int) -> int:
        return self._set(self._accept, self.compiled.lexicon.accept, q)

    def extend(self, q: int) -> int:
        return self._set(self._extend, self.compiled.lexicon.extend, q)

    # -- the parser ------------------------------------------------------------------------------
    def _actions(self, state: int, sym: int) -> tuple[int, ...]:
        many = self.conflicts.get((state, sym))
        return many if many is not None else (self.action[state][sym],)

    def feed(self, stack: Stack, sym: int) -> tuple[Stack, ...]:
        """The stacks after terminal ``sym`` (or ``$END``: then ``(_ACCEPTED,)`` if accepted) is
        fed to ``stack``, every reduction sequence the tables allow followed."""
        key = (stack, sym)
        hit = self._feeds.get(key)
        if hit is not None:
            return hit
        out: list[Stack] = []
        seen = {stack}
        work = [stack]
        while work:
            st = work.pop()
            for a in self._actions(st[-1], sym):
                if a >= 0:
                    out.append(st + (a,))
                elif a != -1:
                    r = -2 - a
                    base = st[: len(st) - self.rule_len[r]]
                    goto = self.action[base[-1]][self.rule_lhs[r]]
                    if goto == self.end_state:
                        out.append(_ACCEPTED)
                        continue
                    nxt = base + (goto,)
                    if nxt not in seen:
                        seen.add(nxt)
                        work.append(nxt)
                        if len(seen) > MAX_STACKS:
                            raise GrammarTooLargeError(
                                f"the general parser explored more than {MAX_STACKS} stacks while "
                                f"reducing one terminal; the grammar has a cycle of empty rules "
                                "or an ambiguity that grows without bound")
        result = tuple(dict.fromkeys(out))
        self._remember(self._feeds, key, result)
        return result

    def acc(self, stack: Stack) -> int:
        """The terminals (a bitset) ``stack`` can shift, %ignore'd ones included: those the top
        state shifts, and per reduction of the top state, those of its terminals that the reduced
        stack takes (one reduction per rule, not one feed per terminal)."""
        return self._lr_acc(stack, 0)

    def _lr_acc(self, stack: Stack, _depth: int) -> int:
        hit = self._acc.get(stack)
        if hit is not None:
            return hit
        if _depth > MAX_STACKS:
            raise GrammarTooLargeError(
                f"the general parser followed more than {MAX_STACKS} reductions in a row; the "
                "grammar has a cycle of empty rules")
        shifts, reduces = self._state_actions(stack[-1])
        bits = self.ignore | shifts
        for r, terms in reduces:
            if not terms & ~bits:
                continue
            base = stack[: len(stack) - self.rule_len[r]]
            goto = self.action[base[-1]][self.rule_lhs[r]]
            if goto >= 0 and goto != self.end_state:
                bits |= self._lr_acc(base + (goto,), _depth + 1) & terms
        self._remember(self._acc, stack, bits)
        return bits

    def _state_actions(self, state: int) -> tuple[int, tuple[tuple[int, int], ...]]:
        """The terminals LR state ``state`` shifts (a bitset), and per rule it reduces, the
        terminals it reduces it on."""
        hit = self._by_state.get(state)
        if hit is not None:
            return hit
        shifts, reduces = 0, {}
        for t in range(self.n_terms):
            for a in self._actions(state, t):
                if a >= 0:
                    shifts |= 1 << t
                elif a != -1:
                    reduces[-2 - a] = reduces.get(-2 - a, 0) | 1 << t
        hit = self._by_state[state] = (shifts, tuple(reduces.items()))
        return hit

    def _remember(self, cache: dict, key, value) -> None:
        if len(cache) >= MAX_MEMO:
            self._clear()
        cache[key] = value

    def _end_terminal(self, stack: Stack, t: int) -> tuple[Stack, ...]:
        """The stacks after the lexeme read as ``t`` ends: a terminal, or ``n_terms + q`` for
        every terminal complete in lexer state q that ``stack`` can take (see _reading)."""
        if t >= self.n_terms:
            done = self.accept(t - self.n_terms) & self.acc(stack)
            return tuple(dict.fromkeys(s for u in _members(done) for s in self.feed(stack, u)))
        return (stack,) if (self.ignore >> t) & 1 else self.feed(stack, t)

    def _reading(self, q: int, done: int) -> int:
        """What the complete lexeme in lexer state q, which the terminals ``done`` (not empty:
        ``accept(q) & acc(stack)``) match, is read as: the first of them in priority order or,
        with shared lexemes and several of them (none %ignore'd), ``n_terms + q``: each of them."""
        low = done & -done
        if not self.shared or done == low or done & self.ignore:
            return low.bit_length() - 1
        return self.n_terms + q

    # -- the lexer, per branch (the LALR kernels' rules: see grammars.kernels) ----------------------
    def _settle(self, stack: Stack, q: int, acc: int) -> tuple[Branch, ...]:
        done = self.accept(q) & acc
        if done and not self.extend(q) & acc:
            return tuple((s, 0) for s in self._end_terminal(stack, self._reading(q, done)))
        return ((stack, q),)

    def step(self, stack: Stack, q: int, byte: int) -> tuple[Branch, ...]:
        """The branches after one byte."""
        key = (stack, q, byte)
        hit = self._steps.get(key)
        if hit is not None:
            return hit
        acc = self.acc(stack)
        q2 = self._row(q)[byte]
        if q2 >= 0 and self.live(q2) & acc:
            out = self._settle(self._lexing(stack, q, q2, byte), q2, acc)
        elif q == 0 or not self.accept(q) & acc:
            out = ()
        else:
            out = ()
            q2 = self._row(0)[byte]
            for s2 in self._end_terminal(stack, self._reading(q, self.accept(q) & acc)):
                acc2 = self.acc(s2)
                if q2 >= 0 and self.live(q2) & acc2:
                    out += self._settle(self._lexing(s2, 0, q2, byte), q2, acc2)
        self._remember(self._steps, key, out)
        return out

    def _accepts(self, stack: Stack, q: int) -> bool:
        if q != 0:
            done = self.accept(q) & self.acc(stack)
            if not done:
                return False
            return any(self._accepts(s, 0) for s in self._end_terminal(stack, self._reading(q, done)))
        return self._at_end(stack)

    def _at_end(self, stack: Stack) -> bool:
        """Whether the text may end here, between lexemes."""
        return _ACCEPTED in self.feed(stack, self.end_symbol)

    def _lexing(self, stack: Stack, q: int, q2: int, byte: int) -> Stack:
        """The stack once ``byte`` joined the lexeme (lexer state ``q`` to ``q2``): a hook for
        post-lexers that watch the lexeme's text (:mod:`grammars.parsing.indented`)."""
        return stack

    # -- matcher operations ------------------------------------------------------------------------
    def advance(self, state: GeneralState, data: bytes) -> GeneralState | None:
        """The state after ``data``, or None if a byte is not allowed."""
        branches = state.branches
        for byte in data:
            nxt: dict[Branch, None] = {}
            for stack, q in branches:
                nxt.update(dict.fromkeys(self.step(stack, q, byte)))
            if not nxt:
                return None
            if len(nxt) > MAX_BRANCHES:
                raise GrammarTooLargeError(
                    f"the general parser holds more than {MAX_BRANCHES} parser stacks after "
                    f"{state.depth + 1} steps; the grammar is too ambiguous to follow")
            branches = tuple(nxt)
        return GeneralState(branches, data, state, state.depth + 1)

    def is_accepting(self, state: GeneralState) -> bool:
        return any(self._accepts(stack, q) for stack, q in state.branches)

    def allowed_bytes(self, state: GeneralState) -> list[int]:
        return [b for b in range(256) if any(self.step(s, q, b) for s, q in state.branches)]

    def mask(self, state: GeneralState) -> np.ndarray | None:
        """The allowed-token mask (uint32 words, read-only), or None if nothing is allowed although
        the state is not finished.

        The walk of the token trie is stack-independent up to the nodes where a terminal the
        parser must take ends (:func:`~grammars.parsing.glr_walk.subtree_walk`); such walks are
        memoised by where they start, the lexer state, the column and the shiftable terminals,
        so branches and states share them. Their boundaries are grouped by the terminal that
        ends there: per branch and group the terminal is fed once, and the walk goes on from
        every group's nodes for each stack the feed yields."""
        key = state.branches
        if key in self._masks:
            return self._masks[key]
        cg = self.compiled
        out = np.zeros(cg.bitmask_words, dtype=np.uint32)
        seen: set = set()
        work: list[tuple[Stack, _Walk]] = []
        many = len(key) > 1
        for stack, q in key:
            walk = self._walk(_ROOT_WHERE, _ROOT, SETTLE_AT, q, self._col(stack), self.acc(stack))
            out[walk.words] |= walk.values
            work.append((stack, walk))
        while work:
            stack, walk = work.pop()
            for g, (kind, t, col, nodes) in enumerate(walk.groups):
                item = (stack, walk.serial, g)
                if item in seen:
                    continue
                seen.add(item)
                if many:  # skip a group whose every token below is already allowed
                    words, values = self._potential(walk, g)
                    if np.array_equal(out[words] & values, values):
                        continue
                stacks = self._end_terminal(self._at_col(stack, col), t)
                if stacks and kind == SETTLE_AT:
                    mark_tokens(out, nodes, self.trie.token_start, self.trie.token_ids)
                for s2 in stacks:
                    child = self._walk((walk.serial, g), nodes, kind, 0, self._col(s2), self.acc(s2))
                    out[child.words] |= child.values
                    if child.groups:
                        work.append((s2, child))
        finished = self.is_accepting(state)
        if finished:
            for tok in cg.eos_token_ids:
                out[tok >> 5] |= np.uint32(1 << (int(tok) & 31))
        result = out if finished or out.any() else None
        if result is not None:
            result.flags.writeable = False
        if len(self._masks) >= MAX_MASKS:
            self._masks.clear()
        self._masks[key] = result
        return result

    def _walk(self, where: tuple, nodes: np.ndarray, kind: int, q: int, col: int, acc: int) -> "_Walk":
        """The stack-independent walk from ``nodes`` (``where`` names them: the root, or a group
        of an earlier walk), memoised: from each node itself after a terminal ended before it
        (``END_BEFORE``), else below it, from lexer state ``q``."""
        key = (where, q, col, acc)
        hit = self._walks.get(key)
        if hit is not None:
            return hit
        if where == _ROOT_WHERE:
            hit = self._root_walk(q, col, acc)
        else:
            hit = self._kernel_walk(nodes, kind, q, col, acc)
        if len(self._walks) >= MAX_WALKS:
            self._walks.clear()
        self._walks[key] = hit
        return hit

    def _buffers(self) -> tuple[np.ndarray, np.ndarray]:
        """This thread's mask words for a walk (zero between walks) and its list of touched words."""
        buffers = getattr(self._local, "buffers", None)
        if buffers is None:
            words = self.compiled.bitmask_words
            buffers = self._local.buffers = (np.zeros(words, dtype=np.uint32),
                                             np.empty(words, dtype=np.int32))
        return buffers

    def _potential(self, walk: "_Walk", g: int) -> tuple[np.ndarray, np.ndarray]:
        """The tokens at and below group g's nodes (mask words and their values): the most that
        following the group from any branch can allow. Kept on the walk."""
        hit = walk.potentials[g]
        if hit is None:
            out, touched = self._buffers()
            nt = subtree_tokens(walk.groups[g][3], self.trie.subtree_end, self.trie.token_start,
                                self.trie.token_ids, out, touched)
            words = touched[:nt].copy()
            hit = walk.potentials[g] = (words, out[words])
            out[words] = 0
        return hit

    def _root_walk(self, q: int, col: int, acc: int) -> "_Walk":
        """The walk from the trie's root: the LALR path's stack-independent part of the mask
        (``CompiledGrammar.lexeme_mask``, cached there), its boundaries classified here."""
        cont, ends, term, words = self._classes(acc)
        lexeme = self.compiled.lexeme_mask(q, words)
        nodes, qb = lexeme.boundary_node, lexeme.boundary_q
        byte = self.trie.node_byte[nodes]
        transitions = self.compiled.lexicon.transitions
        q2, r0 = transitions[qb, byte], transitions[0, byte]
        settles = (q2 >= 0) & (cont[np.maximum(q2, 0)] == GO_SETTLE)
        after = (~settles) & (r0 >= 0)
        end = after & (ends[qb] == END)
        ignored = after & (ends[qb] == IGNORED_END) & (cont[np.maximum(r0, 0)] == GO_SETTLE)
        kinds = np.where(end, END_BEFORE, SETTLE_AT)
        terms = np.where(settles, term[np.maximum(q2, 0)], np.where(end, term[qb], term[np.maximum(r0, 0)]))
        keep = settles | end | ignored
        return self._new_walk(slice(None), lexeme.mask, nodes[keep], kinds[keep], terms[keep],
                              np.zeros(int(keep.sum()), dtype=np.int32))

    def _kernel_walk(self, nodes: np.ndarray, kind: int, q: int, col: int, acc: int) -> "_Walk":
        cont, ends, term, _ = self._classes(acc)
        trie, (out, touched) = self.trie, self._buffers()
        size = 256
        while True:
            b_node, b_kind, b_term, b_col = (np.empty(size, dtype=np.int32) for _ in range(4))
            n, nt = subtree_walk(nodes, kind == END_BEFORE, q, col, cont, ends, term,
                                 self._newline_live, self.tab_len, trie.max_depth, trie.node_byte,
                                 trie.node_depth, trie.subtree_end, trie.token_start,
                                 trie.token_ids, self.compiled.lexicon.transitions, out, touched,
                                 b_node, b_kind, b_term, b_col)
            words = touched[:nt].copy()
            values = out[words]
            out[words] = 0
            if n != OVERFLOW:
                break
            size *= 4
        return self._new_walk(words, values, b_node[:n], b_kind[:n], b_term[:n], b_col[:n])

    def _new_walk(self, words, values: np.ndarray, nodes: np.ndarray, kinds: np.ndarray,
                  terms: np.ndarray, cols: np.ndarray) -> "_Walk":
        """A walk's result, its boundaries grouped by (kind, terminal, column)."""
        groups = []
        if len(nodes):  # sorted by key in numpy
            keys = np.stack([kinds, terms, cols]).astype(np.int64)
            order = np.lexsort(keys[::-1])
            keys, nodes = keys[:, order], nodes[order].astype(np.int32)
            cuts = np.flatnonzero((keys[:, 1:] != keys[:, :-1]).any(axis=0)) + 1
            for a, b in zip([0, *cuts.tolist()], [*cuts.tolist(), len(nodes)]):
                k, t, c = keys[:, a].tolist()
                groups.append((k, t, c, nodes[a:b]))
        return _Walk(next(self._serials), words, values, tuple(groups), [None] * len(groups))

    def _classes(self, acc: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per lexer state, what a byte does for the shiftable terminals ``acc``
        (:func:`~grammars.parsing.glr_walk.classify`), and ``acc`` as the kernels' uint64 words."""
        hit = self._acc_classes.get(acc)
        if hit is None:
            lx = self.compiled.lexicon
            words = np.frombuffer(acc.to_bytes(8 * self.n_words, "little"), dtype="<u8").astype(np.uint64)
            n = lx.transitions.shape[0]
            hit = (np.empty(n, dtype=np.int8), np.empty(n, dtype=np.int8), np.empty(n, dtype=np.int32))
            classify(words, lx.live, lx.accept, lx.extend, lx.ignore, *hit)
            if self.shared:  # a lexeme several terminals match is read as each (_reading)
                done = lx.accept & words
                qs = np.flatnonzero(several_bits(done) & (done & lx.ignore == 0).all(axis=1))
                hit[2][qs] = self.n_terms + qs
            hit += (words,)
            if len(self._acc_classes) >= MAX_WALKS:
                self._acc_classes.clear()
            self._acc_classes[acc] = hit
        return hit

    def _col(self, stack: Stack) -> int:
        """The column of a branch's newline lexeme (an indenter's; 0 here)."""
        return 0

    def _at_col(self, stack: Stack, col: int) -> Stack:
        """The branch's stack with the column ``col`` (what a walk inside a lexeme changes)."""
        return stack


def _members(bits: int):
    """The terminals of a bitset, lowest first."""
    while bits:
        low = bits & -bits
        yield low.bit_length() - 1
        bits ^= low
