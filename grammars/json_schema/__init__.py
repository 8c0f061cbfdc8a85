"""JSON Schema to a Lark grammar for :class:`~grammars.Grammar`.

    json_schema_to_lark(schema)  -->  Lark text  -->  Grammar.from_json_schema(schema)  (the core builds it)

The language is a subset of the JSON texts that validate against the schema, chosen so that every
valid *value* has exactly one accepted spelling (see :func:`serialize_instance`):

* compact separators (``json.dumps(obj, separators=(",", ":"), ensure_ascii=False)``); with
  ``whitespace="flexible"`` up to ``MAX_WS`` spaces/tabs/newlines may come before every token
  (one slot per gap between two tokens), so no run of whitespace is ever longer than ``MAX_WS``;
* object keys in the schema's ``properties`` order (optional ones may be left out), then any
  additional properties (never a declared name again);
* strings spelled as ``json.dumps`` spells them (no needless ``\\uXXXX`` or ``\\/`` escapes);
* numbers without needless forms; an integral number is spelled as an integer (``1``, not ``1.0``:
  the same JSON Schema value, and no run of zeros for a model to fall into).

Keywords: boolean schemas, ``type`` (and unions), ``enum``, ``const``, ``properties``, ``required``,
``additionalProperties`` (allowed by default, as the spec says; ``strict=True`` closes objects),
``patternProperties``, ``propertyNames``, ``minProperties``/``maxProperties``,
``dependentRequired``, ``dependentSchemas``, ``items``, ``prefixItems``, ``minItems``/``maxItems``,
``contains``/``minContains``/``maxContains``, ``minLength``/``maxLength``, ``pattern`` (ECMA-262,
see :mod:`grammars.json_schema.patterns`), ``format`` (:mod:`grammars.json_schema.formats`; an unknown format is an
annotation, with a warning), ``minimum``/``maximum`` and the exclusive ones on any number
(:mod:`grammars.json_schema.numbers`), ``multipleOf`` (for integers when ``1/m`` is an integer, integer
``m`` as the last digits decide it or, between bounds, listed; for numbers ``10**-d``), ``allOf`` (merged), ``anyOf``, ``oneOf`` and ``not`` and ``if``/``then``/
``else`` (exact: branches that provably share no value, such as a tagged union's, are taken as
they are; other overlapping branches are made disjoint through negation), ``unevaluatedProperties``/
``unevaluatedItems`` (as the evaluated keywords merged into one schema see them), ``$ref``/``$defs``
including recursion, ``$anchor``, ``$id`` base URIs, a ``$dynamicRef`` that resolves statically,
references into other documents given as ``resources``, and ``uniqueItems``: over listed values
an automaton over the sets used (at most ``MAX_UNIQUE_WORK`` moves), nothing where no two items
can be equal (``maxItems`` 1, provably different ``prefixItems``), and otherwise (free strings,
numbers, objects...) a check by the matcher beside the grammar (:mod:`grammars.unique_items`; the
array opens with the terminal ``UNIQUE_OPEN``), so only for a grammar built here
(``Grammar.from_json_schema``), not for the Lark text alone. Not supported: other ``multipleOf``
values, dynamic scopes, remote fetching, and the negation of some of these (``uniqueItems`` among
them). Large ``maxLength``
(plain strings) and ``maxItems`` are counted by rules, not unrolled.

A keyword that is not supported raises :class:`UnsupportedSchemaError` naming the keyword and its
JSON pointer (``lenient=True`` turns that into a warning and ignores the keyword); annotations
(``title``, ``description``, ``default``, ``examples``...) are ignored silently. Translation is
bounded (``MAX_WORK`` steps, ``TIMEOUT_S`` seconds): past that, :class:`SchemaTooComplexError`.
An unsatisfiable schema is refused as such. Where alternatives (``anyOf`` and the like) produce
objects whose key tokens overlap in one context, the LALR grammar keeps one reading: a valid
instance may then be rejected (never an invalid one accepted).

Example:
    >>> print(json_schema_to_lark({"type": "integer", "minimum": 1, "maximum": 12}))
    start: T0
    T0: /(?:1[0-2]|[1-9])/
    <BLANKLINE>
"""


from __future__ import annotations

from .errors import IgnoredKeywordsWarning, SchemaTooComplexError, UnsupportedSchemaError
from .keywords import MAX_WS
from .serialize import serialize_instance
from .translate import compile_json_schema, json_schema_to_lark

__all__ = ["MAX_WS", "IgnoredKeywordsWarning", "SchemaTooComplexError", "UnsupportedSchemaError", "compile_json_schema",
           "json_schema_to_lark", "serialize_instance"]
