"""The translator's errors: a schema refused (naming keyword and path), one past the bounds,
and the internal signal for a subschema without instances.

    >>> str(UnsupportedSchemaError("no", "uniqueItems", "#/items"))
    '#/items: unsupported `uniqueItems`: no'
"""

from __future__ import annotations

from ..errors import GrammarError


class UnsupportedSchemaError(GrammarError):
    """A schema keyword (or a value of it) that cannot be turned into an exact grammar.

    ``keyword`` names it and ``path`` is its JSON pointer in the schema (``#/properties/a``).
    """

    def __init__(self, message: str, keyword: str | None = None, path: str = "#"):
        super().__init__(f"{path}: {message}" if keyword is None else f"{path}: unsupported `{keyword}`: {message}")
        self.keyword = keyword
        self.path = path


class SchemaTooComplexError(UnsupportedSchemaError):
    """The translation went past its bounds (``MAX_WORK`` steps or ``TIMEOUT_S`` seconds), which
    overlapping ``anyOf``/``oneOf``/``not`` branches can multiply; ``path`` is where it was."""


class _Never(Exception):
    """The (sub)schema accepts no instance."""


class IgnoredKeywordsWarning(UserWarning):
    """Keywords the schema's draft does not define: annotations, ignored (as every validator does);
    the message lists each with the JSON pointer of its first use."""
