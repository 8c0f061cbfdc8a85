"""Negation of a subschema as disjoint ``anyOf`` branches, per JSON type (for ``not``, ``if``,
overlapping ``oneOf`` and ``contains`` counts).
"""

from __future__ import annotations

from .errors import UnsupportedSchemaError, _Never
from .formats import FORMATS
from .jsonvalues import _json_equal, _ptr, _type_of
from .keywords import (ANNOTATIONS, NOT_REF, TYPES, _EVALUATING, _UNEVALUATED, _constraint_groups, _internal_ok,
                       _mentions, _public, _types, is_made_up, not_ref)


class Negation:
    """Methods of the translator (mixed into :class:`~grammars.json_schema.translate.Translator`)."""

    # -- negation (for not, if/then/else, oneOf, contains) --
    def negate(self, schema, path: str, depth: int = 0):
        """A schema for the values that ``schema`` rejects, as disjoint ``anyOf`` branches (the
        negation of a negation is the schema it came from: ``not not A`` is not rebuilt)."""
        back = self.negated_from.get(id(schema))
        if back is not None and back[0] is schema:
            return back[1]
        try:
            flat = self.flatten(schema, path, depth + 1)
        except _Never:
            return {}
        if "$ref" in flat:  # not (R and rest) = not R, or R and not rest (disjoint)
            rest = {k: v for k, v in flat.items() if k not in ANNOTATIONS and k != "$ref"}
            neg_ref = {"$ref": self.negated_ref(flat["$ref"], path, depth)}
            if not rest:
                return neg_ref
            try:
                also = [self.merge({"$ref": flat["$ref"]}, self.negate(rest, path, depth), path)]
            except _Never:
                also = []
            return self.union([neg_ref] + also)
        neg = self._negate(schema, path, depth)
        if isinstance(neg, dict):
            self.negated_from[id(neg)] = (neg, schema)  # neg kept alive, so its id is not reused
        return neg

    def _negate(self, schema, path: str, depth: int):
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

    def negated_ref(self, ref: str, path: str, depth: int) -> str:
        """:func:`not_ref` ``(ref)`` of a recursive reference, defined (once) as the negation of
        its target, in which the references that come back are negated the same way."""
        neg = not_ref(ref)
        if is_made_up(neg, NOT_REF) and neg not in self.defining:
            self.define_ref(neg, lambda: self.negate(self.resolve_ref(ref, path), ref, depth))
        return neg

    def negate_within(self, ty: str, schema, path: str, depth: int) -> list:
        """Disjoint schemas for the values of JSON type ``ty`` (``number`` includes the integers)
        that ``schema`` rejects."""
        whole = [{"type": ty}]
        try:
            s = self.flatten(schema, path, depth + 1)
        except _Never:
            return whole
        s = {k: v for k, v in s.items() if k not in ANNOTATIONS}
        if "$ref" in s:  # the values of type ty that the negated reference (see negate) holds
            try:
                return [self.merge({"type": ty}, self.negate(s, path, depth), path)]
            except _Never:
                return []
        if _UNEVALUATED & set(s) and ("anyOf" in s or "oneOf" in s):
            raise UnsupportedSchemaError("negating unevaluatedProperties/unevaluatedItems beside anyOf/oneOf is "
                                         "not supported", "not", path)
        for comb in ("anyOf", "oneOf"):
            if comb in s:
                subs = s.pop(comb)
                if comb == "oneOf" and not self.disjoint(s, subs, path):
                    subs = self.exactly_one({}, subs, path)  # disjoint branches, then as anyOf
                # not (rest and (A or B)) = not rest, or rest and not A and not B
                out = self.negate_within(ty, s, path, depth) if s else []
                # each conjunction with its stated types (as _types reads it), kept beside it: the
                # nested allOf is not walked again for every branch it meets
                none = [(s, _types(s))] if s else [({}, None)]
                for i, sub in enumerate(subs):
                    negs = [(b, _types(b)) for b in self.negate_within(ty, sub, _ptr(path, comb, i), depth)]
                    self.spend(path, len(none) * len(negs))
                    none = [({"allOf": [a, b]}, tb if ta is None else ta if tb is None else ta & tb)
                            for a, ta in none for b, tb in negs if ta is None or tb is None or ta & tb]
                    if not none:
                        break
                return out + [{"allOf": [{"type": ty}, x]} for x, _ in none]
        t = s.pop("type", list(TYPES))
        allowed = {t} if isinstance(t, str) else set(t)
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
        if k == "$alsoPattern":  # not (p1 and p2 ...): p1 fails, or p1 holds and p2 fails, ... (disjoint)
            regs = [self.pattern_regex(p, path) for p in v]
            return [{"$alsoPattern": v[:i], "$notMatching": [r]} for i, r in enumerate(regs)]
        if k in ("$notMatching", "$matching"):  # (not) r1 and ...: the first one that fails (disjoint)
            other = "$matching" if k == "$notMatching" else "$notMatching"
            return [{k: v[:i], other: [r]} for i, r in enumerate(v)]
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
            pats = list(group.get("patternProperties", {}))
            if not pats:
                try:
                    self.flatten(v, _ptr(path, "additionalProperties"), depth + 1)
                except _Never:  # no additional key may pass v: "some additional key fails" is "one exists"
                    return [{"properties": names, "additionalProperties": neg, "$keysOutside": [list(names)]}]
            # a key outside the properties and patterns whose value fails v
            return [{"properties": names, "patternProperties": {p: True for p in pats},
                     "$someMember": [{"outside": [list(names), pats], "witness": neg, "other": v, "not": group}]}]
        if k == "patternProperties":  # the first pattern with a member that fails its schema (disjoint)
            out, seen = [], {}
            for p, sub in v.items():
                neg = self.negate(sub, _ptr(path, "patternProperties", p), depth)
                if neg is not False:
                    out.append({"patternProperties": {**seen, p: True}, "$someMember": [
                        {"matching": p, "witness": neg, "other": sub, "not": {"patternProperties": {p: sub}}}]})
                seen[p] = sub
            return out
        if k == "$someMember":  # not (some member fails S): the members meet S, as written before negation
            return [{"$someMember": v[:i], **some["not"]} for i, some in enumerate(v)]
        if k == "propertyNames":  # not (every key is one of N): a key outside N
            names = self.flatten(v, _ptr(path, "propertyNames")) if v is not True else {}
            if not ("enum" in names or "const" in names) or set(names) - {"enum", "const", "type"} \
                    or names.get("type", "string") not in ("string", ["string"]):
                raise UnsupportedSchemaError("negating `propertyNames` other than a list of names is not supported",
                                             "not", path)
            names = list(dict.fromkeys(x for x in self.listed_values(names) if isinstance(x, str)))
            return [{"properties": {x: True for x in names}, "$keysOutside": [names]}]  # (as for additionalProperties)
        if k == "$keysOutside":  # not (a key outside N1 and ...): all keys in N1, or ... (disjoint)
            return [{"$keysOutside": v[:i], "propertyNames": {"enum": list(names)}} for i, names in enumerate(v)]
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
