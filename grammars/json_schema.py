"""JSON Schema (draft 2020-12) to a Lark grammar for :class:`~grammars.Grammar`.

    json_schema_to_lark(schema)  -->  Lark text      grammar_from_json_schema(schema)  -->  Grammar

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
see :mod:`grammars.json_patterns`), ``format`` (:mod:`grammars.json_formats`; an unknown format is an
annotation, with a warning), ``minimum``/``maximum`` and the exclusive ones on any number
(:mod:`grammars.json_numbers`), ``multipleOf`` (for integers when ``1/m`` is an integer, for
numbers ``10**-d``), ``allOf`` (merged), ``anyOf``, ``oneOf`` and ``not`` and ``if``/``then``/
``else`` (exact: overlapping branches are made disjoint through negation), ``unevaluatedProperties``/
``unevaluatedItems`` (as the evaluated keywords merged into one schema see them), ``$ref``/``$defs``
including recursion, ``$anchor``, ``$id`` base URIs, a ``$dynamicRef`` that resolves statically,
and references into other documents given as ``resources``. Not supported: ``uniqueItems``, other
``multipleOf`` values, dynamic scopes, remote fetching, and the negation of some of these.

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

import json
import math
import itertools
import re
import time
import warnings
from decimal import Decimal
from fractions import Fraction

from .errors import GrammarError, GrammarConflictError
from .grammar import Grammar, lark_regex_literal
from .json_formats import FORMATS
from .json_numbers import INTEGER, NONINTEGRAL, EmptyRange, number_range_regex
from .json_patterns import CH, PatternError, enc_str, pattern_regex
from .json_refs import localize_refs

__all__ = ["UnsupportedSchemaError", "SchemaTooComplexError", "json_schema_to_lark", "grammar_from_json_schema", "serialize_instance"]

MAX_WS = 20
MAX_REPEAT = 256  # bound on expanded minItems/maxItems/minLength/maxLength
MAX_PATTERNS = 6  # patternProperties per object (2**n key classes)
MAX_WORK = 100_000  # bound on schema merges, rules and branches made while translating one schema
TIMEOUT_S = 10.0  # bound on the translation's wall time

ANNOTATIONS = {
    "title", "description", "examples", "default", "$comment", "$schema", "$id", "deprecated",
    "readOnly", "writeOnly", "contentMediaType", "contentEncoding", "contentSchema", "$anchor",
    "$vocabulary",
}
# keywords the translator writes itself (negations): the non-integral numbers, strings outside a
# set, objects with at least n additional properties, contains counted from item n on
INTERNAL = {"$nonintegral", "$notIn", "$notMatching", "$minExtra", "$containsFrom", "$negOnly"}
_WS_MARK, _BODY_MARK = "\x01", "\x02"  # in guarded token regexes: where whitespace goes, where the body starts
# formats that JSON Schema 2020-12 defines (FORMATS holds those asserted exactly)
KNOWN_FORMATS = {"date-time", "date", "time", "duration", "email", "idn-email", "hostname", "idn-hostname",
                 "ipv4", "ipv6", "uri", "uri-reference", "iri", "iri-reference", "uuid", "uri-template",
                 "json-pointer", "relative-json-pointer", "regex"}
TYPES = ("null", "boolean", "object", "array", "number", "integer", "string")

NUMBER = r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"
STRING = f'"{CH}*"'


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


def _ptr(path: str, *parts) -> str:
    for p in parts:
        path += "/" + str(p).replace("~", "~0").replace("/", "~1")
    return path


def _canon(x) -> str:
    return json.dumps(x, separators=(",", ":"), ensure_ascii=False)


def _is_num(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


# -- literals -------------------------------------------------------------------------------------

def _lit(value) -> str:
    """Regex for the canonical spelling of a JSON value (:func:`_spell`); raises _Never for a
    non-finite number (no JSON spelling)."""
    if not _finite(value):
        raise _Never()
    return re.escape(_spell(value))


def _finite(value) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    return True


# -- the translator ------------------------------------------------------------------------------

class _Translator:
    def __init__(self, root, strict: bool, lenient: bool, whitespace: str | None, disjoint_any: bool = False,
                 resources: dict | None = None):
        self.root = localize_refs(root, resources)
        self.disjoint_any = disjoint_any
        self.disjoint_lists: set[str] = set()
        self.work = 0
        self.deadline = time.monotonic() + TIMEOUT_S
        self.unevaluated = _mentions(self.root, _UNEVALUATED)
        self.strict = strict
        self.lenient = lenient
        if whitespace not in (None, "compact", "flexible"):
            raise ValueError(f"whitespace must be None, 'compact' or 'flexible', not {whitespace!r}")
        self.ws = f"[ \\t\\n\\r]{{0,{MAX_WS}}}" if whitespace == "flexible" else ""
        self.rules: list[str] = []
        self.terminals: dict[str, str] = {}  # regex -> name
        self.memo: dict[str, str] = {}
        self.ref_rules: dict[str, str] = {}
        self.recursive_refs = self._recursive_refs()
        self.n = 0

    # -- plumbing --
    def unsupported(self, keyword: str, path: str, why: str) -> None:
        err = UnsupportedSchemaError(why, keyword, _ptr(path, keyword) if keyword else path)
        if not self.lenient:
            raise err
        warnings.warn(str(err), stacklevel=4)

    def term(self, regex: str) -> str:
        regex = _quote_safe(regex)
        if regex not in self.terminals:
            self.terminals[regex] = f"T{len(self.terminals)}"
        return self.terminals[regex]

    def punct(self, ch: str) -> str:
        r = re.escape(ch)
        return self.term(self.ws + r)

    def new_rule(self, prefix: str) -> str:
        self.spend("#")
        self.n += 1
        return f"{prefix}{self.n}"

    # -- $ref --
    def resolve_ref(self, ref: str, path: str):
        if not ref.startswith("#"):
            raise UnsupportedSchemaError(f"only references into the schema itself are supported, not {ref!r} "
                                         "(remote documents are not fetched)", "$ref", _ptr(path, "$ref"))
        from urllib.parse import unquote
        node = self.root
        frag = unquote(ref[1:])
        if frag and not frag.startswith("/"):
            raise UnsupportedSchemaError(f"anchor {ref!r} is not defined", "$ref", _ptr(path, "$ref"))
        for part in frag.split("/")[1:]:
            part = part.replace("~1", "/").replace("~0", "~")
            try:
                node = node[int(part)] if isinstance(node, list) else node[part]
            except (KeyError, IndexError, ValueError, TypeError):
                raise UnsupportedSchemaError(f"reference {ref!r} does not resolve", "$ref", _ptr(path, "$ref")) from None
        return node

    def _recursive_refs(self) -> set[str]:
        def refs_in(node, acc):
            if isinstance(node, dict):
                for k, v in node.items():
                    if k == "$ref" and isinstance(v, str):
                        acc.add(v)
                    elif k not in ("enum", "const"):
                        refs_in(v, acc)
            elif isinstance(node, list):
                for v in node:
                    refs_in(v, acc)
            return acc

        graph: dict[str, set] = {}
        todo = list(refs_in(self.root, set()))
        while todo:
            r = todo.pop()
            if r in graph:
                continue
            try:
                target = self.resolve_ref(r, "#")
            except UnsupportedSchemaError:
                graph[r] = set()
                continue
            graph[r] = refs_in(target, set())
            todo += list(graph[r])
        rec = set()
        for r in graph:
            seen, stack = set(), list(graph[r])
            while stack:
                x = stack.pop()
                if x == r:
                    rec.add(r)
                    break
                if x in seen:
                    continue
                seen.add(x)
                stack += list(graph.get(x, ()))
        return rec

    # -- schema normalisation: inline non-recursive $ref, merge allOf --
    def flatten(self, schema, path: str, depth: int = 0):
        """``schema`` with non-recursive ``$ref`` and ``allOf`` merged in. Returns (schema, path)."""
        if depth > 50:
            raise UnsupportedSchemaError("reference chain too deep", "$ref", path)
        if schema is True:
            return {}
        if schema is False:
            raise _Never()
        if not isinstance(schema, dict):
            raise UnsupportedSchemaError(f"a schema must be an object or a boolean, not {schema!r}", None, path)
        schema = dict(schema)
        if "$defs" in schema:
            del schema["$defs"]
        if "definitions" in schema:
            del schema["definitions"]
        if "$ref" in schema and schema["$ref"] not in self.recursive_refs:
            ref = schema.pop("$ref")
            target = self.flatten(self.resolve_ref(ref, path), path, depth + 1)
            schema = self.merge(target, schema, path)
        if "allOf" in schema:
            subs = schema.pop("allOf")
            for i, sub in enumerate(subs):
                schema = self.merge(schema, self.flatten(sub, _ptr(path, "allOf", i), depth + 1), _ptr(path, "allOf", i))
        schema = self.desugar(schema, path, depth)
        if not any(k in schema for k in ("anyOf", "oneOf", "$ref")):
            schema = _scope_unevaluated(schema)
        return schema

    def desugar(self, schema: dict, path: str, depth: int) -> dict:
        """``not``, ``if``/``then``/``else``, ``dependentRequired`` and ``dependentSchemas`` as
        ``anyOf`` branches (disjoint ones) merged into ``schema``; keywords without effect dropped."""
        if "if" not in schema:  # then/else without if have no effect
            schema.pop("then", None)
            schema.pop("else", None)
        if "contains" not in schema:
            schema.pop("minContains", None)
            schema.pop("maxContains", None)
        if schema.get("uniqueItems") is False:
            del schema["uniqueItems"]
        extra = []
        if "not" in schema:
            extra.append(self.negate(schema.pop("not"), _ptr(path, "not"), depth))
        if "if" in schema:
            cond, then, other = schema.pop("if"), schema.pop("then", True), schema.pop("else", True)
            if then is not True or other is not True or self.unevaluated:  # a passing if evaluates
                branches = []
                if then is not False:
                    branches.append({"allOf": [cond, then]})
                if other is not False:
                    branches.append({"allOf": [self.negate(cond, _ptr(path, "if"), depth), other]})
                extra.append(self.union(branches))
        for name, deps in schema.pop("dependentRequired", {}).items():
            if deps:
                extra.append(self.union([{"properties": {name: False}},
                                         {"type": "object", "required": [name] + list(deps)}]))
        for name, sub in schema.pop("dependentSchemas", {}).items():
            if sub is not True and sub != {}:
                extra.append(self.union([{"properties": {name: False}},
                                         {"type": "object", "required": [name], "allOf": [sub]}]))
        for sub in extra:
            schema = self.merge(schema, self.flatten(sub, path, depth + 1), path)
        return schema

    # -- negation (for not, if/then/else, oneOf, contains) --
    def negate(self, schema, path: str, depth: int = 0):
        """A schema for the values that ``schema`` rejects, as disjoint ``anyOf`` branches."""
        out = []
        for ty in ("null", "boolean", "object", "array", "string", "number"):
            out += self.negate_within(ty, schema, path, depth)
        if self.unevaluated and _mentions(out, _EVALUATING - {"properties"}):
            # a failed subschema evaluates nothing: the properties a negation names are marked
            # ($negOnly, below); its items and additional properties cannot be, so refuse
            raise UnsupportedSchemaError("negating a subschema that constrains additional properties or items "
                                         "(through not, if, oneOf or overlapping anyOf) in a schema that uses "
                                         "unevaluatedProperties/unevaluatedItems is not supported", "not", path)
        return self.union(out)

    def union(self, branches: list):
        """``anyOf`` of branches known to be disjoint (remembered, so they are not made disjoint
        again after an LALR conflict); ``False`` when there are none."""
        if not branches:
            return False
        self.disjoint_lists.add(_canon(branches))
        return {"anyOf": branches}

    def known_disjoint(self, branches: list) -> bool:
        return len(branches) < 2 or _canon(branches) in self.disjoint_lists

    def negate_within(self, ty: str, schema, path: str, depth: int) -> list:
        """Disjoint schemas for the values of JSON type ``ty`` (``number`` includes the integers)
        that ``schema`` rejects."""
        whole = [{"type": ty}]
        try:
            s = self.flatten(schema, path, depth + 1)
        except _Never:
            return whole
        s = {k: v for k, v in s.items() if k not in ANNOTATIONS}
        if "$ref" in s:
            raise UnsupportedSchemaError("negating a recursive reference is not supported", "not", path)
        if _UNEVALUATED & set(s) and ("anyOf" in s or "oneOf" in s):
            raise UnsupportedSchemaError("negating unevaluatedProperties/unevaluatedItems beside anyOf/oneOf is "
                                         "not supported", "not", path)
        for comb in ("anyOf", "oneOf"):
            if comb in s:
                subs = s.pop(comb)
                if comb == "oneOf" and not self.disjoint(s, subs, path):
                    raise UnsupportedSchemaError("negating a oneOf whose branches may overlap is not supported",
                                                 "not", path)
                # not (rest and (A or B)) = not rest, or rest and not A and not B
                out = self.negate_within(ty, s, path, depth) if s else []
                none = [s] if s else [{}]
                for i, sub in enumerate(subs):
                    negs = self.negate_within(ty, sub, _ptr(path, comb, i), depth)
                    self.spend(path, len(none) * len(negs))
                    none = [{"allOf": [a, b]} for a in none for b in negs if _may_overlap(a, b)]
                    if not none:
                        break
                return out + [{"allOf": [{"type": ty}, x]} for x in none]
        t = s.pop("type", list(TYPES))
        allowed = {t} if isinstance(t, str) else set(t)
        if s.pop("nullable", False) is True:
            allowed.add("null")
        out = []
        if ty == "number":
            if "number" not in allowed and "integer" not in allowed:
                return whole
            if "number" not in allowed:  # integers only: every non-integral number fails
                out.append({"type": "number", "$nonintegral": True})
                ty = "integer"
        elif ty not in allowed:
            return whole
        if "enum" in s or "const" in s:
            return out + self.negate_values(s, ty, path)
        done: dict = {"type": ty}
        for group in _constraint_groups(ty, s):
            for branch in self.negate_constraint(ty, group, path, depth):
                out.append(self.merge(done, branch, path))
            done = self.merge(done, group, path)
        return out

    def listed_values(self, schema: dict) -> list:
        """The values of ``enum``/``const`` that the schema's other keywords (ours included) accept."""
        vals = list(schema["enum"]) if "enum" in schema else [schema["const"]]
        if "enum" in schema and "const" in schema:
            vals = [v for v in vals if _json_equal(v, schema["const"])]
        rest = {k: v for k, v in schema.items() if k not in ("enum", "const")}
        if not rest:
            return vals
        import jsonschema
        validator = jsonschema.Draft202012Validator(self.root)
        public = validator.evolve(schema=_public(rest))
        return [v for v in vals if public.is_valid(v) and _internal_ok(rest, v, validator)]

    def negate_values(self, s: dict, ty: str, path: str) -> list:
        """Disjoint schemas for the values of type ``ty`` outside the listed ones of ``s``."""
        vals = self.listed_values(s)
        kinds: dict = {}
        for v in vals:
            kinds.setdefault(_type_of(v), []).append(v)
        if ty in ("integer", "number"):
            out = []
            ints = sorted({int(v) for v in kinds.get("integer", [])})
            lo = None
            for v in ints + [None]:
                hi = None if v is None else v - 1
                if lo is None or hi is None or lo <= hi:
                    out.append({"type": "integer", **({} if lo is None else {"minimum": lo}),
                                **({} if hi is None else {"maximum": hi})})
                lo = None if v is None else v + 1
            if ty == "number":
                if kinds.get("number"):
                    raise UnsupportedSchemaError("negating a set of non-integral numbers is not supported", "not", path)
                out.append({"type": "number", "$nonintegral": True})
            return out
        if not kinds.get(ty):
            return [{"type": ty}]
        if ty == "boolean":
            return [{"enum": [b for b in (True, False) if b not in kinds[ty]]}] if len(kinds[ty]) < 2 else []
        if ty == "string":
            return [{"type": "string", "$notIn": kinds[ty]}]
        if ty == "null":
            return []
        raise UnsupportedSchemaError(f"negating {ty} constants is not supported", "not", path)

    def negate_constraint(self, ty: str, group: dict, path: str, depth: int) -> list:
        """Disjoint schemas (of type ``ty``) for the values of type ``ty`` that ``group`` rejects."""
        (k, v), = list(group.items())[:1]
        swap = {"minimum": "exclusiveMaximum", "maximum": "exclusiveMinimum", "exclusiveMinimum": "maximum",
                "exclusiveMaximum": "minimum"}
        if k in swap:
            return [{swap[k]: v}]
        counts = {"minLength": "maxLength", "minItems": "maxItems", "minProperties": "maxProperties"}
        for lo_k, hi_k in counts.items():
            if k == lo_k:
                return [{hi_k: int(v) - 1}] if v > 0 else []
            if k == hi_k:
                return [{lo_k: int(v) + 1}]
        if k == "$nonintegral":
            return [{"type": "integer"}]
        if k == "$notIn":
            return [{"enum": list(v)}]
        if k == "pattern":
            return [{"$notMatching": [self.pattern_regex(v, path)]}]
        if k == "format":
            return [{"$notMatching": [FORMATS[v]]}] if v in FORMATS else []
        if k == "required":
            req = list(dict.fromkeys(v))
            return [{"required": req[:i], "properties": {r: False}, "$negOnly": [r]} for i, r in enumerate(req)]
        if k == "properties":
            out, seen = [], {}
            for name, sub in v.items():
                neg = self.negate(sub, _ptr(path, "properties", name), depth)
                if neg is not False:
                    out.append({"properties": {**seen, name: neg}, "required": [name], "$negOnly": [*seen, name]})
                seen[name] = sub
            return out
        if k == "additionalProperties":
            neg = self.negate(v, _ptr(path, "additionalProperties"), depth)
            if neg is False:
                return []
            names = {name: True for name in group.get("properties", {})}
            return [{"properties": names, "additionalProperties": neg, "$minExtra": 1}]
        if k in ("prefixItems", "items"):
            prefix = list(group.get("prefixItems", []))
            out = []
            for i, sub in enumerate(prefix):
                neg = self.negate(sub, _ptr(path, "prefixItems", i), depth)
                if neg is not False:
                    out.append({"prefixItems": prefix[:i] + [neg], "minItems": i + 1})
            if "items" in group:
                neg = self.negate(group["items"], _ptr(path, "items"), depth)
                if neg is not False:
                    out.append({"prefixItems": prefix, "contains": neg, "$containsFrom": len(prefix)} if prefix
                               else {"contains": neg})
            return out
        if k == "contains":
            lo, hi = int(group.get("minContains", 1)), group.get("maxContains")
            base = {"contains": v, **({"$containsFrom": group["$containsFrom"]} if "$containsFrom" in group else {})}
            out = [{**base, "minContains": 0, "maxContains": lo - 1}] if lo > 0 else []
            if hi is not None:
                out.append({**base, "minContains": int(hi) + 1})
            return out
        raise UnsupportedSchemaError(f"negating `{k}` is not supported", "not", path)

    def spend(self, path: str, n: int = 1) -> None:
        """Count ``n`` steps of work; raise :class:`SchemaTooComplexError` past the bounds."""
        self.work += n
        if self.work > MAX_WORK or (self.work % 256 == 0 and time.monotonic() > self.deadline):
            raise SchemaTooComplexError(
                f"the schema is too complex to translate within the bounds ({MAX_WORK} steps, {TIMEOUT_S:g} s): "
                "overlapping anyOf/oneOf/not/if branches multiply; make them disjoint (different types or "
                "constants) or use fewer of them", None, path)

    def merge(self, a: dict, b: dict, path: str) -> dict:
        self.spend(path)
        out = dict(a)
        if "$negOnly" in a or "$negOnly" in b:  # names only a negation mentions: never evaluated
            na, nb = set(a.get("$negOnly", ())), set(b.get("$negOnly", ()))
            pos_a, pos_b = set(a.get("properties", {})) - na, set(b.get("properties", {})) - nb
            out.pop("$negOnly", None)
            neg = sorted((na - pos_b) | (nb - pos_a))
            if neg:
                out["$negOnly"] = neg
            b = {k: v for k, v in b.items() if k != "$negOnly"}
        pa, pb = a.get("patternProperties", {}), b.get("patternProperties", {})
        if pa or pb:
            # additionalProperties only sees keys outside its own schema's patterns
            if ("additionalProperties" in a and set(pb) - set(pa)) or ("additionalProperties" in b and set(pa) - set(pb)):
                raise UnsupportedSchemaError("combining additionalProperties of one subschema with patternProperties "
                                             "of another is not supported", "patternProperties", path)
            out["patternProperties"] = {k: _both(pa.get(k, True), pb.get(k, True)) for k in dict.fromkeys([*pa, *pb])}
            b = {k: v for k, v in b.items() if k != "patternProperties"}
        obj_keys = ("properties", "additionalProperties")
        if any(k in a for k in obj_keys) and any(k in b for k in obj_keys):
            # additionalProperties only sees its own schema's properties: combine per key
            pa, pb = a.get("properties", {}), b.get("properties", {})
            aa, ab = a.get("additionalProperties", True), b.get("additionalProperties", True)
            props = {}
            for k in list(dict.fromkeys(list(pa) + list(pb))):
                props[k] = _both(pa.get(k, aa), pb.get(k, ab))
            out["properties"] = props
            if "additionalProperties" in a or "additionalProperties" in b:
                out["additionalProperties"] = _both(aa, ab)
            b = {k: v for k, v in b.items() if k not in obj_keys}
        arr_keys = ("prefixItems", "items")
        if any(k in a for k in arr_keys) and any(k in b for k in arr_keys):
            # items only sees the positions after its own schema's prefixItems: combine per position
            pa, pb = list(a.get("prefixItems", [])), list(b.get("prefixItems", []))
            ia, ib = a.get("items", True), b.get("items", True)
            n = max(len(pa), len(pb))
            if n:
                out["prefixItems"] = [_both(pa[i] if i < len(pa) else ia, pb[i] if i < len(pb) else ib) for i in range(n)]
            if "items" in a or "items" in b:
                out["items"] = _both(ia, ib)
            b = {k: v for k, v in b.items() if k not in arr_keys}
        for k, v in b.items():
            if k not in out or k in ANNOTATIONS or out[k] == v:
                out[k] = v
            elif k == "type":
                ta = {out[k]} if isinstance(out[k], str) else set(out[k])
                tb = {v} if isinstance(v, str) else set(v)
                both = {t for t in ta if t in tb} | ({"integer"} if ("integer" in ta and "number" in tb) or ("number" in ta and "integer" in tb) else set())
                if not both:
                    raise _Never()
                out[k] = sorted(both)
            elif k == "required":
                out[k] = list(dict.fromkeys(list(out[k]) + list(v)))
            elif k == "properties":
                props = dict(out[k])
                for name, s in v.items():
                    props[name] = {"allOf": [props[name], s]} if name in props else s
                out[k] = props
            elif k in ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties", "minContains",
                       "$minExtra"):
                out[k] = max(out[k], v)
            elif k in ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties", "maxContains"):
                out[k] = min(out[k], v)
            elif k in ("$notIn", "$notMatching"):
                out[k] = list(out[k]) + [x for x in v if x not in out[k]]
            elif k in ("anyOf", "oneOf"):
                out["allOf"] = out.get("allOf", []) + [{k: v}]
            elif k in ("enum", "const"):
                ea = out[k] if k == "enum" else [out[k]]
                eb = v if k == "enum" else [v]
                common = [x for x in ea if any(_json_equal(x, y) for y in eb)]
                if not common:
                    raise _Never()
                out.pop(k)
                out["enum"] = common
            else:
                raise UnsupportedSchemaError(f"cannot merge two different values in allOf: {out[k]!r} and {v!r}", k, _ptr(path, k))
        if "allOf" in out:  # from anyOf/oneOf merges: distribute
            subs = out.pop("allOf")
            if "anyOf" in out or "oneOf" in out:
                subs.insert(0, {k: out.pop(k) for k in ("anyOf", "oneOf") if k in out})
            combo = subs[0]
            for s in subs[1:]:
                self.spend(path, len(_alts(combo)) * len(_alts(s)))
                pairs = [{"allOf": [x, y]} for x in _alts(combo) for y in _alts(s) if _may_overlap(x, y)]
                if not pairs:
                    raise _Never()
                combo = self.union(pairs) if self.known_disjoint(_alts(combo)) and self.known_disjoint(_alts(s)) \
                    else {"anyOf": pairs}
            out.update(combo)
        return out

    # -- values --
    def value(self, schema, path: str) -> str:
        """The grammar symbol (rule or terminal) for the values of ``schema``; raises _Never."""
        if isinstance(schema, dict) and set(schema) - ANNOTATIONS - {"$defs", "definitions"} == {"$ref"} and schema["$ref"] in self.recursive_refs:
            ref = schema["$ref"]
            if ref not in self.ref_rules:
                name = "ref" + re.sub(r"[^a-z0-9_]", "_", ref.split("/")[-1].lower())[:30] + f"_{len(self.ref_rules)}"
                self.ref_rules[ref] = name
                body = self.alternatives(self.resolve_ref(ref, "#"), ref)
                self.rules.append(f"?{name}: " + " | ".join(body))
            return self.ref_rules[ref]
        if schema is True or schema == {} or (isinstance(schema, dict) and not set(schema) - ANNOTATIONS - {"$defs", "definitions"}):
            return self.any_value()
        key = _canon(schema)
        if key in self.memo:
            return self.memo[key]
        alts = self.alternatives(schema, path)
        if len(alts) == 1 and alts[0][0].isupper():
            sym = alts[0]
        else:
            sym = self.new_rule("v")
            self.rules.append(f"?{sym}: " + " | ".join(alts))
        self.memo[key] = sym
        return sym

    def any_value(self) -> str:
        """The rule for any JSON value (schema ``{}`` or ``true``)."""
        if "any" not in self.memo:
            self.memo["any"] = "any"
            c, ob, cb, oa, ca = self.punct(","), self.punct("{"), self.punct("}"), self.punct("["), self.punct("]")
            key = self.term(f'{self.ws}"{CH}*":')
            scalar = self.term(f"{self.ws}(?:null|true|false|{NUMBER}|{STRING})")
            self.rules.append(f"?any: any_obj | any_arr | {scalar}")
            self.rules.append(f"any_obj: {ob} [{key} any ({c} {key} any)*] {cb}")
            self.rules.append(f"any_arr: {oa} [any ({c} any)*] {ca}")
        return "any"

    def alternatives(self, schema, path: str) -> list[str]:
        """Symbols, one per alternative; scalar alternatives merged into one terminal."""
        scalars, others = self.branches(schema, path)
        alts = []
        if scalars:
            scalars = [self.render(x) for x in dict.fromkeys(scalars)]  # lookaheads lead each one
            alts.append(self.term(scalars[0] if len(scalars) == 1 else "(?:" + "|".join(scalars) + ")"))
        alts += list(dict.fromkeys(others))
        if not alts:
            raise _Never()
        return alts

    def render(self, token: str) -> str:
        """A token regex from :meth:`guarded` (or a plain one) with this grammar's whitespace."""
        if _BODY_MARK not in token:
            return self.ws + token
        la, body = token.split(_BODY_MARK)
        return la.replace(_WS_MARK, "[ \\t\\n\\r]*" if self.ws else "") + self.ws + body

    def branches(self, schema, path: str) -> tuple[list[str], list[str]]:
        """(scalar regexes, container rule names) whose union is the language of ``schema``."""
        if isinstance(schema, dict) and "$ref" in schema and schema["$ref"] in self.recursive_refs:
            rest = {k: v for k, v in schema.items() if k not in ANNOTATIONS and k not in ("$ref", "$defs", "definitions")}
            if rest:
                raise UnsupportedSchemaError("keywords beside a recursive $ref are not supported", "$ref", _ptr(path, "$ref"))
            return [], [self.value({"$ref": schema["$ref"]}, path)]
        schema = self.flatten(schema, path)
        for comb in ("anyOf", "oneOf"):
            if comb in schema:
                rest = {k: v for k, v in schema.items() if k != comb}
                subs = self.alternatives_of(comb, rest, schema[comb], path)
                if "anyOf" in rest or "oneOf" in rest:
                    other = "oneOf" if comb == "anyOf" else "anyOf"
                    osubs = self.alternatives_of(other, rest, rest.pop(other), path)
                    self.spend(path, len(subs) * len(osubs))
                    subs = [{"allOf": [a, b]} for a in subs for b in osubs]
                scalars, others = [], []
                for i, sub in enumerate(subs):
                    try:
                        merged = self.merge(rest, self.flatten(sub, _ptr(path, comb, i)), _ptr(path, comb, i)) if rest else sub
                        s, o = self.branches(merged, _ptr(path, comb, i))
                    except _Never:
                        continue
                    scalars += s
                    others += o
                return scalars, others
        return self.typed(schema, path)

    def alternatives_of(self, comb: str, rest: dict, subs: list, path: str) -> list:
        """The branches of ``anyOf``/``oneOf`` as schemas whose union is exact: ``oneOf`` branches
        that may overlap become ``A_i and not A_j (j != i)``; with ``disjoint_any`` (set after an
        LALR conflict) ``anyOf`` branches become ``A_i and not A_j (j < i)``."""
        if comb == "anyOf":
            subs = list({_canon(x): x for x in subs}.values())
            if any(x is True or x == {} for x in subs) and not _UNEVALUATED & set(rest):
                return [{}]
            if not self.disjoint_any or self.known_disjoint(subs) or self.disjoint(rest, subs, path):
                return subs
            negs = [self.negate(x, _ptr(path, comb, i)) for i, x in enumerate(subs)]
            return self.union([{"allOf": [x] + negs[:i]} for i, x in enumerate(subs)])["anyOf"]
        if self.disjoint(rest, subs, path):
            return subs
        try:
            negs = [self.negate(x, _ptr(path, comb, i)) for i, x in enumerate(subs)]
        except UnsupportedSchemaError as e:
            self.unsupported("oneOf", path, f"its branches may overlap and 'exactly one' needs their negation: {e}; "
                             "use anyOf, or lenient=True to treat this oneOf as anyOf")
            return subs
        return self.union([{"allOf": [x] + negs[:i] + negs[i + 1:]} for i, x in enumerate(subs)])["anyOf"]

    def disjoint(self, rest, subs, path) -> bool:
        """True when no value can match two of ``subs`` (different types or different constants)."""
        types = []
        for i, sub in enumerate(subs):
            try:
                s = self.flatten(sub, _ptr(path, "oneOf", i))
                s = self.merge(rest, s, path) if rest else s
            except _Never:
                types.append(set())
                continue
            if "enum" in s or "const" in s:
                vals = s["enum"] if "enum" in s else [s["const"]]
                types.append({("v", _canon(v)) for v in vals})
            elif "type" in s:
                t = {s["type"]} if isinstance(s["type"], str) else set(s["type"])
                if "number" in t:
                    t |= {"integer"}
                types.append(t)
            else:
                types.append(None)
        for i in range(len(types)):
            for j in range(i + 1, len(types)):
                a, b = types[i], types[j]
                if a is None or b is None:
                    ok = False
                else:
                    ta = {x if isinstance(x, str) else _type_of(json.loads(x[1])) for x in a}
                    tb = {x if isinstance(x, str) else _type_of(json.loads(x[1])) for x in b}
                    vals_a = {x for x in a if not isinstance(x, str)}
                    vals_b = {x for x in b if not isinstance(x, str)}
                    if vals_a and vals_b and len(vals_a) == len(a) and len(vals_b) == len(b):
                        ok = not (vals_a & vals_b)
                    else:
                        ok = not (ta & tb)
                if not ok:
                    return False
        return True

    def typed(self, schema: dict, path: str) -> tuple[list[str], list[str]]:
        schema = _scope_unevaluated(schema)
        known = {"type", "enum", "const", "properties", "required", "additionalProperties", "items",
                 "prefixItems", "minItems", "maxItems", "minLength", "maxLength", "pattern", "format",
                 "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "uniqueItems",
                 "minProperties", "maxProperties", "multipleOf", "nullable", "$ref", "contains",
                 "minContains", "maxContains", "propertyNames", "unevaluatedItems",
                 "patternProperties"} | ANNOTATIONS | INTERNAL
        for k in schema:
            if k not in known:
                self.unsupported(k, path, "this keyword is not supported")
        schema = {k: v for k, v in schema.items() if k in known and k not in ANNOTATIONS}
        if "$ref" in schema:  # recursive ref with siblings
            raise UnsupportedSchemaError("keywords beside a recursive $ref are not supported", "$ref", _ptr(path, "$ref"))
        t = schema.get("type", list(TYPES))
        types = [t] if isinstance(t, str) else list(t)
        for x in types:
            if x not in TYPES:
                raise UnsupportedSchemaError(f"unknown type {x!r}", "type", _ptr(path, "type"))
        if schema.get("nullable") is True and "null" not in types:
            types.append("null")
        if "integer" in types and "number" in types:
            types.remove("integer")
        if "enum" in schema or "const" in schema:
            return self.enum(schema, path)
        scalars, others = [], []
        for ty in types:
            try:
                if ty == "null":
                    scalars.append("null")
                elif ty == "boolean":
                    scalars.append("(?:true|false)")
                elif ty == "string":
                    scalars.append(self.string(schema, path))
                elif ty in ("integer", "number"):
                    scalars.append(self.number(schema, path, ty))
                elif ty == "object":
                    others.append(self.obj(schema, path))
                elif ty == "array":
                    others.append(self.array(schema, path))
            except _Never:
                continue
        return scalars, others

    def enum(self, schema, path):
        vals = self.listed_values(schema)
        out, seen = [], set()
        for v in vals:
            try:
                r = _lit(v)
            except _Never:
                continue
            if r not in seen:
                seen.add(r)
                out.append(r)
        if not out:
            raise _Never()
        if self.ws and any(isinstance(v, (dict, list)) for v in vals):
            raise UnsupportedSchemaError("object or array constants with flexible whitespace", "enum", path)
        return [("(?:" + "|".join(out) + ")") if len(out) > 1 else out[0]], []

    def string(self, schema, path) -> str:
        """The string terminal: the most specific constraint as its body, the others as
        lookaheads (see :meth:`guarded`)."""
        checks, body = self.string_parts(schema, path)
        return self.guarded(checks, f'"{body}"')

    def guarded(self, checks: list, body: str, after: str = "") -> str:
        """``body`` (a token regex) with ``checks`` ``[(negated, content regex)]`` as lookaheads on the
        token's JSON string contents, up to its closing quote and ``after`` (so each is decided
        within the token); ``_WS_MARK`` marks where whitespace may come, ``_BODY_MARK`` where the
        body starts."""
        if not checks:
            return body
        la = "".join(f'(?{"!" if neg else "="}{_WS_MARK}"(?:{r})"{after})' for neg, r in checks)
        return la + _BODY_MARK + body

    def string_parts(self, schema, path) -> tuple[list, str]:
        """([(negated, content regex)], content regex of the body) for a string schema."""
        lo = schema.get("minLength", 0)
        hi = schema.get("maxLength")
        fmt = schema.get("format")
        pat = schema.get("pattern")
        if fmt is not None and fmt not in FORMATS:
            if fmt in KNOWN_FORMATS:
                self.unsupported("format", path, f"format {fmt!r} is not supported (supported: {', '.join(sorted(FORMATS))})")
            else:
                warnings.warn(f"{_ptr(path, 'format')}: unknown format {fmt!r}: JSON Schema 2020-12 makes an unknown "
                              "format an annotation, so it does not constrain the string", stacklevel=4)
            fmt = None
        if hi is not None and hi > MAX_REPEAT * 16:
            raise UnsupportedSchemaError(f"maxLength {hi} is above the bound {MAX_REPEAT * 16}", "maxLength", _ptr(path, "maxLength"))
        if hi is not None and lo > hi:
            raise _Never()
        positive = []
        if fmt is not None:
            positive.append(FORMATS[fmt])
        if pat is not None:
            positive.append(self.pattern_regex(pat, path))
        if lo or hi is not None:
            positive.append(f"{CH}{{{int(lo)},{'' if hi is None else int(hi)}}}")
        checks = [(False, r) for r in positive[1:]]
        if schema.get("$notIn"):
            checks.append((True, "|".join(enc_str(v) for v in schema["$notIn"])))
        checks += [(True, r) for r in schema.get("$notMatching", [])]
        return checks, positive[0] if positive else f"{CH}*"

    def pattern_regex(self, pat, path) -> str:
        try:
            return pattern_regex(pat)
        except PatternError as e:
            raise UnsupportedSchemaError(f"pattern {pat!r} cannot be translated exactly ({e})", "pattern",
                                         _ptr(path, "pattern")) from None

    def number(self, schema, path, ty) -> str:
        bounds = {}
        for k in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
            if k in schema:
                if not _is_num(schema[k]) or not math.isfinite(schema[k]):
                    raise UnsupportedSchemaError(f"{k} must be a finite number", k, _ptr(path, k))
                bounds[k] = Fraction(Decimal(repr(schema[k])))
        if ty == "integer" and schema.get("$nonintegral"):
            raise _Never()
        integral = True if ty == "integer" else (False if schema.get("$nonintegral") else None)
        if "multipleOf" in schema:
            integral, digits = self.multiple_of(schema["multipleOf"], integral, path)
        else:
            digits = None
        if not bounds and digits is None:
            return {True: INTEGER, False: NONINTEGRAL, None: NUMBER}[integral]
        lo = hi = None
        lo_x = hi_x = False
        for k, strict in (("minimum", False), ("exclusiveMinimum", True)):
            if k in bounds and (lo is None or bounds[k] > lo or (bounds[k] == lo and strict)):
                lo, lo_x = bounds[k], strict
        for k, strict in (("maximum", False), ("exclusiveMaximum", True)):
            if k in bounds and (hi is None or bounds[k] < hi or (bounds[k] == hi and strict)):
                hi, hi_x = bounds[k], strict
        try:
            regex = number_range_regex(lo, hi, lo_exclusive=lo_x, hi_exclusive=hi_x, integral=integral)
        except EmptyRange:
            raise _Never() from None
        if digits is not None:  # at most `digits` fraction digits
            if bounds:
                raise UnsupportedSchemaError("multipleOf a power of ten beside bounds is not supported",
                                             "multipleOf", _ptr(path, "multipleOf"))
            frac = rf"\.[0-9]{{0,{digits - 1}}}[1-9]"
            regex = {None: rf"-?(?:0|[1-9][0-9]*)(?:{frac})?", False: rf"-?(?:0|[1-9][0-9]*){frac}",
                     True: INTEGER}[integral]
        return regex

    def multiple_of(self, m, integral, path) -> tuple[bool | None, int | None]:
        """``multipleOf m`` as (integral, most fraction digits): exact when ``1/m`` is an integer
        (every integer is a multiple; with ``m = 10**-d`` the numbers with at most d digits)."""
        if not _is_num(m) or m <= 0:
            raise UnsupportedSchemaError(f"multipleOf must be a positive number, not {m!r}", "multipleOf",
                                         _ptr(path, "multipleOf"))
        q = Fraction(Decimal(repr(m)))
        if (1 / q).denominator == 1:  # every integer is a multiple
            if integral is True:
                return True, None
            if q == 1:
                if integral is False:
                    raise _Never()
                return True, None
        d = next((d for d in range(1, 21) if q * 10 ** d == 1), None)
        if d is not None:  # m = 10**-d: at most d fraction digits
            return integral, d
        raise UnsupportedSchemaError(f"multipleOf {m} is supported only for integers when 1/multipleOf is an "
                                     "integer, and as 1 or 10**-d for numbers", "multipleOf", _ptr(path, "multipleOf"))

    def obj(self, schema, path) -> str:
        props = dict(schema.get("properties", {}))
        required = list(dict.fromkeys(schema.get("required", [])))
        addl = schema.get("additionalProperties", False if self.strict else True)
        lo = int(schema.get("minProperties", 0))
        hi = None if schema.get("maxProperties") is None else int(schema["maxProperties"])
        min_extra = int(schema.get("$minExtra", 0))
        names = self.property_names(schema, props, path)  # (checks, body) on key contents
        patterns = self.pattern_properties(schema, path)  # [(content regex, schema)]
        missing = [r for r in required if r not in props]
        for r in missing:
            props[r] = None  # not declared: the pattern schemas or additionalProperties below

        def value_schema(name: str):
            """What the value of a key must satisfy: its own schema, the schemas of the patterns
            it matches, additionalProperties if neither."""
            spelled = _canon(name)[1:-1]
            hits = [sub for r, sub in patterns if re.fullmatch(r, spelled)]
            own = props[name]
            if own is None and not hits:
                return addl
            parts = ([own] if own is not None else []) + hits
            return parts[0] if len(parts) == 1 else {"allOf": parts}

        members = []  # (key terminal, value symbol, required)
        for name in props:
            try:
                sym = self.value(value_schema(name), _ptr(path, "properties", name))
            except _Never:
                if name in required:
                    raise
                continue
            members.append((self.term(self.ws + re.escape(_canon(name)) + ":"), sym, name in required))
        # additional keys: one key class per set of patterns matched (lookaheads keep them disjoint)
        checks, body = names if names is not None else ([], None)
        if props:
            checks = checks + [(True, "|".join(enc_str(n) for n in props))]
        extras = []
        for hit in itertools.product((False, True), repeat=len(patterns)) if body is not None else ():
            subs = [sub for (r, sub), h in zip(patterns, hit) if h]
            target = addl if not subs else (subs[0] if len(subs) == 1 else {"allOf": subs})
            if target is False:
                continue
            try:
                vsym = self.value(target, _ptr(path, "additionalProperties" if not subs else "patternProperties"))
            except _Never:
                continue
            key_checks = checks + [(not h, r) for (r, _), h in zip(patterns, hit)]
            key = self.term(self.render(self.guarded(key_checks, f'"{body}":', ":")))
            extras.append(f"{key} {vsym}")
        extra = None if not extras else (extras[0] if len(extras) == 1 else "(" + " | ".join(extras) + ")")
        if hi is not None and len([m for m in members if m[2]]) > hi:
            raise _Never()
        n, cap = len(members), max(lo, 1 if hi is None else hi + 1, 1)
        comma, opn, cls = self.punct(","), self.punct("{"), self.punct("}")

        def step(state):
            """(accepting, [(text, next state)]) of the automaton over members then extras."""
            i, c, e = state
            sep = f"{comma} " if c else ""
            room = hi is None or c < hi
            if i < n:
                key, sym, req = members[i]
                moves = [(f"{sep}{key} {sym}", (i + 1, min(c + 1, cap), 0))] if room else []
                if not req:
                    moves.append(("", (i + 1, c, 0)))
                return False, moves
            ok = c >= lo and e >= min_extra
            moves = [(f"{sep}{extra}", (n, min(c + 1, cap), min(e + 1, min_extra)))] if extra and room else []
            return ok, moves

        return self.automaton_rule("obj", (opn, cls), (0, 0, 0), step)

    def automaton_rule(self, prefix: str, brackets: tuple[str, str], start, step) -> str:
        """Rules for a bracketed sequence accepted by a finite automaton (``step(state)`` gives
        ``(accepting, [(text, next)])``; text ``""`` is an empty move); raises _Never if no path
        accepts."""
        name = self.new_rule(prefix)
        graph, order, todo = {}, [], [start]
        while todo:
            st = todo.pop()
            if st in graph:
                continue
            self.spend("#")
            graph[st] = step(st)
            order.append(st)
            todo += [nxt for _, nxt in graph[st][1]]
        live = {st for st in graph if graph[st][0]}
        changed = True
        while changed:
            changed = False
            for st, (_, moves) in graph.items():
                if st not in live and any(nxt in live for _, nxt in moves):
                    live.add(st)
                    changed = True
        if start not in live:
            raise _Never()
        names = {st: f"{name}_{j}" for j, st in enumerate(order)}
        # a state whose only way on is the empty end is written as nothing
        empty = {st for st in live if graph[st][0] and not any(nxt in live for _, nxt in graph[st][1])}

        def sym(st) -> str:
            return "" if st in empty else names[st]

        for st in order:
            if st not in live or st in empty:
                continue
            accepting, moves = graph[st]
            alts = [f"{text} {sym(nxt)}".strip() for text, nxt in moves if nxt in live]
            alts = [a for a in dict.fromkeys(alts) if a]
            body = " | ".join(alts)
            if accepting or any(not text and nxt in empty for text, nxt in moves if nxt in live):
                body = f"({body})?"
            self.rules.append(f"{names[st]}: {body}")
        self.rules.append(f"{name}: {brackets[0]} {sym(start)} {brackets[1]}")
        return name

    def property_names(self, schema, props, path) -> tuple[list, str]:
        """``propertyNames`` as (lookahead checks, body) on key contents, None when no name is
        allowed; declared properties whose names it rejects become absent (``False``)."""
        if "propertyNames" not in schema:
            return [], f"{CH}*"
        import jsonschema
        pn = schema["propertyNames"]
        validator = jsonschema.Draft202012Validator(self.root).evolve(schema=pn)
        for p in list(props):
            if not validator.is_valid(p):
                props[p] = False
        try:
            flat = self.flatten(pn, _ptr(path, "propertyNames"))
        except _Never:
            return None
        flat = {k: v for k, v in flat.items() if k not in ANNOTATIONS}
        t = flat.pop("type", "string")
        if "string" not in ([t] if isinstance(t, str) else t):
            return None
        if "enum" in flat or "const" in flat:
            vals = list(flat["enum"]) if "enum" in flat else [flat["const"]]
            vals = [v for v in vals if isinstance(v, str) and validator.is_valid(v)]
            return ([], "(?:" + "|".join(enc_str(v) for v in vals) + ")") if vals else None
        string_keys = {"minLength", "maxLength", "pattern", "format", "$notIn", "$notMatching"}
        if set(flat) - string_keys:
            k = sorted(set(flat) - string_keys)[0]
            raise UnsupportedSchemaError(f"`{k}` in propertyNames is not supported", "propertyNames",
                                         _ptr(path, "propertyNames", k))
        return self.string_parts(flat, _ptr(path, "propertyNames"))

    def pattern_properties(self, schema, path) -> list:
        """``patternProperties`` as [(regex over key contents, schema)]."""
        pp = schema.get("patternProperties", {})
        if len(pp) > MAX_PATTERNS:
            raise UnsupportedSchemaError(f"more than {MAX_PATTERNS} patternProperties (each set of matched patterns "
                                         "is one key class)", "patternProperties", _ptr(path, "patternProperties"))
        return [(self.pattern_regex(k, _ptr(path, "patternProperties", k)), v) for k, v in pp.items()]

    def array(self, schema, path) -> str:
        if schema.get("uniqueItems"):
            self.unsupported("uniqueItems", path, "uniqueItems is not supported")
        if "unevaluatedItems" in schema:
            self.unsupported("unevaluatedItems", path, "unevaluatedItems beside contains is not supported")
        prefix = list(schema.get("prefixItems", []))
        items = schema.get("items", True)
        lo = int(schema.get("minItems", 0))
        hi = None if schema.get("maxItems") is None else int(schema["maxItems"])
        contains = schema.get("contains")
        cfrom = int(schema.get("$containsFrom", 0))
        cmin = int(schema.get("minContains", 1)) if contains is not None else 0
        cmax = schema.get("maxContains") if contains is not None else None
        cmax = None if cmax is None else int(cmax)
        neg = None if contains is None else self.negate(contains, _ptr(path, "contains"))

        def split(i: int, sub, where: str):
            """(symbol of the items that count for contains, of those that do not); None: none."""
            def sym(s):
                try:
                    return self.value(s, where)
                except _Never:
                    return None
            if contains is None or i < cfrom:
                return None, sym(sub)
            return sym({"allOf": [sub, contains]}), sym({"allOf": [sub, neg]})

        slots = [split(i, sub, _ptr(path, "prefixItems", i)) for i, sub in enumerate(prefix)]
        k = len(slots)
        tail_slot = split(max(k, cfrom), items, _ptr(path, "items"))
        if lo > MAX_REPEAT or max(k, cfrom) > MAX_REPEAT or (hi is not None and hi > MAX_REPEAT):
            kw = "minItems" if lo > MAX_REPEAT else "maxItems"
            raise UnsupportedSchemaError(f"{kw} above the bound {MAX_REPEAT}", kw, _ptr(path, kw))
        pcap = max(k, lo, cfrom, 1) if hi is None else hi
        ccap = (cmax + 1 if cmax is not None else cmin) if contains is not None else 0
        comma, opn, cls = self.punct(","), self.punct("["), self.punct("]")

        def step(state):
            i, c = state
            ok = i >= lo and c >= cmin and (cmax is None or c <= cmax)
            if (hi is not None and i >= hi) or (cmax is not None and c > cmax):
                return ok, []
            yes, no = slots[i] if i < k else (tail_slot if i >= cfrom else split(i, items, _ptr(path, "items")))
            sep = f"{comma} " if i else ""
            nxt = min(i + 1, pcap)
            moves = []
            if yes is not None:
                moves.append((f"{sep}{yes}", (nxt, min(c + 1, ccap))))
            if no is not None:
                moves.append((f"{sep}{no}", (nxt, c)))
            return ok, moves

        return self.automaton_rule("arr", (opn, cls), (0, 0), step)

    def translate(self) -> str:
        top = self.value(self.root, "#")
        lines = [f"start: {top}"] + self.rules
        for regex, name in self.terminals.items():
            lines.append(f"{name}: {lark_regex_literal(regex)}")
        return "\n".join(lines) + "\n"


_GROUPS = {
    "string": [("minLength",), ("maxLength",), ("pattern",), ("format",), ("$notIn",), ("$notMatching",)],
    "number": [("minimum",), ("maximum",), ("exclusiveMinimum",), ("exclusiveMaximum",), ("multipleOf",),
               ("$nonintegral",)],
    "object": [("required",), ("properties",), ("additionalProperties", "properties"), ("minProperties",),
               ("maxProperties",), ("propertyNames",), ("patternProperties",), ("$minExtra",)],
    "array": [("prefixItems", "items"), ("minItems",), ("maxItems",),
              ("contains", "minContains", "maxContains", "$containsFrom"), ("uniqueItems",)],
}
_GROUPS["integer"] = _GROUPS["number"]
_GROUPS["null"] = _GROUPS["boolean"] = []


def _constraint_groups(ty: str, s: dict) -> list[dict]:
    """The keywords of ``s`` that constrain values of type ``ty``, grouped by what must be negated
    together (the first key of a group is the one negated; the others give its context)."""
    out = []
    for keys in _GROUPS[ty]:
        if keys[0] in s or (keys[0] == "prefixItems" and "items" in s):
            out.append({k: s[k] for k in (("items", "prefixItems") if keys[0] == "prefixItems" else keys) if k in s})
    return out


_UNEVALUATED = {"unevaluatedProperties", "unevaluatedItems"}
_EVALUATING = {"properties", "additionalProperties", "prefixItems", "items", "contains", "patternProperties"}


def _mentions(schema, keys: set) -> bool:
    """True when ``schema`` uses one of ``keys`` anywhere (outside constants)."""
    if isinstance(schema, dict):
        return any(k in keys or (k not in ("enum", "const") and _mentions(v, keys)) for k, v in schema.items())
    if isinstance(schema, list):
        return any(_mentions(v, keys) for v in schema)
    return False


def _scope_unevaluated(schema: dict) -> dict:
    """``unevaluatedProperties``/``unevaluatedItems`` of a schema with no applicator left (all
    merged in): the properties/items it has not evaluated are exactly those that
    ``additionalProperties``/``items`` would see."""
    if "unevaluatedProperties" in schema:
        schema = dict(schema)
        u = schema.pop("unevaluatedProperties")
        if "additionalProperties" not in schema:  # keys matching patternProperties are evaluated too
            schema["additionalProperties"] = u
            if schema.get("$negOnly") and u is not True and u != {}:  # named by a negation only
                props = dict(schema.get("properties", {}))
                for name in schema["$negOnly"]:
                    if name in props:
                        props[name] = _both(props[name], u)
                schema["properties"] = props
    if "unevaluatedItems" in schema:
        schema = dict(schema)
        u = schema.pop("unevaluatedItems")
        if "items" not in schema:
            if "contains" in schema and u is not True and u != {}:
                schema["unevaluatedItems"] = u  # items matched by contains are evaluated: not exact
            else:
                schema["items"] = u
    return schema


def _quote_safe(regex: str) -> str:
    """Lark reads ``\\"`` in a regex literal as ``"``, eating a backslash: spell such quotes ``["]``."""
    out, i, in_class = [], 0, False
    while i < len(regex):
        c = regex[i]
        if c == "\\":
            pair = regex[i:i + 2]
            out.append('["]' if pair == '\\"' and not in_class else pair)
            i += 2
            continue
        if c == "[" and not in_class:
            in_class = True
            out.append(c)
            if regex[i + 1:i + 2] == "^":
                out.append("^")
                i += 1
            if regex[i + 1:i + 2] == "]":
                out.append("]")
                i += 1
        elif c == "]" and in_class:
            in_class = False
            out.append(c)
        elif c == '"' and not in_class and out and out[-1].endswith("\\"):
            out.append('["]')
        else:
            out.append(c)
        i += 1
    return "".join(out)


def _both(x, y):
    """The schema for ``x`` and ``y`` (allOf), without the wrapper when one is trivial."""
    if x is True or x == {}:
        return y
    if y is True or y == {}:
        return x
    return {"allOf": [x, y]}


def _types(x) -> set | None:
    """The JSON types a schema's top level (and its allOf) allows; None when not stated."""
    if x is False:
        return set()
    if not isinstance(x, dict):
        return None
    out = None
    if "type" in x:
        t = {x["type"]} if isinstance(x["type"], str) else set(x["type"])
        out = t | ({"integer"} if "number" in t else set())
    for sub in x.get("allOf", []):
        st = _types(sub)
        if st is not None:
            out = st if out is None else out & st  # both hold integer wherever they hold number
    return out


def _may_overlap(x, y) -> bool:
    """False when the two schemas provably share no value (their stated types differ)."""
    a, b = _types(x), _types(y)
    return a is None or b is None or bool(a & b)


def _alts(s):
    return s["anyOf"] if set(s) == {"anyOf"} else [s]


def _type_of(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "integer" if v == int(v) else "number"
    if isinstance(v, str):
        return "string"
    return "array" if isinstance(v, list) else "object"


def _json_equal(a, b) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if _is_num(a) and _is_num(b):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def json_schema_to_lark(schema: dict | bool | str, *, strict: bool = False, lenient: bool = False,
                        whitespace: str | None = None, resources: dict | None = None) -> str:
    """Lark grammar text whose language is the JSON spellings (see the module docstring) of the
    instances of ``schema`` (a dict, a boolean, or JSON text).

    ``strict``: objects without ``additionalProperties`` allow no other keys. ``lenient``: warn
    about and ignore unsupported keywords instead of raising :class:`UnsupportedSchemaError`.
    ``whitespace``: ``None`` (compact) or ``"flexible"`` (bounded runs, see ``MAX_WS``).
    ``resources``: other schema documents by URI, for ``$ref`` to them (nothing is fetched).

    Example:
        >>> print(json_schema_to_lark({"type": "object", "properties": {"a": {"type": "boolean"}},
        ...                            "required": ["a"], "additionalProperties": False}))
        start: v2
        obj1_0: T1 T0
        obj1: T3 obj1_0 T4
        ?v2: obj1
        T0: /(?:true|false)/
        T1: /"a":/
        T2: /,/
        T3: /\\{/
        T4: /\\}/
        <BLANKLINE>
    """
    if isinstance(schema, str):
        schema = json.loads(schema)
    return _to_lark(schema, strict, lenient, whitespace, False, resources)


def _to_lark(schema, strict: bool, lenient: bool, whitespace: str | None, disjoint_any: bool,
             resources: dict | None = None) -> str:
    tr = _Translator(schema, strict, lenient, whitespace, disjoint_any, resources)
    try:
        return tr.translate()
    except _Never:
        raise UnsupportedSchemaError("the schema accepts no instance (it is unsatisfiable)", None, "#") from None


def grammar_from_json_schema(schema: dict | bool | str, **options) -> Grammar:
    """A :class:`Grammar` for ``schema`` (options as for :func:`json_schema_to_lark`), checked by
    lark's LALR(1) builder.

    Example:
        >>> g = grammar_from_json_schema({"type": "array", "items": {"enum": ["a", "b"]}, "maxItems": 2})
        >>> g.parser.parse('["a","b"]') is not None
        True
    """
    if isinstance(schema, str):
        schema = json.loads(schema)
    options = {"strict": False, "lenient": False, "whitespace": None, "resources": None, **options}
    try:
        return Grammar.from_lark(_to_lark(schema, **options, disjoint_any=False), source="<json schema>")
    except GrammarConflictError:
        pass  # overlapping anyOf branches: make them disjoint (A, not A and B, ...) and try again
    try:
        return Grammar.from_lark(_to_lark(schema, **options, disjoint_any=True), source="<json schema>")
    except GrammarConflictError as e:
        raise UnsupportedSchemaError(
            "the schema's alternatives (anyOf/oneOf/type unions of objects or arrays) overlap in a way "
            f"an LALR(1) grammar cannot tell apart: {e}", "anyOf", "#") from None


# -- serialisation -------------------------------------------------------------------------------

def serialize_instance(schema: dict | bool | str, instance, *, whitespace: str | None = None,
                       resources: dict | None = None) -> str:
    """``instance`` written as the grammar for ``schema`` expects it: compact separators, object keys
    in the schema's ``properties`` order (then the other keys in the instance's order), constants
    in the order their schema lists them.

    Example:
        >>> s = {"properties": {"b": {}, "a": {}}}
        >>> serialize_instance(s, {"a": 1, "c": [1, {"z": None}], "b": "x"})
        '{"b":"x","a":1,"c":[1,{"z":null}]}'
    """
    if isinstance(schema, str):
        schema = json.loads(schema)
    tr = _Translator(schema, False, True, None, resources=resources)
    root = schema = tr.root
    try:
        import jsonschema
        root_validator = jsonschema.Draft202012Validator(root)
        valid = lambda s, v: root_validator.evolve(schema=s).is_valid(v)  # noqa: E731
    except ImportError:  # pragma: no cover
        valid = lambda s, v: True  # noqa: E731

    def order(s, v, depth=0):
        """The instance with dicts re-ordered as the grammar writes them (a JSON-ready structure)."""
        if depth > 100 or not isinstance(s, (dict, bool)):
            return v
        try:
            s = tr.flatten(s, "#")
        except (_Never, UnsupportedSchemaError):
            return v
        if "$ref" in s:  # a recursive reference
            try:
                target = tr.resolve_ref(s["$ref"], "#")
            except UnsupportedSchemaError:
                return v
            rest = {k: x for k, x in s.items() if k != "$ref"}
            return order({"allOf": [target, rest]} if rest else target, v, depth + 1)
        for const in ([s["const"]] if "const" in s else []) + list(s.get("enum", [])):
            if _json_equal(const, v):
                return _like(const, v)
        for comb in ("anyOf", "oneOf"):
            if comb in s:
                rest = {k: x for k, x in s.items() if k != comb}
                for sub in s[comb]:
                    try:
                        merged = tr.merge(rest, tr.flatten(sub, "#"), "#") if rest else sub
                    except (_Never, UnsupportedSchemaError):
                        continue
                    if valid(_public(merged), v):
                        return order(merged, v, depth + 1)
                return v
        s = _scope_unevaluated(s)
        if isinstance(v, dict):
            props = s.get("properties", {})
            names = list(props) + [r for r in s.get("required", []) if r not in props]
            out = {k: order(props.get(k, s.get("additionalProperties", True)), v[k], depth + 1)
                   for k in names if k in v}
            addl = s.get("additionalProperties", True)
            for k in v:
                if k not in out:
                    out[k] = order(addl, v[k], depth + 1)
            return out
        if isinstance(v, list):
            prefix = s.get("prefixItems", [])
            items = s.get("items", True)
            return [order(prefix[i] if i < len(prefix) else items, x, depth + 1) for i, x in enumerate(v)]
        return v

    return _spell(order(schema, instance), ", " if whitespace == "flexible" else ",",
                  ": " if whitespace == "flexible" else ":")


def _internal_ok(schema: dict, v, validator) -> bool:
    """Whether ``v`` meets the translator's own keywords at the top of ``schema`` that
    :func:`_public` cannot write in JSON Schema (patterns over JSON spellings, counted contains)."""
    if isinstance(v, str) and any(re.fullmatch(r, _canon(v)[1:-1]) for r in schema.get("$notMatching", [])):
        return False
    if isinstance(v, list) and "$containsFrom" in schema and "contains" in schema:
        sub = validator.evolve(schema=_public(schema["contains"]))
        n = sum(1 for x in v[schema["$containsFrom"]:] if sub.is_valid(x))
        hi = schema.get("maxContains")
        return n >= schema.get("minContains", 1) and (hi is None or n <= hi)
    return True


def _public(schema):
    """``schema`` with the translator's own keywords written in JSON Schema (for validation)."""
    if isinstance(schema, list):
        return [_public(x) for x in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: (v if k in ("enum", "const") else _public(v)) for k, v in schema.items() if k not in INTERNAL}
    extra = []
    if schema.get("$nonintegral"):
        extra.append({"not": {"type": "integer"}})
    if "$notIn" in schema:
        extra.append({"not": {"enum": list(schema["$notIn"])}})
    if schema.get("$minExtra"):
        names = list(schema.get("properties", {}))
        extra.append({"not": {"propertyNames": {"enum": names}}} if names else {"minProperties": 1})
    if "$containsFrom" in schema:  # not expressible: validate without the contains count
        for k in ("contains", "minContains", "maxContains"):
            out.pop(k, None)
    if extra:
        out["allOf"] = list(out.get("allOf", [])) + extra
    return out


def _spell(v, comma: str = ",", colon: str = ":") -> str:
    """JSON (compact by default) with every number in its canonical spelling (integral values as
    integers, others as plain decimals without exponent or trailing zeros)."""
    if isinstance(v, dict):
        return "{" + comma.join(_canon(k) + colon + _spell(x, comma, colon) for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + comma.join(_spell(x, comma, colon) for x in v) + "]"
    if isinstance(v, float) and math.isfinite(v):
        d = Decimal(repr(v))
        if d == d.to_integral_value():
            return str(int(d))
        return format(d.normalize(), "f")
    return _canon(v)


def _like(const, v):
    """``v`` with dict keys in the order of the equal constant ``const`` (numbers as the constant)."""
    if isinstance(const, dict):
        return {k: _like(const[k], v[k]) for k in const}
    if isinstance(const, list):
        return [_like(c, x) for c, x in zip(const, v)]
    return v
