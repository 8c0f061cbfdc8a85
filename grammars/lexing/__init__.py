"""The lexer: every terminal of a grammar as one byte automaton run in parallel.

    lark terminals --(grammars.regex, per terminal)--> ByteDFAs --product--> Lexicon

Example:
    >>> import lark
    >>> from grammars.lexing import Lexicon
    >>> Lexicon.from_lark(lark.Lark('start: "a" | "b"', parser="lalr")).names
    ('A', 'B')
"""

from .lexicon import Lexicon

__all__ = ["Lexicon"]
