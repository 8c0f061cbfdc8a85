"""Helpers shared by the benchmark scripts: timing summaries, machine load, tables, result lines.

The scripts run as ``python benchmarks/<name>.py`` (this folder is then first on ``sys.path``).
"""

from __future__ import annotations

import json
import os
import statistics
from collections.abc import Sequence

import numpy as np


def percentiles_us(samples_ns: Sequence[int]) -> dict[str, float | None]:
    """p50, p99 and mean of nanosecond samples, in microseconds (None when there are none)."""
    if not samples_ns:
        return {"p50": None, "p99": None, "mean": None}
    us = np.asarray(samples_ns, dtype=np.float64) / 1e3
    return {
        "p50": float(np.percentile(us, 50)),
        "p99": float(np.percentile(us, 99)),
        "mean": float(us.mean()),
    }


def median(values: Sequence[float]) -> float:
    """The median of a non-empty sequence."""
    return float(statistics.median(values))


def ratio(a: float | None, b: float | None) -> float | None:
    """a / b, or None when either is missing or b is zero."""
    if a is None or not b:
        return None
    return a / b


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages, rounded (2 cores on the benchmark machines)."""
    return [round(x, 2) for x in os.getloadavg()]


def print_load(label: str) -> list[float]:
    """Print the load average with a label and return it."""
    load = load_average()
    print(f"[{label}] load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on "
          f"{os.cpu_count()} cores")
    return load


def fmt(value: float | None, digits: int = 1) -> str:
    """A number for a table cell; '-' when missing."""
    return "-" if value is None else f"{value:.{digits}f}"


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print a plain-text table: the first column left-aligned, the others right-aligned."""
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    for k, row in enumerate([headers, *rows]):
        cells = [str(c).ljust(w) if i == 0 else str(c).rjust(w)
                 for i, (c, w) in enumerate(zip(row, widths))]
        print("  ".join(cells))
        if k == 0:
            print("  ".join("-" * w for w in widths))


def rounded(result: dict) -> dict:
    """The result with floats rounded to 3 decimal places, for the JSON line."""
    return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in result.items()}


def print_result_line(result: dict) -> None:
    """Print the machine-readable result: one JSON object, the last line of the output."""
    print(json.dumps(rounded(result), ensure_ascii=False), flush=True)
