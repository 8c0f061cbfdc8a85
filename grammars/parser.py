"""Old import path of :class:`grammars.parsing.ParseTables` (kept importable)."""

from .parsing.tables import ERROR, ParseTables

__all__ = ["ERROR", "ParseTables"]
