"""A JSONL cache of model samples for the selection studies: each line holds one key (what was
sampled, from which prompt, with which settings and seed) and its outputs. Committed caches under
``benchmarks/data/`` are the studies' fixed data; a missing entry is sampled and appended, so an
interrupted run resumes where it stopped.

Example:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "samples.jsonl"
    >>> cache = SampleCache(path)
    >>> cache.get_or_make({"prompt": "p", "seed": 0}, lambda: ["a", "b"])
    ['a', 'b']
    >>> SampleCache(path).get_or_make({"prompt": "p", "seed": 0}, lambda: ["never called"])
    ['a', 'b']
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any


class SampleCache:
    """Outputs keyed by a JSON-able description of how they were made (one JSONL line each)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._entries: dict[str, Any] = {}
        if self.path.exists():
            for number, line in enumerate(self.path.read_text().splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                    self._entries[row["key"]] = row["value"]
                except (json.JSONDecodeError, KeyError, TypeError) as error:
                    raise ValueError(f"{self.path}:{number}: not a cache line ({error}); delete "
                                     f"the file to sample again") from error

    def __len__(self) -> int:
        return len(self._entries)

    def get_or_make(self, key: dict[str, Any], make: Callable[[], Any]) -> Any:
        """The cached value for ``key``, or ``make()``'s, appended to the file first."""
        text = json.dumps(key, sort_keys=True)
        if text not in self._entries:
            value = make()
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a") as f:
                f.write(json.dumps({"key": text, "value": value}, ensure_ascii=False) + "\n")
            self._entries[text] = value
        return self._entries[text]
