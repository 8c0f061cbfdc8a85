"""Few-row linear layers in the other GEMM layout, for tree verification on CPUs.

A verification forward multiplies a handful of rows (the draft tree's nodes) by every weight
matrix. ``torch.nn.functional.linear`` computes ``X @ Wᵀ``; some BLAS builds pick a slow kernel
for that when X has few rows and are several times faster on the same product written as
``(W @ Xᵀ)ᵀ`` (MKL on an AMD EPYC, measured: SmolLM2's 49152×576 LM head at 2 to 8 rows takes
2-6× longer as ``X @ Wᵀ``; one row is a matrix-vector product either way, so plain one-token
decoding is unaffected). The two layouts compute the same dot products and differ only in float
rounding.

:func:`skinny_layout` binds a forward to the model's ``nn.Linear`` layers for the duration of a
``with`` block; it computes ``(W @ Xᵀ)ᵀ`` for CPU inputs of 2 to ``MAX_ROWS`` rows, but only in
a thread inside :func:`skinny_rows`; anywhere else it is ``F.linear``. Whether the layout pays
off depends on the machine and the row count, so :class:`LayoutChoice` measures it on the real
forwards.
"""

from __future__ import annotations

import threading
import time
import types
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

import torch
import torch.nn.functional as F

__all__ = ["LayoutChoice", "MAX_ROWS", "layout_choice", "skinny_layout", "skinny_rows"]

MAX_ROWS = 64
_local = threading.local()
_lock = threading.Lock()
_users: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> (threads inside, layers bound)
_choices: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> LayoutChoice


def _forward(layer: torch.nn.Linear, x: torch.Tensor) -> torch.Tensor:
    if getattr(_local, "on", False) and x.device.type == "cpu" and x.dim() >= 2:
        rows = x.numel() // x.shape[-1]
        if 2 <= rows <= MAX_ROWS:
            y = torch.mm(layer.weight, x.reshape(rows, x.shape[-1]).t()).t()
            if layer.bias is not None:
                y = y + layer.bias
            return y.reshape(*x.shape[:-1], layer.weight.shape[0])
    return F.linear(x, layer.weight, layer.bias)


def _plain_linears(model: torch.nn.Module) -> list[torch.nn.Linear]:
    """The model's ``nn.Linear`` layers (not subclasses) whose forward nobody has replaced on the
    instance (accelerate's offloading hooks, for one, do that)."""
    return [m for m in model.modules() if type(m) is torch.nn.Linear and "forward" not in vars(m)]


@contextmanager
def skinny_layout(model: torch.nn.Module) -> Iterator[None]:
    """While inside, ``model``'s ``nn.Linear`` layers can use the other layout (see
    :func:`skinny_rows`); afterwards they are as they were. Threads may nest and overlap.

    Example:
        >>> model = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.Linear(256, 8))
        >>> x = torch.randn(4, 64)
        >>> with torch.inference_mode(), skinny_layout(model), skinny_rows():
        ...     y = model(x)
        >>> torch.allclose(y, model(x), atol=1e-5), "forward" in vars(model[0])
        (True, False)
    """
    with _lock:
        if model not in _users:
            bound = _plain_linears(model)
            for layer in bound:
                layer.forward = types.MethodType(_forward, layer)
            _users[model] = (0, bound)
        count, bound = _users[model]
        _users[model] = (count + 1, bound)
    try:
        yield
    finally:
        with _lock:
            count, bound = _users[model]
            if count == 1:
                for layer in bound:
                    del layer.forward
                del _users[model]
            else:
                _users[model] = (count - 1, bound)


@contextmanager
def skinny_rows() -> Iterator[None]:
    """In this thread, while inside, layers under :func:`skinny_layout` compute few-row inputs
    as ``(W @ Xᵀ)ᵀ``."""
    before = getattr(_local, "on", False)
    _local.on = True
    try:
        yield
    finally:
        _local.on = before


class LayoutChoice:
    """Per input size, whether forwards run faster under :func:`skinny_rows`: the first ``trials``
    forwards of each size with and without it (alternating) are timed, then the faster (by its
    best time) is kept.

    Example:
        >>> choice = LayoutChoice(trials=1)
        >>> first = choice.use_skinny(5); choice.record(5, first, 0.030)
        >>> second = choice.use_skinny(5); choice.record(5, second, 0.020)
        >>> first != second, choice.use_skinny(5) == second
        (True, True)
    """

    def __init__(self, trials: int = 2):
        self.trials = trials
        self._times: dict[int, dict[bool, list[float]]] = {}

    def use_skinny(self, size: int) -> bool:
        times = self._times.setdefault(size, {True: [], False: []})
        if min(len(times[True]), len(times[False])) < self.trials:
            return len(times[True]) <= len(times[False])
        return min(times[True]) < min(times[False])

    def record(self, size: int, skinny: bool, seconds: float) -> None:
        times = self._times.setdefault(size, {True: [], False: []})[skinny]
        if len(times) < self.trials:
            times.append(seconds)

    @contextmanager
    def measured(self, size: int) -> Iterator[None]:
        """Run the block (one forward of ``size`` rows) in the layout chosen for that size, and
        time it while the choice is still being made. One row is a GEMV either way: left as is."""
        if size < 2:
            yield
            return
        skinny = self.use_skinny(size)
        start = time.perf_counter()
        with skinny_rows() if skinny else nullcontext():
            yield
        self.record(size, skinny, time.perf_counter() - start)


def layout_choice(model: torch.nn.Module) -> LayoutChoice:
    """The model's :class:`LayoutChoice`, kept across calls (the measurements carry over)."""
    with _lock:
        return _choices.setdefault(model, LayoutChoice())
