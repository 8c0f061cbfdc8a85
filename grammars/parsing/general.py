"""The general-path parser of a compiled grammar: GLR, with an indenter where the grammar has one."""

from __future__ import annotations

import weakref

from .glr import GeneralParser
from .indented import IndentedParser

_parsers: "weakref.WeakKeyDictionary[object, GeneralParser]" = weakref.WeakKeyDictionary()


def general_parser(compiled) -> GeneralParser:
    """The general-path parser of a compiled grammar (one per grammar, made on first use)."""
    parser = _parsers.get(compiled)
    if parser is None:
        kind = IndentedParser if compiled.tables.indentation is not None else GeneralParser
        parser = _parsers[compiled] = kind(compiled)
    return parser
