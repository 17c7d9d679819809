"""Statistics over trials and the regression comparison of two results. Pure.

``summary`` gives min / median / p95 / max (p95 by the nearest-rank method, so it is
always one of the measured values). ``compare`` is what ``lablb compare`` and
``lablb run --baseline`` decide with: a statistic that exceeds the baseline's by more
than the tolerance, or a trial that leaves its config bound, is a finding.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

STATS = ("min", "median", "p95", "max")
DEFAULT_REL_TOLERANCE = 0.20  # 20 % slower than the baseline...
DEFAULT_ABS_TOLERANCE = 0.050  # ...and at least 50 ms: timer noise is not a regression


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
    trials: Sequence[Mapping[str, Any]], bounds: Mapping[str, Sequence[float]]
) -> dict[str, dict[str, float]]:
    """Per bounded quantity, the summary over the trials that measured it."""
    out = {}
    for name in bounds:
        values = [float(t[name]) for t in trials if isinstance(t.get(name), int | float)]
        if values:
            out[name] = summary(values)
    return out


@dataclass(frozen=True)
class Finding:
    quantity: str
    what: str

    def __str__(self) -> str:
        return f"{self.quantity}: {self.what}"


def compare(
    baseline: Mapping[str, Any],
    result: Mapping[str, Any],
    rel: float = DEFAULT_REL_TOLERANCE,
    abs_: float = DEFAULT_ABS_TOLERANCE,
) -> list[Finding]:
    """Findings of ``result`` against ``baseline`` (both result.json objects)."""
    findings = []
    if baseline.get("scenario") != result.get("scenario"):
        findings.append(
            Finding(
                "scenario",
                f"{result.get('scenario')} compared with a {baseline.get('scenario')} baseline",
            )
        )
    bounds = result.get("bounds", {})
    for name, (low, high) in bounds.items():
        for i, t in enumerate(result.get("trials", [])):
            v = t.get(name)
            if isinstance(v, int | float) and not low <= v <= high:
                findings.append(
                    Finding(
                        name,
                        f"trial {i + 1}: {v:.3f} s outside its config "
                        f"bound [{low:.3f}, {high:.3f}]",
                    )
                )
    base_stats = baseline.get("stats", {})
    for name, stats in result.get("stats", {}).items():
        for stat in STATS[1:]:
            if stat not in stats or stat not in base_stats.get(name, {}):
                continue
            old, new = float(base_stats[name][stat]), float(stats[stat])
            limit = old * (1 + rel) + abs_
            if new > limit:
                findings.append(
                    Finding(
                        name,
                        f"{stat} {new:.3f} s > baseline {old:.3f} s "
                        f"(+{rel:.0%} +{abs_ * 1000:.0f} ms = {limit:.3f} s)",
                    )
                )
    if result.get("verdict") != "pass":
        findings.append(Finding("verdict", f"the run's verdict is {result.get('verdict')!r}"))
    return findings
