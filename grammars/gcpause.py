"""`paused_gc`: Python's cyclic garbage collector held off while a grammar compiles.

A compile allocates hundreds of thousands of small objects (lark's grammar trees, rule tuples,
DFA state sets), nearly all freed by reference counting. Each allocation counts towards the
collector's thresholds, so a compile in a process with a large heap (a model loaded: torch and
transformers hold millions of objects) triggers full collections that scan that whole heap again
and again: a quarter of the schema compile time of ``benchmarks/compile_speed.py`` went there.
While any compile runs the automatic collector is off; when the last one ends it is back on (if it
was on before), and the objects the compiles left behind are collected in the next young
collection, as they would have been.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0  # compiles running now, in any thread
_was_enabled = False


@contextmanager
def paused_gc() -> Iterator[None]:
    """Run the body with automatic garbage collection off (nestable, thread-safe)."""
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
