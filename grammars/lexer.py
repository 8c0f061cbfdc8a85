"""The old import path of the lexer, which now lives in :mod:`grammars.lexing`.

Example:
    >>> from grammars.lexer import Lexicon
    >>> Lexicon.__module__
    'grammars.lexing.lexicon'
"""

from .lexing import Lexicon

__all__ = ["Lexicon"]
