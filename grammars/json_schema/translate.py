"""The translator: a schema to Lark text, one symbol per distinct subschema.

    >>> print(json_schema_to_lark({"enum": [1, "a"]}))
    start: T0
    T0: /(?:1|"a")/
    <BLANKLINE>
"""

from __future__ import annotations

import json
import re
from typing import Callable, TypeVar
import time
import warnings

from ..lark_literals import lark_regex_literal
from ..lexing import Lexicon
from ..parsing.tables import ParseTables
from .algebra import SchemaAlgebra
from .containers import Containers
from ..errors import GrammarConflictError, UnsupportedRegexError
from ..regex import regex_byte_dfa
from ..unique_items import UNIQUE_OPEN
from .drafts import detect_draft, to_2020_12
from .errors import IgnoredKeywordsWarning, UnsupportedSchemaError, _Never
from .jsonvalues import _ptr
from .keywords import (_BODY_MARK, _UNEVALUATED, _WS_MARK, ANNOTATIONS, INTERNAL, MAX_WS, NUMBER, STRING, TIMEOUT_S,
                       TYPES, _mentions, _quote_safe, _scope_unevaluated)
from .negation import Negation
from .patterns import CH
from .refs import localize_refs, referenced_resources
from .scalars import Scalars

G = TypeVar("G")


class _Translator(SchemaAlgebra, Negation, Scalars, Containers):
    def __init__(self, root, strict: bool, lenient: bool, whitespace: str | None, disjoint_any: bool = False,
                 resources: dict | None = None, warn_ignored: bool = True):
        self.draft = detect_draft(root)
        resources = referenced_resources(root, resources)
        written = {uri: to_2020_12(doc, keep_unknown=True)[0] for uri, doc in resources.items()}
        # references resolve in the document as written (pointers may reach into any keyword)
        self.document = localize_refs(to_2020_12(root, self.draft, keep_unknown=True)[0], written)
        root, self.ignored = to_2020_12(root, self.draft)
        root = localize_refs(root, {uri: to_2020_12(doc)[0] for uri, doc in resources.items()})
        self.resolved: dict[str, object] = {}
        self.defining: set[str] = set()  # made-up recursive references being defined (see define_ref)
        self.negated_from: dict[int, tuple] = {}  # id(negation) -> (negation, the schema negated)
        if self.ignored and warn_ignored:
            listed = ", ".join(f"{k} ({where})" for k, where in list(self.ignored.items())[:20])
            warnings.warn(IgnoredKeywordsWarning(
                f"{len(self.ignored)} keyword(s) that JSON Schema {self.draft} does not define are annotations "
                f"and were ignored: {listed}{', ...' if len(self.ignored) > 20 else ''}"), stacklevel=5)
        self.root = root
        self.disjoint_any = disjoint_any
        self.disjoint_lists: dict[tuple, list] = {}  # id()s of the branches -> the branches
        self.keys: dict[int, tuple] = {}  # id(schema) -> (schema, digest), see key()
        self.flat_memo: dict[int, tuple] = {}  # id(schema) -> (schema, flattened or None), see flatten()
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
        self.term_paths: dict[str, str] = {}  # terminal name -> the schema path it comes from
        self.memo: dict[str, str] = {}
        self.ref_rules: dict[str, str] = {}
        self.recursive_refs = self._recursive_refs()
        self.n = 0
        self.unfolding: set[str] = set()  # recursive $refs being unfolded (see branches)
        self.in_progress: dict[str, str | None] = {}  # keys of schemas being translated -> rule named early

    # -- plumbing --
    def unsupported(self, keyword: str, path: str, why: str) -> None:
        err = UnsupportedSchemaError(why, keyword, _ptr(path, keyword) if keyword else path)
        if not self.lenient:
            raise err
        warnings.warn(str(err), stacklevel=4)

    def term(self, regex: str, path: str | None = None) -> str:
        """The terminal for ``regex``; ``path``: the schema it comes from (named in refusals)."""
        regex = _quote_safe(regex)
        if regex not in self.terminals:
            self.terminals[regex] = f"T{len(self.terminals)}"
        name = self.terminals[regex]
        if path is not None:
            self.term_paths.setdefault(name, path)
        return name

    def punct(self, ch: str) -> str:
        r = re.escape(ch)
        return self.term(self.ws + r)

    def new_rule(self, prefix: str) -> str:
        self.spend("#")
        self.n += 1
        return f"{prefix}{self.n}"

    # -- values --
    def value(self, schema, path: str) -> str:
        """The grammar symbol (rule or terminal) for the values of ``schema``; raises _Never."""
        saved, self.unfolding = self.unfolding, set()  # a value inside: unfolding starts afresh
        try:
            return self._value(schema, path)
        finally:
            self.unfolding = saved

    def _value(self, schema, path: str) -> str:
        if isinstance(schema, dict) and set(schema) - ANNOTATIONS - {"$defs", "definitions"} == {"$ref"} and self.is_recursive(schema["$ref"]):
            ref = schema["$ref"]
            if ref not in self.ref_rules:
                name = "ref" + re.sub(r"[^a-z0-9_]", "_", ref.split("/")[-1].lower())[:30] + f"_{len(self.ref_rules)}"
                self.ref_rules[ref] = name
                body = self.alternatives(self.resolve_ref(ref, "#"), ref)
                self.rules.append(f"?{name}: " + " | ".join(body))
            return self.ref_rules[ref]
        if schema is True or schema == {} or (isinstance(schema, dict) and not set(schema) - ANNOTATIONS - {"$defs", "definitions"}):
            return self.any_value()
        key = self.key(schema)
        if key in self.memo:
            return self.memo[key]
        if key in self.in_progress:  # back at a schema being translated (an unfolded recursive $ref)
            if self.in_progress[key] is None:
                self.in_progress[key] = self.new_rule("v")
            return self.in_progress[key]
        self.in_progress[key] = None
        try:
            alts = self.alternatives(schema, path)
        except _Never:
            if self.in_progress.pop(key) is not None:
                raise UnsupportedSchemaError("an unsatisfiable schema beside a recursive $ref is not supported",
                                             "$ref", _ptr(path, "$ref")) from None
            raise
        except BaseException:
            self.in_progress.pop(key)
            raise
        sym = self.in_progress.pop(key)
        if sym is None and len(alts) == 1 and alts[0][0].isupper():
            sym = alts[0]
        else:
            sym = sym or self.new_rule("v")
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
            alts.append(self.term(scalars[0] if len(scalars) == 1 else "(?:" + "|".join(scalars) + ")", path))
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
        if isinstance(schema, dict) and "$ref" in schema and self.is_recursive(schema["$ref"]):
            rest = {k: v for k, v in schema.items() if k not in ANNOTATIONS and k not in ("$ref", "$defs", "definitions")}
            if not rest:
                return [], [self.value({"$ref": schema["$ref"]}, path)]
        schema = self.flatten(schema, path)
        if "$ref" in schema:  # a recursive $ref with siblings: its target merged with them
            ref = schema["$ref"]
            if ref in self.unfolding:
                raise UnsupportedSchemaError("keywords beside a $ref that comes back to itself before any value are "
                                             "not supported", "$ref", _ptr(path, "$ref"))
            self.unfolding.add(ref)
            try:
                return self.branches(self.ref_merged(schema, path), path)
            finally:
                self.unfolding.discard(ref)
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
            subs = list({self.key(x): x for x in subs}.values())
            if any(x is True or x == {} for x in subs) and not _UNEVALUATED & set(rest):
                return [{}]
            if not self.disjoint_any or self.known_disjoint(subs) or self.disjoint(rest, subs, path):
                return subs
            negs = [self.negate(x, _ptr(path, comb, i)) for i, x in enumerate(subs)]
            return self.union([{"allOf": [x] + negs[:i]} for i, x in enumerate(subs)])["anyOf"]
        if self.disjoint(rest, subs, path):
            return subs
        try:
            return self.exactly_one(rest, subs, path)
        except UnsupportedSchemaError as e:
            self.unsupported("oneOf", path, f"its branches may overlap and 'exactly one' needs their negation: {e}; "
                             "use anyOf, or lenient=True to treat this oneOf as anyOf")
            return subs

    def typed(self, schema: dict, path: str) -> tuple[list[str], list[str]]:
        schema = _scope_unevaluated(schema)
        known = {"type", "enum", "const", "properties", "required", "additionalProperties", "items",
                 "prefixItems", "minItems", "maxItems", "minLength", "maxLength", "pattern", "format",
                 "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "uniqueItems",
                 "minProperties", "maxProperties", "multipleOf", "$ref", "contains",
                 "minContains", "maxContains", "propertyNames", "unevaluatedItems",
                 "patternProperties"} | ANNOTATIONS | INTERNAL
        for k in schema:
            if k not in known:
                self.unsupported(k, path, "this keyword is not supported")
        schema = {k: v for k, v in schema.items() if k in known and k not in ANNOTATIONS}
        t = schema.get("type", list(TYPES))
        types = [t] if isinstance(t, str) else list(t)
        for x in types:
            if x not in TYPES:
                raise UnsupportedSchemaError(f"unknown type {x!r}", "type", _ptr(path, "type"))
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
                    long = self.long_string(schema, path)
                    (others if long else scalars).append(long or self.string(schema, path))
                elif ty in ("integer", "number"):
                    scalars.append(self.number(schema, path, ty))
                elif ty == "object":
                    others.append(self.obj(schema, path))
                elif ty == "array":
                    others.append(self.array(schema, path))
            except _Never:
                continue
        return scalars, others

    def translate(self) -> str:
        top = self.value(self.root, "#")
        lines = [f"start: {top}"] + self.rules
        for regex, name in self.terminals.items():
            lines.append(f"{name}: {lark_regex_literal(regex)}")
        return "\n".join(lines) + "\n"


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
             resources: dict | None = None, term_paths: dict | None = None, tracked: bool = False) -> str:
    tr = _Translator(schema, strict, lenient, whitespace, disjoint_any, resources)
    tr.tracked = tracked
    if term_paths is not None:
        tr.term_paths = term_paths
    try:
        return tr.translate()
    except _Never:
        raise UnsupportedSchemaError("the schema accepts no instance (it is unsatisfiable)", None, "#") from None


def compile_json_schema(schema: dict | bool | str, build: Callable[[str], G], **options) -> G:
    """``build(lark_text)`` for ``schema`` (options as for :func:`json_schema_to_lark`). When the
    grammar is not LALR(1) (``build`` raises :class:`~grammars.errors.GrammarConflictError`, or
    returns a grammar with ``conflicts``), overlapping ``anyOf`` branches are made disjoint (A, not A
    and B, ...) and it is built again; if that is not LALR(1) either, the first (exact) grammar is
    kept for the general parser, or the conflict is raised when ``build`` raised it.

    Example:
        >>> print(compile_json_schema({"const": 1}, str.strip))
        start: T0
        T0: /1/
    """
    if isinstance(schema, str):
        schema = json.loads(schema)
    options = {"strict": False, "lenient": False, "whitespace": None, "resources": None, **options}
    first_paths: dict = {}  # the first grammar's terminals are built only if it is the one kept
    try:
        first = build(_to_lark(schema, **options, disjoint_any=False, term_paths=first_paths, tracked=True))
    except GrammarConflictError:
        first = None
    if first is not None and not getattr(first, "conflicts", ()):
        return _checked(first, first_paths)
    try:
        paths: dict = {}
        second = _checked(build(_to_lark(schema, **options, disjoint_any=True, term_paths=paths, tracked=True)),
                          paths)
    except GrammarConflictError as e:
        if first is not None:
            return _checked(first, first_paths)
        raise UnsupportedSchemaError(
            "the schema's alternatives (anyOf/oneOf/type unions of objects or arrays) overlap in a way "
            f"an LALR(1) grammar cannot tell apart: {e}", "anyOf", "#") from None
    except UnsupportedSchemaError:
        if first is not None:
            return _checked(first, first_paths)
        raise
    return second if first is None or not getattr(second, "conflicts", ()) else _checked(first, first_paths)


def _checked(grammar, term_paths: dict):
    """``grammar`` after building each terminal's byte DFA (cached: the compiler reuses them), so
    that a token too large or not translatable is refused naming the schema path it comes from,
    not an internal terminal name."""
    parser = getattr(grammar, "parser", None)
    opens_bracket = set()  # terminals that can start with "[" (see check_unique_arrays)
    for t in getattr(parser, "terminals", ()):
        if getattr(t.pattern, "type", None) != "re":
            if t.pattern.value.lstrip(" \t\n\r")[:1] == "[":
                opens_bracket.add(t.name)
            continue
        path = term_paths.get(t.name, "#")
        try:
            dfa = regex_byte_dfa(t.pattern.value, t.pattern.flags)
        except UnsupportedRegexError as e:
            detail = str(e).replace(t.pattern.value, "...") if len(t.pattern.value) > 80 else str(e)
            raise UnsupportedSchemaError(f"the values of {path} make a token the lexer cannot build ({detail})",
                                         None, path) from None
        if not dfa.accepting.any():  # else the compile fails naming the terminal ("... would swallow ...")
            raise UnsupportedSchemaError(f"the values of {path} make a token that matches no text (a case the "
                                         "translator does not prune)", None, path)
        if dfa.transitions[0, ord("[")] >= 0:
            opens_bracket.add(t.name)
    check_unique_arrays(grammar, opens_bracket, term_paths.get(UNIQUE_OPEN, "#"))
    return grammar


def check_unique_arrays(grammar, opens_bracket: set[str], path: str) -> None:
    """Refuse a grammar in which the matcher could not tell a unique array (``UNIQUE_OPEN``, see
    :meth:`Containers.unique_open`) from another value: one that the general parser runs, or
    where a state of the LALR table may shift both ``UNIQUE_OPEN`` and another terminal among
    ``opens_bracket`` (those that can start with ``[``). ``path``: where the unique array is."""
    parser = getattr(grammar, "parser", None)
    if UNIQUE_OPEN not in {t.name for t in getattr(parser, "terminals", ())}:
        return
    if grammar.conflicts or parser.lalr is None:
        raise UnsupportedSchemaError("uniqueItems over values a grammar cannot keep apart is checked beside an "
                                     "LALR(1) parser, and this schema's alternatives need the general parser",
                                     "uniqueItems", _ptr(path, "uniqueItems"))
    others = opens_bracket - {UNIQUE_OPEN}
    if any(UNIQUE_OPEN in acts and not others.isdisjoint(acts) for acts in parser.lalr[0].values()):
        raise UnsupportedSchemaError("a uniqueItems array stands where another array or a listed value starting "
                                     "with `[` may stand (anyOf/oneOf/type unions): the check beside the grammar "
                                     "could not tell them apart", "uniqueItems", _ptr(path, "uniqueItems"))
    lexicon = Lexicon.from_lark(parser)  # as the compiler decides (Grammar.lexing == "all")
    if lexicon.shares_lexemes(ParseTables.from_lark(parser, list(lexicon.names), grammar.start).action):
        raise UnsupportedSchemaError("uniqueItems is checked beside an LALR(1) parser, and this schema's "
                                     "alternatives share a token (one text two branches read differently), "
                                     "which needs the general parser", "uniqueItems", _ptr(path, "uniqueItems"))
