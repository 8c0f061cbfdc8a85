"""The errors the grammar engine raises. Each names the problem and where it is."""

from __future__ import annotations


class GrammarError(ValueError):
    """Base class: a grammar (or constraint) that cannot be compiled. The process stays usable."""


class GrammarSyntaxError(GrammarError):
    """The grammar text does not parse as Lark; carries the 1-based ``line`` and ``column``."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None):
        where = f"line {line}, column {column}: " if line is not None else ""
        super().__init__(where + message)
        self.line = line
        self.column = column


class UndefinedSymbolError(GrammarError):
    """A rule or terminal is used but never defined; ``symbol`` names it."""

    def __init__(self, message: str, symbol: str | None = None):
        super().__init__(message)
        self.symbol = symbol


class GrammarConflictError(GrammarError):
    """The grammar is not LALR(1) (a shift/reduce or reduce/reduce conflict)."""


class EmptyLanguageError(GrammarError):
    """No string (or no string the vocabulary can spell) belongs to the grammar's language."""


class GrammarTooLargeError(GrammarError):
    """Compiling would exceed a size bound (lexer states, parser states); nothing was built."""


class RegexSyntaxError(GrammarError):
    """A regular expression that does not compile, or that matches the empty string; ``position``
    is the 0-based offset of the problem in the pattern when known."""

    def __init__(self, message: str, position: int | None = None):
        super().__init__(message)
        self.position = position


class UnsupportedRegexError(GrammarError):
    """A terminal's regular expression uses a feature the byte automaton cannot express."""


class RegexTooLargeError(UnsupportedRegexError, GrammarTooLargeError):
    """A terminal's automaton (or the work of building it) would exceed its bound; nothing was built."""


class VocabularyError(ValueError):
    """A tokenizer whose tokens cannot be mapped to byte strings."""


class EmptyMaskError(RuntimeError):
    """No token is allowed in a state that is not finished: an engine bug, reported with the prefix."""


class TokenRejectedError(ValueError):
    """``advance`` was given a token that the grammar does not allow at this point."""
