"""Schema algebra: ``$ref`` resolution, ``allOf`` merging, desugaring of ``not``/``if``/``dependent*``
into disjoint ``anyOf`` branches, the work bound.
"""

from __future__ import annotations

import json
import time
from urllib.parse import unquote

from .drafts import to_2020_12
from .errors import SchemaTooComplexError, UnsupportedSchemaError, _Never
from .jsonvalues import _canon, _json_equal, _ptr, _type_of
from .keywords import ANNOTATIONS, MAX_WORK, TIMEOUT_S, _alts, _both, _may_overlap, _scope_unevaluated


class SchemaAlgebra:
    """Methods of the translator (mixed into :class:`~grammars.json_schema.translate.Translator`)."""

    # -- $ref --
    def resolve_ref(self, ref: str, path: str):
        """The subschema ``ref`` points to, in the document as written, in 2020-12 keywords."""
        if ref in self.resolved:
            return self.resolved[ref]
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

    def union(self, branches: list):
        """``anyOf`` of branches known to be disjoint (remembered, so they are not made disjoint
        again after an LALR conflict); ``False`` when there are none."""
        if not branches:
            return False
        self.disjoint_lists.add(_canon(branches))
        return {"anyOf": branches}

    def known_disjoint(self, branches: list) -> bool:
        return len(branches) < 2 or _canon(branches) in self.disjoint_lists

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
            elif k in ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties", "minContains"):
                out[k] = max(out[k], v)
            elif k in ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties", "maxContains"):
                out[k] = min(out[k], v)
            elif k == "pattern":  # both must match: the second as a check (see string_parts)
                out["$alsoPattern"] = list(out.get("$alsoPattern", [])) + [v]
            elif k in ("$notIn", "$notMatching", "$keysOutside", "$alsoPattern"):
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
            else:
                raise UnsupportedSchemaError(f"cannot merge two different values in allOf: {out[k]!r} and {v!r}", k, _ptr(path, k))
        if "allOf" in out:  # from anyOf/oneOf merges: distribute
            subs = list(out.pop("allOf"))
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
