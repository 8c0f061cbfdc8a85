"""JSON Schema (draft 2020-12) to a Lark grammar for :class:`~grammars.Grammar`.

    json_schema_to_lark(schema)  -->  Lark text      grammar_from_json_schema(schema)  -->  Grammar

The language is a subset of the JSON texts that validate against the schema, chosen so that every
valid *value* has exactly one accepted spelling (see :func:`serialize_instance`):

* compact separators (``json.dumps(obj, separators=(",", ":"), ensure_ascii=False)``); with
  ``whitespace="flexible"`` up to ``MAX_WS`` spaces/tabs/newlines may follow ``{ [ , :`` and precede
  ``} ]``, so whitespace can never run away;
* object keys in the schema's ``properties`` order (optional ones may be left out), then any
  additional properties (never a declared name again);
* strings spelled as ``json.dumps`` spells them (no needless ``\\uXXXX`` or ``\\/`` escapes);
* numbers without needless forms; an integral number is spelled as an integer (``1``, not ``1.0``:
  the same JSON Schema value, and no run of zeros for a model to fall into).

A keyword that is not supported raises :class:`UnsupportedSchemaError` naming the keyword and its
JSON pointer (``lenient=True`` turns that into a warning and ignores the keyword); annotations
(``title``, ``description``, ``default``, ``examples``...) are ignored silently.

Example:
    >>> print(json_schema_to_lark({"type": "integer", "minimum": 1, "maximum": 12}))
    start: T0
    T0: /(?:1[0-2]|[1-9])/
    <BLANKLINE>
"""

from __future__ import annotations

import json
import math
import re
import warnings
from decimal import Decimal
from fractions import Fraction

try:  # Python >= 3.11
    import re._parser as _sre_parse
    import re._constants as _sre_c
except ImportError:  # pragma: no cover
    import sre_parse as _sre_parse  # type: ignore
    import sre_constants as _sre_c  # type: ignore

from .errors import GrammarError, GrammarConflictError
from .grammar import Grammar, lark_regex_literal

__all__ = ["UnsupportedSchemaError", "json_schema_to_lark", "grammar_from_json_schema", "serialize_instance"]

MAX_WS = 20
MAX_REPEAT = 256  # bound on expanded minItems/maxItems/minLength/maxLength

ANNOTATIONS = {
    "title", "description", "examples", "default", "$comment", "$schema", "$id", "deprecated",
    "readOnly", "writeOnly", "contentMediaType", "contentEncoding", "contentSchema", "$anchor",
    "$vocabulary",
}
TYPES = ("null", "boolean", "object", "array", "number", "integer", "string")

# one JSON string character as json.dumps(ensure_ascii=False) writes it
CH = r'(?:[^"\\\x00-\x1f]|\\["\\bfnrt]|\\u00(?:0[0-7bef]|1[0-9a-f]))'
INT = r"-?(?:0|[1-9][0-9]*)"
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


class _Never(Exception):
    """The (sub)schema accepts no instance."""


def _ptr(path: str, *parts) -> str:
    for p in parts:
        path += "/" + str(p).replace("~", "~0").replace("/", "~1")
    return path


def _integral_as_int(v):
    """``v`` with every integral float written as an int (``1.0`` -> ``1``), recursively."""
    if isinstance(v, float) and math.isfinite(v) and v == int(v) and abs(v) < 1e300:
        return int(v)
    if isinstance(v, list):
        return [_integral_as_int(x) for x in v]
    if isinstance(v, dict):
        return {k: _integral_as_int(x) for k, x in v.items()}
    return v


def _canon(x) -> str:
    return json.dumps(x, separators=(",", ":"), ensure_ascii=False)


def _is_num(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


# -- strings -------------------------------------------------------------------------------------

def _enc_char(c: str) -> str:
    """Regex for the JSON spelling of the character ``c`` inside a string."""
    return re.escape(json.dumps(c, ensure_ascii=False)[1:-1])


def _lit(value) -> str:
    """Regex for the canonical spelling of a JSON value (integral numbers as integers)."""
    if isinstance(value, bool) or value is None:
        return _canon(value)
    if _is_num(value):
        if isinstance(value, float) and not math.isfinite(value):
            raise _Never()
        if value == int(value) and abs(value) < 1e300:
            i = int(value)
            return re.escape(str(i))
        return re.escape(_canon(value))
    if isinstance(value, str):
        return re.escape(_canon(value))
    if isinstance(value, list):
        return r"\[" + ",".join(_lit(v) for v in value) + r"\]"
    if isinstance(value, dict):
        return r"\{" + ",".join(re.escape(_canon(k)) + ":" + _lit(v) for k, v in value.items()) + r"\}"
    raise TypeError(f"not a JSON value: {value!r}")


def _ranges_class(ranges, negate: bool = False) -> str:
    out = []
    for lo, hi in ranges:
        a = _cls_char(lo)
        out.append(a if lo == hi else f"{a}-{_cls_char(hi)}")
    return "[" + ("^" if negate else "") + "".join(out) + "]"


def _cls_char(c: int) -> str:
    ch = chr(c)
    if ch.isalnum() and ch.isascii():
        return ch
    return f"\\x{c:02x}" if c < 0x100 else (f"\\u{c:04x}" if c < 0x10000 else f"\\U{c:08x}")


_SPECIAL = [ord('"'), ord("\\")] + list(range(0x20))
_ECMA_SPACE = [(9, 13), (32, 32), (0xA0, 0xA0), (0x1680, 0x1680), (0x2000, 0x200A), (0x2028, 0x2029),
               (0x202F, 0x202F), (0x205F, 0x205F), (0x3000, 0x3000), (0xFEFF, 0xFEFF)]
_WORD = [(48, 57), (65, 90), (95, 95), (97, 122)]


def _complement(ranges):
    out, prev = [], 0
    for lo, hi in sorted(ranges):
        if lo > prev:
            out.append((prev, lo - 1))
        prev = max(prev, hi + 1)
    if prev <= 0x10FFFF:
        out.append((prev, 0x10FFFF))
    return out


def _normalize(ranges):
    out = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


_ESC_ALL = r'\\["\\bfnrt]|\\u00(?:0[0-7bef]|1[0-9a-f])'


def _charset_regex(ranges) -> str:
    """Regex for one JSON-encoded character whose code point is in ``ranges``."""
    ranges = _normalize(ranges)
    special = [c for c in _SPECIAL if any(lo <= c <= hi for lo, hi in ranges)]
    plain = _normalize(_subtract(ranges, [(c, c) for c in _SPECIAL]))
    alts = []
    if plain:
        missing = _subtract(_complement(plain), [(0, 0x1F), (34, 34), (92, 92), (0xD800, 0xDFFF)])
        if len(missing) < len(plain):
            alts.append(_ranges_class(_normalize(missing + [(0, 0x1F), (34, 34), (92, 92)]), negate=True))
        else:
            alts.append(_ranges_class(plain))
    if len(special) == len(_SPECIAL):
        alts.append(_ESC_ALL)
    else:
        alts += [_enc_char(chr(c)) for c in special]
    if not alts:
        raise _Never()
    return alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"


def _subtract(a, b):
    out = []
    b = _normalize(b)
    for lo, hi in a:
        cur = lo
        for blo, bhi in b:
            if bhi < cur or blo > hi:
                continue
            if blo > cur:
                out.append((cur, blo - 1))
            cur = max(cur, bhi + 1)
        if cur <= hi:
            out.append((cur, hi))
    return out


class _PatternError(Exception):
    pass


def _category_ranges(cat) -> list:
    C = _sre_c
    table = {
        C.CATEGORY_DIGIT: [(48, 57)], C.CATEGORY_NOT_DIGIT: _complement([(48, 57)]),
        C.CATEGORY_WORD: _WORD, C.CATEGORY_NOT_WORD: _complement(_WORD),
        C.CATEGORY_SPACE: _ECMA_SPACE, C.CATEGORY_NOT_SPACE: _complement(_ECMA_SPACE),
    }
    if cat not in table:
        raise _PatternError(f"category {cat}")
    return table[cat]


def _translate(items) -> str:
    """ECMA-262 regex (parsed by Python's parser) over characters -> regex over JSON spellings."""
    C = _sre_c
    out = []
    for op, av in items:
        if op is C.LITERAL:
            out.append(_charset_regex([(av, av)]))
        elif op is C.NOT_LITERAL:
            out.append(_charset_regex(_complement([(av, av)])))
        elif op is C.ANY:  # ECMA: any but line terminators
            out.append(_charset_regex(_complement([(10, 10), (13, 13), (0x2028, 0x2029)])))
        elif op is C.IN:
            ranges, negate = [], False
            for iop, iav in av:
                if iop is C.NEGATE:
                    negate = True
                elif iop is C.LITERAL:
                    ranges.append((iav, iav))
                elif iop is C.RANGE:
                    ranges.append(iav)
                elif iop is C.CATEGORY:
                    ranges += _category_ranges(iav)
                else:
                    raise _PatternError(f"class item {iop}")
            ranges = _normalize(ranges)
            out.append(_charset_regex(_complement(ranges) if negate else ranges))
        elif op is C.CATEGORY:
            out.append(_charset_regex(_category_ranges(av)))
        elif op is C.BRANCH:
            out.append("(?:" + "|".join(_translate(b) for b in av[1]) + ")")
        elif op is C.SUBPATTERN:
            group, add_flags, del_flags, sub = av
            if add_flags or del_flags:
                raise _PatternError("inline flags")
            out.append("(?:" + _translate(sub) + ")")
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT, getattr(C, "POSSESSIVE_REPEAT", None)):
            lo, hi, sub = av
            if op is not C.MAX_REPEAT and op is not C.MIN_REPEAT:
                raise _PatternError("possessive repeat")
            hi_s = "" if hi is C.MAXREPEAT else str(hi)
            out.append(f"(?:{_translate(sub)}){{{lo},{hi_s}}}")
        else:
            raise _PatternError(str(op))
    return "".join(out)


def _pattern_regex(pattern: str) -> str:
    """Regex over JSON string contents for the strings in which ``pattern`` (ECMA-262) finds a match."""
    if re.search(r"\\[pPkcu]\{|\(\?<[=!]|\(\?[=!]|\\[bBk]|\(\?<\w|\\\d", pattern):
        raise _PatternError("lookaround, backreference, word boundary or property escape")
    try:
        parsed = _sre_parse.parse(pattern)
    except re.error as e:
        raise _PatternError(str(e)) from None
    if parsed.state.flags & ~(re.UNICODE):
        raise _PatternError("flags")
    items = list(parsed)
    C = _sre_c
    if len(items) == 1 and items[0][0] is C.BRANCH:
        return "(?:" + "|".join(_anchor_wrap(list(b)) for b in items[0][1][1]) + ")"
    return _anchor_wrap(items)


def _anchor_wrap(items) -> str:
    C = _sre_c
    start = end = False
    if items and items[0][0] is C.AT and items[0][1] in (C.AT_BEGINNING, C.AT_BEGINNING_STRING):
        start, items = True, items[1:]
    if items and items[-1][0] is C.AT and items[-1][1] in (C.AT_END, C.AT_END_STRING):
        end, items = True, items[:-1]
    for op, av in items:
        if op is C.AT:
            raise _PatternError("anchor in the middle")
    body = _translate(items)
    return ("" if start else f"{CH}*") + f"(?:{body})" + ("" if end else f"{CH}*")


def _not_in_set(words: list[str]) -> str:
    """Regex over JSON string contents for strings not in ``words`` (a finite set)."""
    trie: dict = {}
    for w in words:
        node = trie
        for c in w:
            node = node.setdefault(c, {})
        node[None] = True

    def rec(node) -> str:
        kids = sorted(k for k in node if k is not None)
        alts = []
        if None not in node:
            alts.append("")  # end here: not a word
        cps = [(ord(k), ord(k)) for k in kids]
        other = _complement(cps)
        if other:
            alts.append(_charset_regex(other) + f"{CH}*")
        for k in kids:
            alts.append(_enc_char(k) + rec(node[k]))
        return "(?:" + "|".join(alts) + ")" if alts else "(?!)"

    return rec(trie)


# -- integers ------------------------------------------------------------------------------------

def _digits_range(lo: str, hi: str) -> str:
    """Regex for the decimal strings of equal length n between lo and hi (inclusive)."""
    if lo == hi:
        return lo
    if len(lo) == 1:
        return f"[{lo}-{hi}]" if lo != hi else lo
    if lo[0] == hi[0]:
        return lo[0] + _group(_digits_range(lo[1:], hi[1:]))
    n = len(lo) - 1
    alts = []
    if lo[1:] == "0" * n:
        first = lo[0]
    else:
        alts.append(lo[0] + _group(_digits_range(lo[1:], "9" * n)))
        first = str(int(lo[0]) + 1)
    if hi[1:] == "9" * n:
        last = hi[0]
    else:
        last = str(int(hi[0]) - 1)
    if int(first) <= int(last):
        cls = first if first == last else f"[{first}-{last}]"
        alts.append(cls + ("[0-9]" if n == 1 else f"[0-9]{{{n}}}"))
    if hi[1:] != "9" * n:
        alts.append(hi[0] + _group(_digits_range("0" * n, hi[1:])))
    return "|".join(alts)


def _group(r: str) -> str:
    return r if re.fullmatch(r"[0-9]*(?:\[[0-9-]+\])?(?:\[0-9\](?:\{\d+\})?)?", r) else f"(?:{r})"


def _nat_range(lo: int, hi: int | None) -> str:
    """Regex for natural numbers in [lo, hi] (hi None: unbounded), no leading zeros."""
    alts = []
    if hi is None:
        top = 10 ** len(str(lo)) - 1
        alts.append(f"[1-9][0-9]{{{len(str(lo))},}}")
        alts.append(_nat_range(lo, top))
        return "|".join(alts)
    for length in range(len(str(hi)), len(str(lo)) - 1, -1):  # longer first: Python's re (lark's
        a = max(lo, 10 ** (length - 1) if length > 1 else 0)  # parser) takes the first alternative
        b = min(hi, 10 ** length - 1)                          # that matches, the lexer the longest
        if a <= b:
            alts.append(_digits_range(str(a), str(b)))
    return "|".join(alts)


def _int_range(lo: int | None, hi: int | None) -> str:
    """Regex for the integers in [lo, hi] (None: unbounded), JSON spelling (0, never -0)."""
    if lo is not None and hi is not None and lo > hi:
        raise _Never()
    alts = []
    if hi is None or hi >= 0:  # non-negative part
        alts.append(_nat_range(max(lo, 0) if lo is not None else 0, hi))
    if lo is None or lo < 0:  # negative part: -(n) for n in [max(1,-hi), -lo]
        nlo = max(1, -hi) if hi is not None else 1
        nhi = -lo if lo is not None else None
        if nhi is None or nlo <= nhi:
            alts.append("-(?:" + _nat_range(nlo, nhi) + ")")
    return "(?:" + "|".join(alts) + ")"


# -- the translator ------------------------------------------------------------------------------

class _Translator:
    def __init__(self, root, strict: bool, lenient: bool, whitespace: str | None):
        self.root = root
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
        if self.ws:
            r = (self.ws + r) if ch in "}]" else (r + self.ws)
        return self.term(r)

    def new_rule(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    # -- $ref --
    def resolve_ref(self, ref: str, path: str):
        if not ref.startswith("#"):
            raise UnsupportedSchemaError(f"only local references (#/...) are supported, not {ref!r}", "$ref", _ptr(path, "$ref"))
        from urllib.parse import unquote
        node = self.root
        frag = unquote(ref[1:])
        if frag and not frag.startswith("/"):
            raise UnsupportedSchemaError(f"anchors are not supported: {ref!r}", "$ref", _ptr(path, "$ref"))
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
        return schema

    def merge(self, a: dict, b: dict, path: str) -> dict:
        out = dict(a)
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
            elif k in ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties"):
                out[k] = max(out[k], v)
            elif k in ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties"):
                out[k] = min(out[k], v)
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
            elif k == "items" or k == "additionalProperties":
                out[k] = {"allOf": [out[k], v]}
            else:
                raise UnsupportedSchemaError(f"cannot merge two different values in allOf: {out[k]!r} and {v!r}", k, _ptr(path, k))
        if "allOf" in out:  # from anyOf/oneOf merges: distribute
            subs = out.pop("allOf")
            if "anyOf" in out or "oneOf" in out:
                subs.insert(0, {k: out.pop(k) for k in ("anyOf", "oneOf") if k in out})
            combo = subs[0]
            for s in subs[1:]:
                combo = {"anyOf": [{"allOf": [x, y]} for x in _alts(combo) for y in _alts(s)]}
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
            key = self.term(f'"{CH}*":' + self.ws)
            scalar = self.term(f"(?:null|true|false|{NUMBER}|{STRING})")
            self.rules.append(f"?any: any_obj | any_arr | {scalar}")
            self.rules.append(f"any_obj: {ob} [{key} any ({c} {key} any)*] {cb}")
            self.rules.append(f"any_arr: {oa} [any ({c} any)*] {ca}")
        return "any"

    def alternatives(self, schema, path: str) -> list[str]:
        """Symbols, one per alternative; scalar alternatives merged into one terminal."""
        scalars, others = self.branches(schema, path)
        alts = []
        if scalars:
            alts.append(self.term("|".join(dict.fromkeys(scalars)) if len(scalars) == 1 else "(?:" + "|".join(dict.fromkeys(scalars)) + ")"))
        alts += list(dict.fromkeys(others))
        if not alts:
            raise _Never()
        return alts

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
                subs = schema[comb]
                if comb == "oneOf":
                    self.check_disjoint(rest, subs, path)
                if "anyOf" in rest or "oneOf" in rest:
                    other = "oneOf" if comb == "anyOf" else "anyOf"
                    osubs = rest.pop(other)
                    if other == "oneOf":
                        self.check_disjoint(rest, osubs, path)
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

    def check_disjoint(self, rest, subs, path):
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
                    self.unsupported("oneOf", path, f"branches {i} and {j} are not provably disjoint (different "
                                     "types or different constants), so 'exactly one' cannot be enforced; "
                                     "use anyOf, or lenient=True to treat this oneOf as anyOf")
                    return

    def typed(self, schema: dict, path: str) -> tuple[list[str], list[str]]:
        known = {"type", "enum", "const", "properties", "required", "additionalProperties", "items",
                 "prefixItems", "minItems", "maxItems", "minLength", "maxLength", "pattern", "format",
                 "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "uniqueItems",
                 "minProperties", "maxProperties", "multipleOf", "nullable", "$ref"} | ANNOTATIONS
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
        vals = list(schema["enum"]) if "enum" in schema else [schema["const"]]
        if "enum" in schema and "const" in schema:
            vals = [v for v in vals if _json_equal(v, schema["const"])]
        rest = {k: v for k, v in schema.items() if k not in ("enum", "const")}
        if rest:
            import jsonschema  # filter the listed values by the other keywords
            validator = jsonschema.Draft202012Validator(self.root).evolve(schema=rest)
            vals = [v for v in vals if validator.is_valid(v)]
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
        lo = schema.get("minLength", 0)
        hi = schema.get("maxLength")
        fmt = schema.get("format")
        pat = schema.get("pattern")
        if fmt is not None:
            if fmt not in FORMATS:
                self.unsupported("format", path, f"format {fmt!r} is not supported (supported: {', '.join(sorted(FORMATS))})")
                fmt = None
        if hi is not None and hi > MAX_REPEAT * 16:
            raise UnsupportedSchemaError(f"maxLength {hi} is above the bound {MAX_REPEAT * 16}", "maxLength", _ptr(path, "maxLength"))
        length = f"{CH}{{{int(lo)},{'' if hi is None else int(hi)}}}"
        constraints = [c for c in (fmt, pat) if c is not None]
        if lo == 0 and hi is None:
            length = None
        if not constraints:
            return f'"{length or CH + "*"}"'
        if len(constraints) + (length is not None) > 1:
            raise UnsupportedSchemaError("combining format, pattern and minLength/maxLength in one string "
                                         "schema is not supported", "pattern" if pat is not None else "format", _ptr(path, "pattern" if pat is not None else "format"))
        if fmt is not None:
            return f'"{FORMATS[fmt]}"'
        try:
            return f'"{_pattern_regex(pat)}"'
        except _PatternError as e:
            raise UnsupportedSchemaError(f"pattern {pat!r} cannot be translated exactly ({e})", "pattern", _ptr(path, "pattern")) from None

    def number(self, schema, path, ty) -> str:
        if "multipleOf" in schema:
            m = schema["multipleOf"]
            if not (ty == "integer" and m == int(m) and m == 1):
                raise UnsupportedSchemaError(f"multipleOf {m} is not supported", "multipleOf", _ptr(path, "multipleOf"))
        lo = hi = None
        for k in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
            if k in schema:
                if not _is_num(schema[k]):
                    raise UnsupportedSchemaError(f"{k} must be a number", k, _ptr(path, k))
        bounded = any(k in schema for k in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"))
        if ty == "number" and not bounded:
            return NUMBER
        if ty == "number":
            bad = next(k for k in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum") if k in schema)
            raise UnsupportedSchemaError("bounds on non-integer numbers are not supported exactly; use type integer",
                                         bad, _ptr(path, bad))
        if "minimum" in schema:
            lo = math.ceil(Fraction(Decimal(repr(schema["minimum"]))))
        if "exclusiveMinimum" in schema:
            x = Fraction(Decimal(repr(schema["exclusiveMinimum"])))
            v = math.floor(x) + 1
            lo = v if lo is None else max(lo, v)
        if "maximum" in schema:
            hi = math.floor(Fraction(Decimal(repr(schema["maximum"]))))
        if "exclusiveMaximum" in schema:
            x = Fraction(Decimal(repr(schema["exclusiveMaximum"])))
            v = math.ceil(x) - 1
            hi = v if hi is None else min(hi, v)
        if not bounded:
            return INT
        return _int_range(lo, hi)

    def obj(self, schema, path) -> str:
        props = schema.get("properties", {})
        required = list(schema.get("required", []))
        addl = schema.get("additionalProperties", False if self.strict else True)
        for k in ("minProperties", "maxProperties"):
            if k in schema and not (k == "minProperties" and schema[k] <= len([r for r in required])):
                if k == "maxProperties" and addl is False and len(props) <= schema[k]:
                    continue
                self.unsupported(k, path, f"{k} is not supported")
        missing = [r for r in required if r not in props]
        if missing and addl is False:
            raise _Never()
        if missing:
            for r in missing:
                props = {**props, r: addl if addl is not True else {}}
        members = []  # (key regex, value symbol or None, required)
        for name, sub in props.items():
            try:
                sym = self.value(sub, _ptr(path, "properties", name))
            except _Never:
                if name in required:
                    raise
                continue
            members.append((self.term(re.escape(_canon(name)) + ":" + self.ws), sym, name in required))
        extra = None
        if addl is not False:
            try:
                asym = self.value(addl, _ptr(path, "additionalProperties"))
                key = self.term('"' + (_not_in_set(list(props)) if props else CH + "*") + '":' + self.ws)
                extra = f"{key} {asym}"
            except _Never:
                pass
        name = self.new_rule("obj")
        comma, opn, cls = self.punct(","), self.punct("{"), self.punct("}")
        n = len(members)
        made: dict = {}

        def ref(i: int, started: bool) -> str:
            if i == n:
                if extra is None:
                    return ""
                return f"({comma} {extra})*" if started else f"[{extra} ({comma} {extra})*]"
            r = f"{name}_{i}_{int(started)}"
            if r not in made:
                made[r] = None
                k, sym, req = members[i]
                sep = f"{comma} " if started else ""
                first = f"{sep}{k} {sym} {ref(i + 1, True)}".strip()
                if req:
                    body = first
                else:
                    skip = ref(i + 1, started)
                    body = f"{first} | {skip}" if skip else f"[{first}]"
                made[r] = body
                self.rules.append(f"{r}: {body}")
            return r

        self.rules.append(f"{name}: {opn} {ref(0, False)} {cls}")
        return name

    def array(self, schema, path) -> str:
        if schema.get("uniqueItems"):
            self.unsupported("uniqueItems", path, "uniqueItems is not supported")
        prefix = list(schema.get("prefixItems", []))
        items = schema.get("items", True)
        lo = int(schema.get("minItems", 0))
        hi = schema.get("maxItems")
        hi = None if hi is None else int(hi)
        slots = []
        for i, sub in enumerate(prefix):
            try:
                slots.append(self.value(sub, _ptr(path, "prefixItems", i)))
            except _Never:
                hi = i if hi is None else min(hi, i)
                break
        try:
            item = self.value(items, _ptr(path, "items"))
        except _Never:
            item = None
            hi = len(slots) if hi is None else min(hi, len(slots))
        if hi is not None and hi < lo:
            raise _Never()
        k = len(slots)
        if lo > MAX_REPEAT or (hi is not None and hi > MAX_REPEAT and hi - max(lo, k) > MAX_REPEAT):
            kw = "minItems" if lo > MAX_REPEAT else "maxItems"
            raise UnsupportedSchemaError(f"{kw} above the bound {MAX_REPEAT}", kw, _ptr(path, kw))
        if hi is not None and hi > MAX_REPEAT:
            hi = None if item is not None and lo <= k else hi
        comma, opn, cls = self.punct("["), None, None
        comma, opn, cls = self.punct(","), self.punct("["), self.punct("]")

        def slot(i):
            return slots[i] if i < k else item

        def tail(i) -> str:
            sep = "" if i == 0 else f"{comma} "
            if hi is not None and i >= hi:
                return ""
            if i >= k and hi is None:
                return f"[{item} ({comma} {item})*]" if i == 0 else f"({comma} {item})*"
            return f"[{sep}{slot(i)} {tail(i + 1)}]"

        parts = []
        for i in range(lo):
            parts.append(("" if i == 0 else f"{comma} ") + slot(i))
        parts.append(tail(lo))
        name = self.new_rule("arr")
        self.rules.append(f"{name}: {opn} {' '.join(p for p in parts if p)} {cls}")
        return name

    def translate(self) -> str:
        top = self.value(self.root, "#")
        lines = [f"start: {top}"] + self.rules
        for regex, name in self.terminals.items():
            lines.append(f"{name}: {lark_regex_literal(regex)}")
        return "\n".join(lines) + "\n"


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


_D2 = "[0-9]{2}"
_DATE = r"[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
_TIME = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:(?:[0-5][0-9]|60)(?:\.[0-9]+)?(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
FORMATS = {
    "date": _DATE,
    "time": _TIME,
    "date-time": _DATE + "[Tt]" + _TIME,
    "uuid": r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
    "ipv4": rf"{_OCTET}(?:\.{_OCTET}){{3}}",
    "email": r"[A-Za-z0-9!#$%&'*+\/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+\/=?^_`{|}~-]+)*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+",
    "uri": r"[A-Za-z][A-Za-z0-9+.-]*:[A-Za-z0-9\-._~:\/?#\[\]@!$&'()*+,;=%]+",
}


def json_schema_to_lark(schema: dict | bool | str, *, strict: bool = False, lenient: bool = False,
                        whitespace: str | None = None) -> str:
    """Lark grammar text whose language is the JSON spellings (see the module docstring) of the
    instances of ``schema`` (a dict, a boolean, or JSON text).

    ``strict``: objects without ``additionalProperties`` allow no other keys. ``lenient``: warn
    about and ignore unsupported keywords instead of raising :class:`UnsupportedSchemaError`.
    ``whitespace``: ``None`` (compact) or ``"flexible"`` (bounded runs, see ``MAX_WS``).

    Example:
        >>> print(json_schema_to_lark({"type": "object", "properties": {"a": {"type": "boolean"}},
        ...                            "required": ["a"], "additionalProperties": False}))
        start: v2
        obj1_0_0: T1 T0
        obj1: T3 obj1_0_0 T4
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
    tr = _Translator(schema, strict, lenient, whitespace)
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
    text = json_schema_to_lark(schema, **options)
    try:
        return Grammar.from_lark(text, source="<json schema>")
    except GrammarConflictError as e:
        raise UnsupportedSchemaError(
            "the schema's alternatives (anyOf/oneOf/type unions of objects or arrays) overlap in a way "
            f"an LALR(1) grammar cannot tell apart: {e}", "anyOf", "#") from None


# -- serialisation -------------------------------------------------------------------------------

def serialize_instance(schema: dict | bool | str, instance, *, whitespace: str | None = None) -> str:
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
    root = schema
    try:
        import jsonschema
        root_validator = jsonschema.Draft202012Validator(root)
        valid = lambda s, v: root_validator.evolve(schema=s).is_valid(v)  # noqa: E731
    except ImportError:  # pragma: no cover
        valid = lambda s, v: True  # noqa: E731
    tr = _Translator(root, False, True, None)

    def order(s, v, depth=0):
        """The instance with dicts re-ordered (as a JSON-ready structure)."""
        if depth > 100 or not isinstance(s, dict):
            return _plain(v)
        if "$ref" in s:
            try:
                target = tr.resolve_ref(s["$ref"], "#")
                merged = {k: x for k, x in s.items() if k != "$ref"}
                return order({"allOf": [target, merged]} if merged else target, v, depth + 1)
            except UnsupportedSchemaError:
                return _plain(v)
        for const in ([s["const"]] if "const" in s else []) + list(s.get("enum", [])):
            if _json_equal(const, v):
                return _like(const, v)
        subs = list(s.get("allOf", []))
        for comb in ("anyOf", "oneOf"):
            for sub in s.get(comb, []):
                if valid(sub, v):
                    subs.append(sub)
                    break
        if subs:
            rest = {k: x for k, x in s.items() if k not in ("allOf", "anyOf", "oneOf")}
            merged = rest
            for sub in subs:
                if isinstance(sub, dict) and "$ref" in sub:
                    try:
                        sub = {**{k: x for k, x in sub.items() if k != "$ref"}, **tr.resolve_ref(sub["$ref"], "#")}
                    except UnsupportedSchemaError:
                        continue
                if isinstance(sub, dict):
                    try:
                        merged = tr.merge(merged, sub, "#")
                    except (UnsupportedSchemaError, _Never):
                        pass
            if merged != s:
                return order(merged, v, depth + 1)
        if isinstance(v, dict):
            props = s.get("properties", {})
            out = {}
            for k in props:
                if k in v:
                    out[k] = order(props[k], v[k], depth + 1)
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

    text = _canon(_integral_as_int(order(schema, instance)))
    if whitespace == "flexible":
        text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    return text


def _plain(v):
    return v


def _like(const, v):
    """``v`` with dict keys in the order of the equal constant ``const`` (numbers as the constant)."""
    if isinstance(const, dict):
        return {k: _like(const[k], v[k]) for k in const}
    if isinstance(const, list):
        return [_like(c, x) for c, x in zip(const, v)]
    return v
