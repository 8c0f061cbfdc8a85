"""The real-schema corpus (``data/json_schemas/``, built by ``make_schema_corpus.py``).

    >>> from benchmarks._schema_corpus import load_schema_corpus
    >>> name, schema = load_schema_corpus(limit=1)[0]
    >>> isinstance(schema, dict)
    True
"""

from __future__ import annotations

import json
from pathlib import Path

CORPUS = Path(__file__).parent / "data" / "json_schemas"


def load_schema_corpus(limit: int | None = None) -> list[tuple[str, dict]]:
    """``(name, schema)`` for the corpus in manifest order (``name`` is ``source/file``).

    ``limit`` keeps an evenly spread sample of that many (every source represented), the same
    sample on every call.
    """
    manifest = json.loads((CORPUS / "manifest.json").read_text())
    if limit is not None and limit < len(manifest):
        step = len(manifest) / limit
        manifest = [manifest[int(i * step)] for i in range(limit)]
    return [(entry["file"].removesuffix(".json"), json.loads((CORPUS / entry["file"]).read_text()))
            for entry in manifest]
