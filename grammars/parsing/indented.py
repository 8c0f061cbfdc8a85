"""The general path with lark's ``Indenter`` between lexer and parser (Python-style indentation).

A branch's "stack" is ``(LR stack, open indentation levels, bracket depth, column)``: the column
counts the spaces and tabs after the last ``\\n`` of the current lexeme while it may still be the
newline terminal. When a newline lexeme ends outside brackets the parser is fed the newline, then
an indent (a deeper column) or one dedent per level left; inside brackets the newline is dropped;
the end of the text feeds a dedent per open level, then ``$END`` (:mod:`grammars.parsing.indentation`).

The mask stays exact because a newline lexeme can always go on with ``\\n`` and any number of
spaces (checked when the parser is made): while it lasts every column is still reachable, so it
is allowed wherever some column lets the parser go on.
"""

from __future__ import annotations

import numpy as np

from ..errors import GrammarError
from .glr import _ACCEPTED, _ROOT, GeneralParser, GeneralState, Stack
from .glr_walk import NO_LINE as _NO_LINE
from .glr_walk import SETTLE_AT

_NL, _SPACE, _TAB = 10, 32, 9


class IndentedParser(GeneralParser):
    """:class:`GeneralParser` with an indenter (made by ``general_parser`` for tables that name one).

    Example:
        >>> from grammars import Grammar, compile_grammar, byte_vocabulary
        >>> g = Grammar.from_lark('start: (_NEWLINE | "x" _NEWLINE | "if:" _NEWLINE _INDENT start _DEDENT)*\\n'
        ...     '_NEWLINE: /(\\\\n[ ]*)+/\\n%declare _INDENT _DEDENT', indenter="python")
        >>> from grammars.parsing.general import general_parser
        >>> p = general_parser(compile_grammar(g, byte_vocabulary(), use_disk_cache=False))
        >>> p.is_accepting(p.advance(p.initial, b"if:\\n  x\\nx\\n")), p.advance(p.initial, b"if:\\nx") is None
        (True, True)
    """

    def __init__(self, compiled) -> None:
        super().__init__(compiled)
        ind = compiled.tables.indentation
        names = list(compiled.lexicon.names)
        symbols = {n: i for i, n in enumerate(compiled.tables.symbol_names)}
        if ind.newline not in names:
            raise GrammarError(f"the indenter's newline terminal {ind.newline} is not in the grammar")
        self.newline = names.index(ind.newline)
        self.indent, self.dedent = symbols.get(ind.indent), symbols.get(ind.dedent)
        self.opens = {names.index(n) for n in ind.open_brackets if n in names}
        self.closes = {names.index(n) for n in ind.close_brackets if n in names}
        self.tab_len = ind.tab_len
        live = compiled.lexicon.live
        self._newline_live = ((live[:, self.newline // 64] >> np.uint64(self.newline % 64)) & np.uint64(1)).astype(np.bool_)
        self._check_newline_reopens(ind.newline)
        self._branch_acc: dict = {}
        start = (compiled.tables.start_state,)
        self.initial = GeneralState((((start, (0,), 0, 0), 0),), b"", None, 0)

    def _check_newline_reopens(self, name: str) -> None:
        """Refuse a newline terminal whose complete matches cannot always go on with ``\\n`` and
        spaces: the mask inside it assumes every column is still reachable (a prefix that is no
        match yet, e.g. inside a comment's UTF-8 character, reaches one first)."""
        lx, bit = self.compiled.lexicon, self.newline
        has = lambda table, q: bool((int(table[q, bit // 64]) >> (bit % 64)) & 1)  # noqa: E731
        for q in range(lx.transitions.shape[0]):
            if not has(lx.accept, q):
                continue
            seen, r = set(), int(lx.transitions[q, _NL])
            while r >= 0 and r not in seen and has(lx.accept, r):
                seen.add(r)
                r = int(lx.transitions[r, _SPACE])
            if r < 0 or r not in seen:
                raise GrammarError(
                    f"the indenter's newline terminal {name} must allow a new line and any number "
                    "of spaces after any of its prefixes (as /(\\r?\\n[\\t ]*)+/ does)")

    def _clear(self) -> None:
        super()._clear()
        self._branch_acc = {}

    def _feed_all(self, stacks: tuple[Stack, ...], sym: int | None) -> tuple[Stack, ...]:
        if sym is None:
            return ()
        out: dict[Stack, None] = {}
        for s in stacks:
            out.update(dict.fromkeys(self.feed(s, sym)))
        return tuple(out)

    def _newline(self, lr: Stack, levels: tuple[int, ...], col: int) -> tuple:
        if col == _NO_LINE:
            return ()  # lark's Indenter reads the text after the last \n: it has none (IndexError)
        stacks = self.feed(lr, self.newline)
        if col > levels[-1]:
            stacks, levels = self._feed_all(stacks, self.indent), levels + (col,)
        else:
            while col < levels[-1]:
                stacks, levels = self._feed_all(stacks, self.dedent), levels[:-1]
            if col != levels[-1]:
                return ()  # lark's DedentError: a column that is no open level
        return tuple((s, levels, 0, 0) for s in stacks)

    def _end_terminal(self, stack, t: int) -> tuple:
        lr, levels, depth, col = stack
        if (self.ignore >> t) & 1 or (t == self.newline and depth):
            return ((lr, levels, depth, 0),)
        if t == self.newline:
            return self._newline(lr, levels, col)
        if t in self.closes:
            if not depth:
                return ()
            depth -= 1
        elif t in self.opens:
            depth += 1
        return tuple((s, levels, depth, 0) for s in self.feed(lr, t))

    def acc(self, stack) -> int:
        lr, levels, depth, _ = stack
        key = (lr, levels, depth)
        bits = self._branch_acc.get(key)
        if bits is not None:
            return bits
        nl = 1 << self.newline
        bits = GeneralParser.acc(self, lr) & ~nl
        if not depth:
            bits &= ~sum(1 << t for t in self.closes)
        columns = (levels[-1] + 1,) + levels
        if depth or any(self._newline(lr, levels, c) for c in columns):
            bits |= nl
        self._remember(self._branch_acc, key, bits)
        return bits

    def _at_end(self, stack) -> bool:
        lr, levels, _, _ = stack
        stacks = (lr,)
        for _ in levels[1:]:
            stacks = self._feed_all(stacks, self.dedent)
        return any(_ACCEPTED in self.feed(s, self.end_symbol) for s in stacks)

    def _root_walk(self, q: int, col: int, acc: int):
        # the walk from the root tracks the newline lexeme's column: the kernel's, not the LALR's
        return self._kernel_walk(_ROOT, SETTLE_AT, q, col, acc)

    def _col(self, stack) -> int:
        return stack[3]

    def _at_col(self, stack, col: int):
        lr, levels, depth, old = stack
        return stack if col == old else (lr, levels, depth, col)

    def _lexing(self, stack, q: int, q2: int, byte: int):
        lr, levels, depth, col = stack
        if not (self.live(q2) >> self.newline) & 1 or byte == _NL:
            new = 0
        else:
            new = col if q else _NO_LINE
            if new != _NO_LINE:
                new += 1 if byte == _SPACE else self.tab_len if byte == _TAB else 0
        return stack if new == col else (lr, levels, depth, new)
