"""Where the library keeps what it computes once: converted models, compiled grammars, tries.

``$GUIDED_DECODING_CACHE`` if set, else ``$XDG_CACHE_HOME/guided-decoding``, else
``~/.cache/guided-decoding``. Files are written to a temporary name and renamed, so processes that
race to create the same entry never see a half-written one.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path
from typing import Any


def cache_root() -> Path:
    """The library's cache folder (not created), e.g. ``~/.cache/guided-decoding``."""
    override = os.environ.get("GUIDED_DECODING_CACHE")
    if override:
        return Path(override).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "guided-decoding"


def load_pickle(path: Path) -> Any | None:
    """The object pickled at ``path``, or None if it is missing or unreadable."""
    try:
        with open(path, "rb") as f:
            return pickle.load(f)
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, ValueError):
        return None


def save_pickle(path: Path, obj: Any) -> None:
    """Pickle ``obj`` to ``path`` atomically; a read-only cache is silently skipped."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except OSError:
        pass
