"""Statistics over trials and the regression comparison of two results. Pure.

``summary`` gives min / median / p95 / max (p95 by the nearest-rank method, so it is
always one of the measured values). ``compare`` is what ``lablb compare`` and
``lablb run --baseline`` decide with: a statistic that exceeds the baseline's by more
than the allowance, or a trial that leaves its config bound, is a finding.

Only like is compared with like: ``incomparable`` lists what differs between two runs
(scenario, topology, engine, parameters, the configs' SHA-256); the CLI refuses those
unless forced. The allowance is not a typed-in percentage: it is the run's own derived
slack (``result["slack"]["epsilon_s"]``, timer granularity plus one scheduling quantum)
plus the baseline's own spread, (max - min) / sqrt(n): how far a statistic of n trials
moves when nothing but the point of the fault in the advert cycle changed. At 10 ms
adverts that is a few milliseconds; at 1 s adverts a few hundred.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

STATS = ("min", "median", "p95", "max")
SAME = ("scenario", "topology", "engine", "parameters", "configs")


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


def incomparable(baseline: Mapping[str, Any], result: Mapping[str, Any]) -> list[str]:
    """What differs between two runs that makes their timings incomparable."""
    out = []
    for key in SAME:
        if baseline.get(key) != result.get(key):
            if key == "parameters":
                a, b = baseline.get(key) or {}, result.get(key) or {}
                diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
                out.append(f"parameters differ ({', '.join(diff)})")
            elif key == "configs":
                out.append("the configs differ (SHA-256)")
            else:
                out.append(f"{key} {result.get(key)!r} vs baseline {baseline.get(key)!r}")
    return out


def allowance(baseline: Mapping[str, Any], quantity: str) -> float:
    """How much a statistic of ``quantity`` may exceed the baseline's before it is a
    regression: the run's derived slack plus the baseline's spread over sqrt(n)."""
    slack = float((baseline.get("slack") or {}).get("epsilon_s", 0.0))
    values = [
        float(t[quantity])
        for t in baseline.get("trials", [])
        if isinstance(t.get(quantity), int | float)
    ]
    spread = (max(values) - min(values)) / math.sqrt(len(values)) if len(values) > 1 else 0.0
    return slack + spread


def compare(baseline: Mapping[str, Any], result: Mapping[str, Any]) -> list[Finding]:
    """Findings of ``result`` against ``baseline`` (both result.json objects)."""
    findings = []
    bounds = result.get("bounds", {})
    for i, t in enumerate(result.get("trials", [])):
        own = t.get("bounds") or {}
        for name, (low, high) in {**bounds, **own}.items():
            v = t.get(name)
            if isinstance(v, int | float) and not low <= v <= high:
                findings.append(
                    Finding(
                        name,
                        f"trial {i + 1}: {v:.4f} s outside its config "
                        f"bound [{low:.4f}, {high:.4f}]",
                    )
                )
    base_stats = baseline.get("stats", {})
    for name, stats in result.get("stats", {}).items():
        room = allowance(baseline, name)
        for stat in STATS[1:]:
            if stat not in stats or stat not in base_stats.get(name, {}):
                continue
            old, new = float(base_stats[name][stat]), float(stats[stat])
            if new > old + room:
                findings.append(
                    Finding(
                        name,
                        f"{stat} {new:.4f} s > baseline {old:.4f} s + {room * 1000:.1f} ms "
                        f"(slack + baseline spread / sqrt(n))",
                    )
                )
    if result.get("verdict") != "pass":
        findings.append(Finding("verdict", f"the run's verdict is {result.get('verdict')!r}"))
    return findings
