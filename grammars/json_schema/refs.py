"""``$ref`` resolution for the JSON Schema translator: every reference that points into the
document (or into documents given by URI) rewritten as a JSON pointer from one root.

Example:
    >>> localize_refs({"$id": "https://x.org/s", "items": {"$ref": "#a"},
    ...                "$defs": {"n": {"$anchor": "a", "type": "integer"}}})["items"]
    {'$ref': '#/$defs/n'}
"""

from __future__ import annotations

__all__ = ["localize_refs", "referenced_resources"]

_BASE = "https://schema.invalid/root"  # base URI of a document without $id


def referenced_resources(root, resources: dict | None) -> dict:
    """The documents of ``resources`` (by URI) that ``root`` may reference, directly or through one
    another: those whose URI ends with the last path segment of the document part of a ``$ref``,
    ``$dynamicRef`` or ``$schema`` (all of them if such a part ends in ``/``). A superset of the
    documents a reference can resolve to, so the others need not be converted and indexed.

    Example:
        >>> docs = {"https://x.org/a.json": {"$ref": "b.json"}, "https://x.org/b.json": {},
        ...         "https://x.org/c.json": {}}
        >>> sorted(referenced_resources({"$ref": "https://x.org/a.json#/x"}, docs))
        ['https://x.org/a.json', 'https://x.org/b.json']
    """
    if not resources:
        return {}
    chosen: dict = {}
    pending = [root]
    while pending:
        tails: set[str] = set()
        stack = pending
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                for k, v in node.items():
                    if k in ("$ref", "$dynamicRef", "$schema") and isinstance(v, str):
                        doc = v.split("#", 1)[0]
                        if doc:
                            tails.add(doc.rsplit("/", 1)[-1])
                    elif k not in ("enum", "const"):
                        stack.append(v)
            elif isinstance(node, list):
                stack.extend(node)
        found = {uri: doc for uri, doc in resources.items()
                 if uri not in chosen and any(uri.split("#", 1)[0].endswith(t) for t in tails)}
        chosen.update(found)
        pending = list(found.values())
    return chosen


def localize_refs(root, resources: dict | None = None):
    """A copy of ``root`` whose ``$ref`` values that point into the document itself (through
    ``$id`` base URIs, ``$anchor`` names or relative URIs) are rewritten as ``#/...`` JSON pointers
    from the root, and ``$id`` is dropped, so the copy is one resource. A ``$dynamicRef`` becomes a
    ``$ref`` where that is exact: a JSON pointer, or an anchor name that only one ``$dynamicAnchor``
    in the document defines (that ``$dynamicAnchor``, then a plain anchor, is dropped). Others are
    left as they are (and refused later, naming them). ``resources`` maps URIs to other documents that
    references may point into (nothing is ever fetched)."""
    from urllib.parse import quote, urldefrag, urljoin

    extra_docs, resources = resources or {}, {}
    anchors: dict[tuple[str, str], str] = {}
    dynamic: dict[str, list[str]] = {}

    def pointer(parts) -> str:
        return "#" + "".join("/" + quote(str(p).replace("~", "~0").replace("/", "~1"), safe="~$!&'()*+,;=:@") for p in parts)

    def index(node, base, parts):
        if isinstance(node, dict):
            if isinstance(node.get("$id"), str):
                base = urldefrag(urljoin(base, node["$id"]))[0]
                resources.setdefault(base, pointer(parts))
            if isinstance(node.get("$anchor"), str):
                anchors.setdefault((base, node["$anchor"]), pointer(parts))
            if isinstance(node.get("$dynamicAnchor"), str):
                anchors.setdefault((base, node["$dynamicAnchor"]), pointer(parts))
                dynamic.setdefault(node["$dynamicAnchor"], []).append(pointer(parts))
            for k, v in node.items():
                if k not in ("enum", "const"):
                    index(v, base, parts + [k])
        elif isinstance(node, list):
            for i, v in enumerate(node):
                index(v, base, parts + [i])

    def resolve(uri: str) -> str | None:
        doc, frag = urldefrag(uri)
        if doc not in resources:
            return None
        at = resources[doc]
        if not frag:
            return at
        if frag.startswith("/"):
            return at + frag
        return anchors.get((doc, frag))

    def rewrite(node, base):
        if isinstance(node, dict):
            if isinstance(node.get("$id"), str):
                base = urldefrag(urljoin(base, node["$id"]))[0]
            out = {}
            for k, v in node.items():
                if k == "$ref" and isinstance(v, str):
                    out[k] = resolve(urljoin(base, v)) or v
                elif k == "$dynamicRef" and isinstance(v, str):
                    frag = urldefrag(v)[1]
                    target = resolve(urljoin(base, v))
                    exact = frag.startswith("/") or len(dynamic.get(frag, [])) <= 1
                    if target is not None and exact and "$ref" not in node:
                        out["$ref"] = target
                    else:
                        out[k] = v
                elif k in ("enum", "const"):
                    out[k] = v
                elif k == "$dynamicAnchor" and isinstance(v, str) and len(dynamic.get(v, [])) <= 1:
                    continue  # the only one of its name: every $dynamicRef to it is a $ref now
                elif k != "$id":  # every reference is now relative to the root
                    out[k] = rewrite(v, base)
            return out
        if isinstance(node, list):
            return [rewrite(v, base) for v in node]
        return node

    if not isinstance(root, dict):
        return root
    if extra_docs:  # other documents, by URI: embedded under $defs with that $id
        root = dict(root)
        defs = dict(root.get("$defs", {}))
        for i, (uri, doc) in enumerate(extra_docs.items()):
            defs[f"$resource{i}"] = {**(doc if isinstance(doc, dict) else {"allOf": [doc]}), "$id": uri}
        root["$defs"] = defs
    resources[_BASE] = "#"
    index(root, _BASE, [])
    return rewrite(root, _BASE)
