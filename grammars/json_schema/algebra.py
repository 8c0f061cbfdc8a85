"""Schema algebra: ``$ref`` resolution, ``allOf`` merging, desugaring of ``not``/``if``/``dependent*``
into disjoint ``anyOf`` branches, the work bound.
"""

from __future__ import annotations

import hashlib
import json
import time
from urllib.parse import unquote

from .drafts import to_2020_12
from .errors import SchemaTooComplexError, UnsupportedSchemaError, _Never
from .jsonvalues import _canon, _json_equal, _ptr, _type_of
from .keywords import (AND_REF, ANNOTATIONS, INTERNAL, MAX_WORK, TIMEOUT_S, TYPES, _UNEVALUATED, _alts, _both, _may_overlap,
                       _scope_unevaluated, _types, and_ref, is_made_up, not_ref)
from .patterns import matches_every_string


class SchemaAlgebra:
    """Methods of the translator (mixed into :class:`~grammars.json_schema.translate.Translator`)."""

    # -- $ref --
    def resolve_ref(self, ref: str, path: str):
        """The subschema ``ref`` points to, in the document as written, in 2020-12 keywords."""
        if ref in self.resolved:
            return self.resolved[ref]
        if ref in self.defining:
            raise UnsupportedSchemaError("a reference made for a negation or a conjunction of recursive references, "
                                         "used while it is being defined, is not supported", "$ref", path)
        if is_made_up(ref, AND_REF):
            return self.define_ref(ref, lambda: self.both_refs(*json.loads(ref[len(AND_REF):]), path))
        if not ref.startswith("#"):
            raise UnsupportedSchemaError(f"only references into the schema itself are supported, not {ref!r} "
                                         "(remote documents are not fetched)", "$ref", _ptr(path, "$ref"))
        node = self.document
        frag = unquote(ref[1:])
        if frag and not frag.startswith("/"):
            raise UnsupportedSchemaError(f"anchor {ref!r} is not defined", "$ref", _ptr(path, "$ref"))
        for part in frag.split("/")[1:]:
            part = part.replace("~1", "/").replace("~0", "~")
            try:
                node = node[int(part)] if isinstance(node, list) else node[part]
            except (KeyError, IndexError, ValueError, TypeError):
                raise UnsupportedSchemaError(f"reference {ref!r} does not resolve", "$ref", _ptr(path, "$ref")) from None
        self.resolved[ref] = to_2020_12(node, self.draft)[0] if frag else self.root
        return self.resolved[ref]

    def define_ref(self, ref: str, body) -> object:
        """Define the made-up reference ``ref`` (a negation or a conjunction of recursive
        references) as ``body()``, once; while it is being defined, resolving it refuses."""
        if ref not in self.resolved:
            self.defining.add(ref)
            try:
                self.resolved[ref] = body()
            finally:
                self.defining.discard(ref)
        return self.resolved[ref]

    def is_recursive(self, ref: str) -> bool:
        """Whether ``ref`` stays a reference (a rule of its own) instead of being inlined: a
        reference that comes back to itself, or one the translator made up."""
        return ref in self.recursive_refs or is_made_up(ref)

    def both_refs(self, a: str, b: str, path: str):
        """The body of :func:`and_ref` ``(a, b)``: the two targets merged; the references inside
        that meet again are the same conjunction, so the merge ends."""
        sa, sb = (self.flatten(self.resolve_ref(r, path), r) for r in (a, b))
        return self.merge(sa, sb, path)

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
        """``schema`` with non-recursive ``$ref`` and ``allOf`` merged in (raises _Never when it
        has no instance); memoised by identity (the result is a fresh top-level dict each time)."""
        if not isinstance(schema, dict):
            return self._flatten(schema, path, depth)
        hit = self.flat_memo.get(id(schema))
        if hit is None or hit[0] is not schema:
            try:
                hit = (schema, self._flatten(schema, path, depth))
            except _Never:
                hit = (schema, None)
            self.flat_memo[id(schema)] = hit  # schema kept alive, so its id is not reused
        if hit[1] is None:
            raise _Never()
        return dict(hit[1])

    def _flatten(self, schema, path: str, depth: int):
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
        if "$ref" in schema and not self.is_recursive(schema["$ref"]):
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
        if "pattern" in schema and matches_every_string(schema["pattern"]):
            del schema["pattern"]  # e.g. an unanchored "[a-z]*": every string has a match
        if "$alsoPattern" in schema:
            schema["$alsoPattern"] = [p for p in schema["$alsoPattern"] if not matches_every_string(p)]
            if not schema["$alsoPattern"]:
                del schema["$alsoPattern"]
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

    def union(self, branches: list):
        """``anyOf`` of branches known to be disjoint (remembered, so they are not made disjoint
        again after an LALR conflict); ``False`` when there are none."""
        if not branches:
            return False
        self.disjoint_lists[tuple(map(id, branches))] = branches  # by identity (kept alive): no huge texts
        return {"anyOf": branches}

    def key(self, x) -> str:
        """A digest of the schema ``x`` (equal for equal JSON, key order included), memoised by
        identity: the merged schemas share subtrees, and their JSON text may be exponentially long."""
        if not isinstance(x, (dict, list)):
            text = _canon(x)
            return text if len(text) < 64 else hashlib.blake2b(text.encode(), digest_size=16).hexdigest()
        hit = self.keys.get(id(x))
        if hit is not None and hit[0] is x:
            return hit[1]
        if isinstance(x, dict):
            text = "{" + ",".join(_canon(k) + ":" + self.key(v) for k, v in x.items()) + "}"
        else:
            text = "[" + ",".join(self.key(v) for v in x) + "]"
        digest = hashlib.blake2b(text.encode(), digest_size=16).hexdigest()
        self.keys[id(x)] = (x, digest)  # x kept alive, so its id is not reused
        return digest

    def known_disjoint(self, branches: list) -> bool:
        return len(branches) < 2 or tuple(map(id, branches)) in self.disjoint_lists

    def disjoint(self, rest, subs, path) -> bool:
        """True when no value can match two of ``subs`` (each merged with ``rest``): see :meth:`apart`."""
        flat = []
        for i, sub in enumerate(subs):
            try:
                s = self.flatten(sub, _ptr(path, "oneOf", i))
                flat.append(self.merge(rest, s, path) if rest else s)
            except _Never:
                continue  # no value: disjoint from every branch
        return all(self.apart(a, b, path) for i, a in enumerate(flat) for b in flat[i + 1:])

    def apart(self, a: dict, b: dict, path: str, depth: int = 0) -> bool:
        """True when the flattened schemas ``a`` and ``b`` provably share no value: their types or
        listed constants differ, or (objects) a property one of them requires has value schemas that
        are apart (the tagged union: a discriminator with a different ``const``/``enum`` per branch;
        or a name one requires that the other forbids). Only keywords that narrow the language are
        read, so every other keyword may be ignored (a superset): never True for overlapping ones."""
        self.spend(path)
        a, b = self.unfolded(a, path), self.unfolded(b, path)
        for x, y in ((a, b), (b, a)):
            if "enum" in x or "const" in x:
                vals = list(x["enum"]) if "enum" in x else [x["const"]]
                if "enum" in y or "const" in y:
                    other = list(y["enum"]) if "enum" in y else [y["const"]]
                    return not any(_json_equal(v, w) for v in vals for w in other)
                ty, out = _types(y), y.get("$notIn", [])
                if all((ty is not None and _type_of(v) not in ty) or any(_json_equal(v, w) for w in out) for v in vals):
                    return True
        ta, tb = _types(a), _types(b)
        common = set(TYPES) if ta is None and tb is None else (ta if tb is None else tb if ta is None else ta & tb)
        if not common:
            return True
        if common == {"object"} and self._apart_objects(a, b, path, depth):
            return True
        if depth < 2:  # one side's anyOf/oneOf: apart when each of its alternatives is
            for x, y in ((a, b), (b, a)):
                comb = "anyOf" if "anyOf" in x else "oneOf" if "oneOf" in x else None
                if comb is None:
                    continue
                base, alts = {k: v for k, v in x.items() if k != comb}, []
                for sub in x[comb]:
                    try:
                        alts.append(self.merge(base, self.flatten(sub, path), path))
                    except _Never:
                        continue  # an empty alternative
                    except UnsupportedSchemaError:
                        alts = None
                        break
                if alts is not None and all(self.apart(alt, y, path, depth + 1) for alt in alts):
                    return True
        return False

    def unfolded(self, s: dict, path: str) -> dict:
        """The flattened ``s`` with a recursive ``$ref`` at its top replaced by its target merged
        with the rest (a few levels), so :meth:`apart` reads the target's types and constants; as
        it is when that cannot be done (the rest alone: a superset)."""
        for _ in range(4):
            if "$ref" not in s:
                break
            try:
                s = self.ref_merged(s, path)
            except (_Never, UnsupportedSchemaError):
                break
        return s

    def ref_merged(self, s: dict, path: str) -> dict:
        """The flattened schema ``s`` with its top ``$ref`` replaced by the (flattened) target
        merged with the keywords beside it."""
        rest = dict(s)
        ref = rest.pop("$ref")
        target = self.flatten(self.resolve_ref(ref, path), ref)
        return self.merge(target, rest, path) if rest else target

    def exactly_one(self, rest: dict, subs: list, path: str) -> list:
        """Disjoint schemas whose union is ``rest and oneOf subs``: ``A_i and not A_j`` for each
        ``j != i``, where ``A_j`` is not negated at all when ``A_i`` and ``A_j`` are apart (``A_i``
        implies ``not A_j``) and is negated without the conjuncts ``A_i`` already implies
        (:func:`implied_dropped`: ``A_i and not (B and C) = A_i and not B`` when ``A_i`` implies ``C``)."""
        flat, own = [], []  # each branch with rest merged in, and alone
        for i, x in enumerate(subs):
            try:
                s = self.flatten(x, _ptr(path, "oneOf", i))
                flat.append(self.merge(rest, s, path) if rest else s)
                own.append(s)
            except _Never:
                flat.append(None)
                own.append(None)
        out, negated = [], {}
        for i, x in enumerate(subs):
            if flat[i] is None:
                continue
            negs = []
            for j, y in enumerate(flat):
                if j != i and y is not None and not self.apart(flat[i], y, path):
                    y = implied_dropped(own[j], flat[i], self.key)  # not A_j, within rest
                    k = self.key(y)
                    if k not in negated:
                        negated[k] = self.negate(y, _ptr(path, "oneOf", j))
                    negs.append(negated[k])
            out.append({"allOf": [x] + negs})
        return self.union(out)["anyOf"] if out else []

    def meeting(self, base: dict, s: dict, path: str) -> dict:
        """``s`` (an ``anyOf``, or one schema) without the alternatives that provably share no
        value with ``base`` (those add only empty pairs when ``base and s`` is distributed; the
        language is kept); disjoint alternatives stay known disjoint. Raises _Never if none is left."""
        alts = _alts(s)
        if not base or len(alts) < 2:
            return s
        kept = [x for x in alts if self.may_meet(base, x, path)]
        if not kept:
            raise _Never()
        if len(kept) == len(alts):
            return s
        return self.union(kept) if self.known_disjoint(alts) else {"anyOf": kept}

    def may_meet(self, x, y, path: str) -> bool:
        """False when the schemas ``x`` and ``y`` provably share no value (so ``x and y`` is empty)."""
        if not _may_overlap(x, y):
            return False
        try:
            return not self.apart(self.flatten(x, path), self.flatten(y, path), path)
        except _Never:
            return False
        except UnsupportedSchemaError:
            return True

    def _apart_objects(self, a: dict, b: dict, path: str, depth: int) -> bool:
        """Objects: some property that ``a`` or ``b`` requires has value schemas that are apart."""
        if depth > 4:
            return False

        def values(s: dict, name: str):
            if name in s.get("properties", {}):
                return s["properties"][name]
            return True if s.get("patternProperties") else s.get("additionalProperties", True)

        for name in dict.fromkeys(list(a.get("required", [])) + list(b.get("required", []))):
            va, vb = values(a, name), values(b, name)
            if va is False or vb is False:
                return True  # required on one side, absent on the other (or no object at all)
            if va is True or vb is True or va == {} or vb == {}:
                continue
            try:
                fa, fb = self.flatten(va, path), self.flatten(vb, path)
            except _Never:
                return True
            except UnsupportedSchemaError:
                continue
            if self.apart(fa, fb, path, depth + 1):
                return True
        return False

    def spend(self, path: str, n: int = 1) -> None:
        """Count ``n`` steps of work; raise :class:`SchemaTooComplexError` past the bounds."""
        before, self.work = self.work, self.work + n
        if self.work > MAX_WORK or (before >> 6 != self.work >> 6 and time.monotonic() > self.deadline):
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
            elif k in ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties", "minContains"):
                out[k] = max(out[k], v)
            elif k in ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties", "maxContains"):
                out[k] = min(out[k], v)
            elif k == "pattern":  # both must match: the second as a check (see string_parts)
                out["$alsoPattern"] = list(out.get("$alsoPattern", [])) + [v]
            elif k in ("$notIn", "$notMatching", "$matching", "$keysOutside", "$alsoPattern", "$someMember"):
                out[k] = list(out[k]) + [x for x in v if x not in out[k]]
            elif k == "oneOf":  # a second oneOf: as its exact disjoint branches (else merging it recurs)
                out["allOf"] = out.get("allOf", []) + [self.union(self.alternatives_of("oneOf", {}, v, path))]
            elif k == "anyOf":
                out["allOf"] = out.get("allOf", []) + [{k: v}]
            elif k in ("enum", "const"):
                ea = out[k] if k == "enum" else [out[k]]
                eb = v if k == "enum" else [v]
                common = [x for x in ea if any(_json_equal(x, y) for y in eb)]
                if not common:
                    raise _Never()
                out.pop(k)
                out["enum"] = common
            elif k == "$ref" and v == not_ref(out[k]):
                raise _Never()  # a recursive reference and its negation
            elif k == "$ref" and self.is_recursive(out[k]) and self.is_recursive(v):
                out[k] = and_ref(out[k], v)
            else:
                raise UnsupportedSchemaError(f"cannot merge two different values in allOf: {out[k]!r} and {v!r}", k, _ptr(path, k))
        if "allOf" in out:  # from anyOf/oneOf merges: distribute
            subs = list(out.pop("allOf"))
            if "anyOf" in out or "oneOf" in out:
                subs.insert(0, {k: out.pop(k) for k in ("anyOf", "oneOf") if k in out})
            subs = [self.meeting(out, s, path) for s in subs]
            combo = subs[0]
            for s in subs[1:]:
                self.spend(path, len(_alts(combo)) * len(_alts(s)))
                pairs = [{"allOf": [x, y]} for x in _alts(combo) for y in _alts(s) if self.may_meet(x, y, path)]
                if not pairs:
                    raise _Never()
                combo = self.union(pairs) if self.known_disjoint(_alts(combo)) and self.known_disjoint(_alts(s)) \
                    else {"anyOf": pairs}
            out.update(combo)
        return out


# keywords that constrain a value on their own (their meaning reads no other keyword of the schema)
_SELF_CONTAINED = {"minLength", "maxLength", "pattern", "format", "minimum", "maximum", "exclusiveMinimum",
                   "exclusiveMaximum", "multipleOf", "minItems", "maxItems", "uniqueItems", "minProperties",
                   "maxProperties", "propertyNames", "enum", "const", "$ref"}


def implied_dropped(s: dict, given: dict, key) -> dict:
    """The flattened ``s`` without the conjuncts that every value of the flattened ``given`` meets
    (the same self-contained keyword, a ``type`` that includes ``given``'s, names ``given`` requires,
    properties ``given`` constrains alike or forbids when ``s`` has no ``additionalProperties`` or
    ``patternProperties``); so ``given and s`` = ``given and`` the result. ``key``: the digest
    used to compare subschemas. ``s`` as it is when it holds the translator's own keywords."""
    if set(s) & (INTERNAL | _UNEVALUATED) or set(given) & _UNEVALUATED:
        return s
    out = dict(s)
    for k in _SELF_CONTAINED:
        if k in out and k in given and key(out[k]) == key(given[k]):
            del out[k]
    for group in (("properties", "additionalProperties", "patternProperties"), ("prefixItems", "items"),
                  ("contains", "minContains", "maxContains")):
        if any(k in out for k in group) and all(key(out.get(k)) == key(given.get(k)) for k in group):
            for k in group:
                out.pop(k, None)
    if "type" in out and "type" in given and _types({"type": given["type"]}) <= _types({"type": out["type"]}):
        del out["type"]
    if "required" in out:
        req = [r for r in out["required"] if r not in given.get("required", [])]
        out["required"] = req
        if not req:
            del out["required"]
    if "properties" in out and "additionalProperties" not in out and "patternProperties" not in out:
        gp, closed = given.get("properties", {}), given.get("additionalProperties") is False \
            and not given.get("patternProperties")
        props = {name: v for name, v in out["properties"].items()
                 if not (gp.get(name, True if not closed else False) is False
                         or (name in gp and key(gp[name]) == key(v)))}
        out["properties"] = props
        if not props:
            del out["properties"]
    return out
