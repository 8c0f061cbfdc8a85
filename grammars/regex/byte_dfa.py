"""`ByteDFA`: the result of the regex pipeline, a trimmed minimal automaton over bytes."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from .minimize import minimize


@dataclass(frozen=True, eq=False, repr=False)
class ByteDFA:
    """A trimmed deterministic automaton over bytes. State 0 is the start state.

    ``transitions[s, b]`` is the next state or -1 (dead). Every state is reachable from 0 and can
    reach an accepting state (except the one state of an empty language). Arrays are read-only.

    Example:
        >>> from grammars.regex import regex_byte_dfa
        >>> dfa = regex_byte_dfa(r"é+")
        >>> dfa.matches("éé".encode()), dfa.is_live_prefix("é".encode()[:1]), dfa.matches(b"")
        (True, True, False)
    """

    transitions: np.ndarray  # int32 [n_states, 256]
    accepting: np.ndarray  # bool [n_states]

    def __post_init__(self):
        t = np.array(self.transitions, dtype=np.int32, order="C")
        a = np.array(self.accepting, dtype=bool)
        if t.ndim != 2 or t.shape[1] != 256 or a.shape != (t.shape[0],) or t.shape[0] == 0:
            raise ValueError(f"bad ByteDFA shapes {t.shape}, {a.shape}")
        t.setflags(write=False)
        a.setflags(write=False)
        object.__setattr__(self, "transitions", t)
        object.__setattr__(self, "accepting", a)

    @property
    def n_states(self) -> int:
        return int(self.transitions.shape[0])

    @functools.cached_property
    def _rows(self) -> list[list[int]]:
        return self.transitions.tolist()

    @functools.cached_property
    def _accepting_list(self) -> list[bool]:
        return self.accepting.tolist()

    def run(self, data: bytes, state: int = 0) -> int:
        """The state after reading ``data`` from ``state``; -1 once dead."""
        rows = self._rows
        for b in data:
            state = rows[state][b]
            if state < 0:
                return -1
        return state

    def matches(self, data: bytes) -> bool:
        """Whether ``data`` is (the UTF-8 encoding of) a full match."""
        s = self.run(data)
        return s >= 0 and self._accepting_list[s]

    def is_live_prefix(self, data: bytes) -> bool:
        """Whether some continuation of ``data`` (possibly empty) is a full match."""
        return self.run(data) >= 0 and self._nonempty

    @functools.cached_property
    def _nonempty(self) -> bool:
        return bool(self.accepting.any())

    def prefix_free(self) -> "ByteDFA":
        """The matches that have no proper prefix which is also a match (transitions out of
        accepting states removed; trimmed and minimised).

        This is what a lexer that stops at the first possible end sees, e.g. lark's
        ``re.match`` on ``".*?(?<!\\\\)(\\\\\\\\)*?"`` (ESCAPED_STRING) or ``/\\*(.|\\n)*?\\*/``
        (C_COMMENT): the full-match language of those lazy patterns also holds ``"a" "b"``-like
        strings that a longest-match lexer would swallow.
        """
        t = np.array(self.transitions)
        t[self.accepting] = -1
        table, acc = minimize(t, self.accepting)
        if table.shape[0] == 0:
            return ByteDFA(np.full((1, 256), -1, dtype=np.int32), np.zeros(1, dtype=bool))
        return ByteDFA(table, acc)

    def __repr__(self) -> str:
        return f"ByteDFA(n_states={self.n_states}, n_accepting={int(self.accepting.sum())})"

