"""The general path: a grammar that LALR(1) cannot take, run as a set of LR stacks (GLR).

The tables are lark's LALR(1) analysis with every action of a conflict cell kept
(:class:`~grammars.parsing.tables.ParseTables` ``conflicts``). A matcher state is a set of
*branches*, each an LR stack with its own lexer state, lexed exactly as the LALR path lexes
(greedy, contextual: the terminals a branch's stack can shift). Where a cell holds several actions
the branch splits; equal branches merge, so an ambiguous grammar keeps a few distinct stacks, not
one per parse. The mask is the union of the branches' masks: the part inside the current lexeme
comes from the LALR kernels (``CompiledGrammar.lexeme_mask``), the rest from a walk of the token
trie below the nodes where a terminal ends.

Bounds: at most ``MAX_BRANCHES`` branches after a step and ``MAX_STACKS`` stacks explored while
one terminal is reduced; past them :class:`GrammarTooLargeError` says so (a cycle of empty rules,
or an ambiguity that grows with the text).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..errors import GrammarTooLargeError

MAX_BRANCHES = 512
MAX_STACKS = 20_000
MAX_MEMO = 200_000  # cached stacks, feeds and steps per compiled grammar before they are dropped
MAX_MASKS = 4096

Stack = tuple[int, ...]
Branch = tuple[Stack, int]  # (LR stack, lexer state)
_ACCEPTED: Stack = ()


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
        trie = compiled.trie
        self.node_byte = trie.node_byte.tolist()
        self.node_depth = trie.node_depth.tolist()
        self.subtree_end = trie.subtree_end.tolist()
        self.token_start = trie.token_start.tolist()
        self.token_ids = trie.token_ids
        self._clear()
        self.initial = GeneralState((((pt.start_state,), 0),), b"", None, 0)

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
        return (stack,) if (self.ignore >> t) & 1 else self.feed(stack, t)

    # -- the lexer, per branch (the LALR kernels' rules: see grammars.kernels) ----------------------
    def _settle(self, stack: Stack, q: int, acc: int) -> tuple[Branch, ...]:
        done = self.accept(q) & acc
        if done and not self.extend(q) & acc:
            return tuple((s, 0) for s in self._end_terminal(stack, _lowest(done)))
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
            for s2 in self._end_terminal(stack, _lowest(self.accept(q) & acc)):
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
            return any(self._accepts(s, 0) for s in self._end_terminal(stack, _lowest(done)))
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
        the state is not finished."""
        key = state.branches
        if key in self._masks:
            return self._masks[key]
        cg = self.compiled
        out = np.zeros(cg.bitmask_words, dtype=np.uint32)
        tokens: list[np.ndarray] = []
        for stack, q in state.branches:
            acc = self.acc(stack)
            words = np.frombuffer(acc.to_bytes(8 * self.n_words, "little"), dtype="<u8")
            lexeme = cg.lexeme_mask(q, words.astype(np.uint64))
            out |= lexeme.mask
            for node, q_before in zip(lexeme.boundary_node.tolist(), lexeme.boundary_q.tolist()):
                self._walk(stack, node, q_before, tokens)
        if tokens:
            ids = np.concatenate(tokens)
            np.bitwise_or.at(out, ids >> 5, np.left_shift(np.uint32(1), (ids & 31).astype(np.uint32)))
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

    def _walk(self, stack: Stack, start: int, q_before: int, tokens: list[np.ndarray]) -> None:
        """Mark the tokens of the trie subtree at ``start`` that some branch can spell, starting
        from (stack, q_before) at the node's parent."""
        depth, byte, end, tstart = self.node_depth, self.node_byte, self.subtree_end, self.token_start
        level: dict[int, tuple[Branch, ...]] = {depth[start] - 1: ((stack, q_before),)}
        i, stop = start, end[start]
        while i < stop:
            here: dict[Branch, None] = {}
            for s, q in level[depth[i] - 1]:
                here.update(dict.fromkeys(self.step(s, q, byte[i])))
            if not here:
                i = end[i]
                continue
            level[depth[i]] = tuple(here)
            if tstart[i + 1] > tstart[i]:
                tokens.append(self.token_ids[tstart[i]:tstart[i + 1]])
            i += 1


def _lowest(bits: int) -> int:
    return (bits & -bits).bit_length() - 1
