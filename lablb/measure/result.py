"""One trial's record, typed: the seam between a scenario and the runner.

Pure data. A scenario's ``trial`` returns a ``Trial``; the runner judges it (every
bounded quantity in its bound, no problem listed) and writes ``as_json()`` into
result.json, where a trial is one flat object (schema in ``lablb.scenario``).
``RunResult`` reads a whole run back, typed where a CI job acts on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

Bounds = dict[str, tuple[float, float]]


@dataclass
class Trial:
    """``measured``: each bounded quantity in seconds (None: it was not measured, which
    fails the trial); ``bounds``: the trial's own, where they depend on what it saw
    (e.g. the probe's resolution), over the run's; ``problems``: anything else that
    fails it, in words; ``data``: what is worth keeping and is not judged."""

    measured: dict[str, float | None] = field(default_factory=dict)
    bounds: Bounds = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    data: dict[str, object] = field(default_factory=dict)

    @classmethod
    def failed(cls, why: str) -> Trial:
        """A trial that could not be run or measured."""
        return cls(problems=[why])

    def keep(self, **data: object) -> Trial:
        self.data.update(data)
        return self

    def require(self, ok: bool, why: str) -> None:
        """A condition the trial needs; ``why`` is the problem when it does not hold."""
        if not ok:
            self.problems.append(why)

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = dict(self.data)
        out.update(self.measured)
        out["bounds"] = {k: [round(lo, 6), round(hi, 6)] for k, (lo, hi) in self.bounds.items()}
        out["problems"] = list(self.problems)
        return out


@dataclass(frozen=True)
class RunResult:
    """A whole run as its result.json says, typed where a CI job acts on it: the
    verdict, what failed first, the trials; the rest of the file stays in ``data``."""

    scenario: str
    verdict: str  # "pass" or "fail"
    failures: tuple[str, ...]
    trials: tuple[Mapping[str, object], ...]
    data: Mapping[str, object]
    path: Path | None = None  # the run's folder (result.json, capture.pcap, plots)

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    @classmethod
    def from_json(cls, data: Mapping[str, object], path: Path | None = None) -> RunResult:
        failures = data.get("failures")
        trials = data.get("trials")
        return cls(
            scenario=str(data.get("scenario", "")),
            verdict=str(data.get("verdict", "fail")),
            failures=tuple(str(f) for f in failures) if isinstance(failures, list) else (),
            trials=tuple(t for t in trials if isinstance(t, Mapping))
            if isinstance(trials, list) else (),
            data=data,
            path=path,
        )  # fmt: skip

    def __str__(self) -> str:
        """One line, as the run's last: the verdict and what failed first."""
        head = f"{self.scenario}: {self.verdict.upper()}, {len(self.trials)} trial(s)"
        if not self.failures:
            return head
        more = f" (and {len(self.failures) - 1} more)" if len(self.failures) > 1 else ""
        return f"{head}; first: {self.failures[0]}{more}"
