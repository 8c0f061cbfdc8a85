"""Where the library keeps what it computes once: converted models, compiled grammars, tries.

``$GUIDED_DECODING_CACHE`` if set, else ``$XDG_CACHE_HOME/guided-decoding``, else
``~/.cache/guided-decoding``. Files are written to a temporary name and renamed, so processes that
race to create the same entry never see a half-written one.
"""

from __future__ import annotations

import json
import os
import pickle
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


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


def save_arrays(path: str | os.PathLike, header: dict, arrays: dict[str, np.ndarray]) -> None:
    """Write named arrays and a JSON ``header`` to ``path`` (compressed ``.npz``) atomically.
    Unlike the cache entries above, a failed write raises: the user asked for this file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez_compressed(f, header=np.array(json.dumps(header, sort_keys=True)), **arrays)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_arrays(path: str | os.PathLike, names: Sequence[str], what: str) -> tuple[dict, dict]:
    """``(header, arrays)`` from a file written by :func:`save_arrays`; ``ValueError`` saying the
    file is not ``what`` if it cannot be read or lacks one of ``names``."""
    try:
        with np.load(path, allow_pickle=False) as data:
            header = json.loads(str(data["header"]))
            arrays = {name: data[name] for name in names}
    except (OSError, KeyError, ValueError) as exc:
        raise ValueError(f"{path}: not {what} ({exc})") from None
    return header, arrays
