"""Few-row linear layers in the other GEMM layout, for tree verification on CPUs.

A verification forward multiplies a handful of rows (the draft tree's nodes) by every weight
matrix. ``torch.nn.functional.linear`` computes ``X @ Wᵀ``; some BLAS builds pick a slow kernel
for that when X has few rows and are several times faster on the same product written as
``(W @ Xᵀ)ᵀ`` (MKL on an AMD EPYC, measured: SmolLM2's 49152×576 LM head at 2 to 8 rows takes
2-6× longer as ``X @ Wᵀ``; one row is a matrix-vector product either way, so plain one-token
decoding is unaffected). :class:`SkinnyLinear` is a thread-local torch function mode: inside it,
``F.linear`` on a CPU input of 2 to ``max_rows`` rows is computed as ``(W @ Xᵀ)ᵀ``. The two
layouts compute the same dot products and differ only in float rounding. Whether the mode pays
off depends on the machine and the row count, so :class:`LayoutChoice` measures it on the real
forwards.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

__all__ = ["LayoutChoice", "SkinnyLinear"]


class SkinnyLinear(TorchFunctionMode):
    """Inside this mode, CPU ``F.linear`` calls with 2 to ``max_rows`` rows compute ``(W @ Xᵀ)ᵀ``.

    Example:
        >>> layer = torch.nn.Linear(64, 256)
        >>> x = torch.randn(4, 64)
        >>> with torch.inference_mode(), SkinnyLinear():
        ...     y = layer(x)
        >>> torch.allclose(y, layer(x), atol=1e-5)
        True
    """

    def __init__(self, max_rows: int = 64):
        super().__init__()
        self.max_rows = max_rows

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func is F.linear:
            out = self._linear(*args, **(kwargs or {}))
            if out is not None:
                return out
        return func(*args, **(kwargs or {}))

    def _linear(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None):
        if x.device.type != "cpu" or weight.dim() != 2 or x.dim() < 2:
            return None
        rows = x.numel() // x.shape[-1]
        if not 2 <= rows <= self.max_rows:
            return None
        y = torch.mm(weight, x.reshape(rows, x.shape[-1]).t()).t()
        if bias is not None:
            y = y + bias
        return y.reshape(*x.shape[:-1], weight.shape[0])


class LayoutChoice:
    """Per input size, whether forwards run faster under :class:`SkinnyLinear`: the first
    ``trials`` forwards of each size with and without it (alternating) are timed, then the faster
    (by its best time) is kept.

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
