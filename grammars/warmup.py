"""`compile_kernels`: every Numba kernel compiled (or loaded from Numba's disk cache) up front.

It drives one tiny grammar through a :class:`GrammarMatcher`, so it sits above both the compiler
and the matcher (neither imports it).
"""

from __future__ import annotations

from .compiler import compile_grammar
from .grammar import Grammar
from .matcher import GrammarMatcher
from .vocabulary import Vocabulary


def compile_kernels() -> None:
    """Compile (or load from Numba's on-disk cache) every kernel by running a tiny grammar once.

    ``scripts/setup.sh`` calls this, so a user's first grammar compile does not pay for Numba's
    JIT (several seconds on two cores). Example:

        >>> compile_kernels()
    """
    vocab = Vocabulary([b"a", b"b", b"ab", None], eos_token_ids=(3,))
    matcher = GrammarMatcher(
        compile_grammar(Grammar.from_lark('start: "a" "b"*\n%ignore " "'), vocab,
                        use_disk_cache=False)
    )
    matcher.advance(0)
    matcher.allowed_token_ids()
    matcher.is_accepting()
    matcher.allowed_bytes()
