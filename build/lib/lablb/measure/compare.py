"""The regression comparison of two runs: what ``lablb compare`` and ``lablb run
--baseline`` decide with. Pure.

A statistic that exceeds the baseline's by more than the allowance, or a trial that
leaves its config bound, is a finding. Only like is compared with like:
``incomparable`` lists what differs between two runs (scenario, topology, engine,
parameters, the configs' SHA-256); the CLI refuses those unless forced. The allowance
is not a typed-in percentage: it is the run's own derived slack (``slack["epsilon_s"]``,
timer granularity plus one scheduling quantum) plus the baseline's own spread,
(max - min) / sqrt(n): how far a statistic of n trials moves when nothing but the point
of the fault in the advert cycle changed. At 10 ms adverts that is a few milliseconds;
at 1 s adverts a few hundred.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from lablb.measure.result import RunResult
from lablb.measure.stats import STATS


@dataclass(frozen=True)
class Finding:
    quantity: str
    what: str

    def __str__(self) -> str:
        return f"{self.quantity}: {self.what}"


def incomparable(baseline: RunResult, result: RunResult) -> list[str]:
    """What differs between two runs that makes their timings incomparable."""
    out = []
    for key in ("scenario", "topology", "engine"):
        a, b = getattr(baseline, key), getattr(result, key)
        if a != b:
            out.append(f"{key} {b!r} vs baseline {a!r}")
    if baseline.parameters != result.parameters:
        a, b = baseline.parameters, result.parameters
        diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
        out.append(f"parameters differ ({', '.join(diff)})")
    if baseline.configs != result.configs:
        out.append("the configs differ (SHA-256)")
    return out


def allowance(baseline: RunResult, quantity: str) -> float:
    """How much a statistic of ``quantity`` may exceed the baseline's before it is a
    regression: the run's derived slack plus the baseline's spread over sqrt(n)."""
    values = baseline.values(quantity)
    spread = (max(values) - min(values)) / math.sqrt(len(values)) if len(values) > 1 else 0.0
    return baseline.slack.get("epsilon_s", 0.0) + spread


def compare(baseline: RunResult, result: RunResult) -> list[Finding]:
    """Findings of ``result`` against ``baseline``."""
    findings = []
    for i, t in enumerate(result.trials):
        for name, (low, high) in t.bounds_over(result.bounds).items():
            v = t.measured.get(name)
            if v is not None and not low <= v <= high:
                findings.append(
                    Finding(
                        name,
                        f"trial {i + 1}: {v:.4f} s outside its config "
                        f"bound [{low:.4f}, {high:.4f}]",
                    )
                )
    for name, stats in result.stats.items():
        room = allowance(baseline, name)
        for stat in STATS[1:]:
            old = baseline.stats.get(name, {}).get(stat)
            new = stats.get(stat)
            if old is None or new is None:
                continue
            if new > old + room:
                findings.append(
                    Finding(
                        name,
                        f"{stat} {new:.4f} s > baseline {old:.4f} s + {room * 1000:.1f} ms "
                        f"(slack + baseline spread / sqrt(n))",
                    )
                )
    if not result.passed:
        findings.append(Finding("verdict", f"the run's verdict is {result.verdict!r}"))
    return findings
