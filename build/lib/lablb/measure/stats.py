"""Statistics over trials. Pure.

``summary`` gives min / median / p95 / max (p95 by the nearest-rank method, so it is
always one of the measured values); ``stats_of`` one summary per bounded quantity.
Comparing two runs is ``lablb.measure.compare``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

STATS = ("min", "median", "p95", "max")


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (``p`` in 0..100) of a non-empty sequence."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def summary(values: Sequence[float]) -> dict[str, float]:
    ordered = sorted(values)
    n = len(ordered)
    mid = n // 2
    median = ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2
    return {"min": ordered[0], "median": median, "p95": percentile(ordered, 95), "max": ordered[-1]}


def stats_of(
    measured: Sequence[Mapping[str, float | None]], bounds: Mapping[str, object]
) -> dict[str, dict[str, float]]:
    """Per bounded quantity, the summary over the trials that measured it (``measured``:
    each trial's quantities)."""
    out = {}
    for name in bounds:
        values = [v for m in measured if (v := m.get(name)) is not None]
        if values:
            out[name] = summary(values)
    return out
