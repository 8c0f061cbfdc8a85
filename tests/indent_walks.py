"""Shared by the indentation tests: lark (LALR + ``PythonIndenter``) as the oracle, and random
walks of the matcher that must be sound (every accepting text parses with lark) and never dead-end
(a state with no allowed token is accepting)."""

from __future__ import annotations

import random

import lark

from grammars.matcher import GrammarMatcher


def lark_accepts(parser: lark.Lark, text: str) -> bool:
    """Whether lark parses ``text`` (its Indenter raises AssertionError / IndexError on some texts
    it cannot read, which count as rejections)."""
    try:
        parser.parse(text)
    except (lark.exceptions.LarkError, AssertionError, IndexError):
        return False
    return True


def random_walks(cg, oracle: lark.Lark, rng: random.Random, *, walks: int, steps: int,
                 ascii_share: float = 0.0) -> int:
    """``walks`` random walks of up to ``steps`` tokens (a token under 128 with probability
    ``ascii_share`` when there is one), asserting soundness and no dead end at every step; the
    number of accepting texts met."""
    finished = 0
    for _ in range(walks):
        m = GrammarMatcher(cg)
        for _ in range(steps):
            if m.is_accepting():
                assert lark_accepts(oracle, m.text()), repr(m.text())
                finished += 1
                if rng.random() < 0.3:
                    break
            allowed = [t for t in m.allowed_token_ids().tolist() if t not in cg.eos_token_ids]
            assert allowed or m.is_accepting(), repr(m.text())
            if not allowed:
                break
            ascii_ = [t for t in allowed if t < 128]
            m.advance(rng.choice(ascii_ if ascii_share and ascii_ and rng.random() < ascii_share else allowed))
    return finished
