"""One trial's record, typed: the seam between a scenario and the runner.

Pure data. A scenario's ``trial`` returns a ``Trial``; the runner judges it (every
bounded quantity in its bound, no problem listed) and writes ``as_json()`` into
result.json, where a trial is one flat object (schema in ``lablb.scenario``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
