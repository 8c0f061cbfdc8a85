"""Python-style indentation (lark's ``Indenter`` post-lexer) as data the general path can run.

An :class:`Indentation` names the grammar's newline terminal, the ``%declare``'d indent and dedent
terminals, the bracket terminals inside which newlines are dropped, and the tab width, exactly as
lark's ``Indenter`` reads them: after a newline token outside brackets, the spaces and tabs after
its last ``\\n`` are its column; a deeper column yields an indent, a shallower one a dedent per
level left (a column that is no open level is an error), and the end of the text closes every
open level.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import GrammarError


@dataclass(frozen=True)
class Indentation:
    """The terminal names an indenter works with (defaults: lark's ``PythonIndenter``).

    Example:
        >>> Indentation.named("python").newline, Indentation.named("python").tab_len
        ('_NEWLINE', 8)
    """

    newline: str = "_NEWLINE"
    indent: str = "_INDENT"
    dedent: str = "_DEDENT"
    open_brackets: tuple[str, ...] = ("LPAR", "LSQB", "LBRACE")
    close_brackets: tuple[str, ...] = ("RPAR", "RSQB", "RBRACE")
    tab_len: int = 8

    @classmethod
    def named(cls, spec: Any) -> "Indentation | None":
        """``None``, ``"python"`` (lark's ``PythonIndenter``), an :class:`Indentation`, or a lark
        ``Indenter`` (class or instance) whose attributes are read."""
        if spec is None or isinstance(spec, Indentation):
            return spec
        if spec == "python":
            return cls()
        needed = ("NL_type", "INDENT_type", "DEDENT_type", "OPEN_PAREN_types", "CLOSE_PAREN_types", "tab_len")
        if all(hasattr(spec, a) for a in needed):
            return cls(spec.NL_type, spec.INDENT_type, spec.DEDENT_type, tuple(spec.OPEN_PAREN_types),
                       tuple(spec.CLOSE_PAREN_types), int(spec.tab_len))
        raise GrammarError(f"unknown indenter {spec!r}: give 'python', an Indentation or a lark Indenter")
