"""Make numba's llvmlite safe to have imported before a vLLM engine starts (imported for its effect
by :mod:`grammars` and :mod:`drafters`, the packages that use numba).

vLLM 0.32's CPU worker scans every attribute of every loaded module at start-up with
``vars(value).get("kernel")``. llvmlite's library wrapper (``llvmlite.binding.ffi.lib``) answers
attribute lookups through a ``__getattr__`` that wraps any name as a C function, ``__dict__``
included, so the scan raises ``AttributeError: '_lib_fn_wrapper' object has no attribute 'get'``
and the engine does not start. A plain dict under that name is harmless: llvmlite only ever looks
up C symbols there.
"""

from __future__ import annotations


def shield_llvmlite() -> None:
    """Give llvmlite's library wrapper a plain ``__dict__`` entry (idempotent)."""
    try:
        from llvmlite.binding import ffi
    except ImportError:  # no llvmlite: nothing to shield
        return
    table = getattr(ffi.lib, "_fntab", None)
    if isinstance(table, dict):
        table.setdefault("__dict__", {})


shield_llvmlite()
