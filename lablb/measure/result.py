"""A run's record, typed from the trial to the file: the seam between a scenario, the
runner, the report and a CI job.

Pure data and pure judging, no I/O. A scenario's ``trial`` returns a ``Trial``; the
runner collects them in a ``RunResult``, ``finish`` judges it (every bounded quantity in
its bound, no problem listed), and ``to_json`` is what result.json holds. ``from_json``
reads one back, older schemas brought up to date here and nowhere else. Everything that
reads a run (report, JUnit, statistics and comparison, the pytest plugin, bench,
notebooks) reads these types, never the file's keys.

result.json, schema ``lablb.result/3`` (/2 let a trial fail by a key ending in ``_ok``
being false; read as /3 with each such flag a problem)::

    {"schema": "lablb.result/3", "scenario": str, "verdict": "pass" | "fail",
     "parameters": {...}, "topology": str, "engine": str, "repeat": int,
     "configs": {file: sha256}, "config_dir": str,
     "config_warnings": [str] (lines keepalived ignores and runs without, as the lab did),
     "stand_ins": [str] (what the lab ran in place of what the file expects on the
     machine: the local service a VRRP-only VIP fronts, a missing tracked script),
     "bounds": {name: [low, high]}, "notes": [str] (how the slack was derived),
     "slack": {"epsilon_s", "timer_s", "quantum_s", ...} (what compare allows beyond
     spread), "trials": [{name: seconds, ..., "bounds": {...}, "problems": [str],
     "verdict": str, anything the trial kept}], "run_failures": [str],
     "stats": {name: {"min", "median", "p95", "max"}}, "failures": [str],
     "tools": {...}, "started": epoch seconds, "lab_up_s": float, "duration_s": float,
     "baseline_findings": [str] (with --baseline),
     "remeasured": [trial] (attempts the machine disturbed, each with "disturbed": [str],
     measured again: see ``lablb.runner.REMEASURE``)}

A trial is one flat object: its bounded quantities beside what it kept; which keys are
quantities is said by the bounds (the run's and the trial's own).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from lablb.measure.stats import STATS, stats_of

SCHEMA = "lablb.result/3"
SCHEMA_2 = "lablb.result/2"
Bounds = dict[str, tuple[float, float]]
_TRIAL_KEYS = ("bounds", "problems", "verdict", "disturbed")


def _bounds(raw: object) -> Bounds:
    """Bounds as JSON keeps them (name -> [low, high]); anything else is none."""
    if not isinstance(raw, Mapping):
        return {}
    out: Bounds = {}
    for k, v in raw.items():
        if isinstance(v, list | tuple) and len(v) == 2:  # [low, high]
            out[str(k)] = (float(v[0]), float(v[1]))
    return out


def _strings(raw: object) -> list[str]:
    return [str(x) for x in raw] if isinstance(raw, list | tuple) else []


def _number(raw: object) -> float | None:
    return float(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) else None


@dataclass
class Trial:
    """``measured``: each bounded quantity in seconds (None: it was not measured, which
    fails the trial); ``bounds``: the trial's own, where they depend on what it saw
    (e.g. the probe's resolution), over the run's; ``problems``: anything else that
    fails it, in words; ``data``: what is worth keeping and is not judged;
    ``verdict``: "pass" or "fail" once judged, "" before; ``disturbed``: evidence, in
    words, that the machine broke a condition the bounds rest on while it ran (a
    timer's wake-up waited for a CPU longer than they allow: ``lablb.measure.
    disturbance``). It does not change the verdict; the runner measures such a failed
    trial again."""

    measured: dict[str, float | None] = field(default_factory=dict)
    bounds: Bounds = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    data: dict[str, object] = field(default_factory=dict)
    verdict: str = ""
    disturbed: list[str] = field(default_factory=list)

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

    def get(self, name: str) -> object:
        """A quantity it measured, else something it kept (None: neither)."""
        return self.measured[name] if name in self.measured else self.data.get(name)

    def bounds_over(self, run: Bounds) -> Bounds:
        """The run's bounds, with the trial's own where it carries them."""
        return {**run, **self.bounds}

    def judge(self, run: Bounds) -> list[str]:
        """Pass when every bounded quantity is measured and inside its bound (its own,
        if it carries one) and no problem is listed; sets ``verdict``, returns why not."""
        why = []
        for name, (low, high) in self.bounds_over(run).items():
            v = self.measured.get(name)
            if v is None:
                why.append(f"{name}: not measured")
            elif not low <= v <= high:
                why.append(f"{name} {v:.4f} s not in [{low:.4f}, {high:.4f}]")
        why += self.problems
        self.verdict = "fail" if why else "pass"
        return why

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = dict(self.data)
        out.update(self.measured)
        out["bounds"] = {k: [round(lo, 6), round(hi, 6)] for k, (lo, hi) in self.bounds.items()}
        out["problems"] = list(self.problems)
        if self.verdict:
            out["verdict"] = self.verdict
        if self.disturbed:
            out["disturbed"] = list(self.disturbed)
        return out

    @classmethod
    def from_json(cls, flat: Mapping[str, object], run: Bounds) -> Trial:
        """A trial as result.json keeps it: the keys the bounds name are its
        quantities (a non-number is None: not measured), the rest what it kept."""
        own = _bounds(flat.get("bounds"))
        names = {**run, **own}
        problems = _strings(flat.get("problems"))
        if flat.get("error"):  # an early runner's way of saying a trial raised
            problems.append(str(flat["error"]))
        return cls(
            measured={k: _number(flat[k]) for k in names if k in flat},
            bounds=own,
            problems=problems,
            data={k: v for k, v in flat.items()
                  if k not in names and k not in _TRIAL_KEYS and k != "error"},
            verdict=str(flat.get("verdict") or ""),
            disturbed=_strings(flat.get("disturbed")),
        )  # fmt: skip


@dataclass
class RunResult:
    """A whole run: what ran, its bounds and how their slack was derived, its trials,
    and (once ``finish`` judged it) the verdict and what failed. ``run_failures``: the
    run's own (the lab did not come up), kept apart from the trials' so that judging
    again never counts one twice; ``remeasured``: failed attempts the machine disturbed,
    each measured again (the trial that counts is in ``trials``). ``extra``: keys of the
    file this version does not know, kept as read; ``path``: the run's folder, when it
    has one."""

    scenario: str
    parameters: dict[str, object] = field(default_factory=dict)
    topology: str = ""
    engine: str = ""
    repeat: int = 1
    configs: dict[str, str] = field(default_factory=dict)
    config_dir: str = ""
    config_warnings: list[str] = field(default_factory=list)
    stand_ins: list[str] = field(default_factory=list)
    bounds: Bounds = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    slack: dict[str, float] = field(default_factory=dict)
    trials: list[Trial] = field(default_factory=list)
    run_failures: list[str] = field(default_factory=list)
    stats: dict[str, dict[str, float]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    verdict: str = "fail"
    tools: dict[str, str] = field(default_factory=dict)
    started: float = 0.0
    lab_up_s: float | None = None
    duration_s: float | None = None
    baseline_findings: list[str] = field(default_factory=list)
    remeasured: list[Trial] = field(default_factory=list)  # disturbed attempts, judged
    extra: dict[str, object] = field(default_factory=dict)
    path: Path | None = None

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    def finish(self) -> RunResult:
        """Verdicts per trial, statistics, the run's verdict (no trial is no pass)."""
        failures = list(self.run_failures)
        for i, t in enumerate(self.trials):
            failures += [f"trial {i + 1}: {w}" for w in t.judge(self.bounds)]
        self.stats = stats_of([t.measured for t in self.trials], self.bounds)
        self.failures = failures
        self.verdict = "pass" if self.trials and not failures else "fail"
        return self

    def values(self, quantity: str) -> list[float]:
        """What the trials measured of ``quantity``, in order (unmeasured left out)."""
        return [v for t in self.trials if (v := t.measured.get(quantity)) is not None]

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "schema": SCHEMA,
            "scenario": self.scenario,
            "verdict": self.verdict,
            "parameters": dict(self.parameters),
            "topology": self.topology,
            "engine": self.engine,
            "repeat": self.repeat,
            "configs": dict(self.configs),
            "config_dir": self.config_dir,
            "config_warnings": list(self.config_warnings),
            "stand_ins": list(self.stand_ins),
            "bounds": {k: [lo, hi] for k, (lo, hi) in self.bounds.items()},
            "notes": list(self.notes),
            "slack": dict(self.slack),
            "trials": [t.as_json() for t in self.trials],
            "run_failures": list(self.run_failures),
            "stats": {k: dict(v) for k, v in self.stats.items()},
            "failures": list(self.failures),
            "tools": dict(self.tools),
            "started": self.started,
            "lab_up_s": self.lab_up_s,
            "duration_s": self.duration_s,
        }
        if self.baseline_findings:
            out["baseline_findings"] = list(self.baseline_findings)
        if self.remeasured:
            out["remeasured"] = [t.as_json() for t in self.remeasured]
        return {**self.extra, **out}

    @classmethod
    def from_json(cls, data: Mapping[str, object], path: Path | None = None) -> RunResult:
        """A result.json object (the current schema or /2, brought up to date); what it
        does not say keeps its default, and no verdict said is no pass."""
        if data.get("schema") == SCHEMA_2:
            data = upgrade_2(data)
        bounds = _bounds(data.get("bounds"))
        raw_trials = data.get("trials")
        trials = [Trial.from_json(t, bounds) for t in raw_trials if isinstance(t, Mapping)] \
            if isinstance(raw_trials, list) else []  # fmt: skip
        raw_again = data.get("remeasured")
        again = [Trial.from_json(t, bounds) for t in raw_again if isinstance(t, Mapping)] \
            if isinstance(raw_again, list) else []  # fmt: skip
        stats = data.get("stats")
        slack = data.get("slack")
        known = {f for f in cls.__dataclass_fields__ if f not in ("extra", "path")}
        return cls(
            scenario=str(data.get("scenario", "")),
            parameters=dict(_mapping(data.get("parameters"))),
            topology=str(data.get("topology") or ""),
            engine=str(data.get("engine") or ""),
            repeat=int(_number(data.get("repeat")) or 1),
            configs={str(k): str(v) for k, v in _mapping(data.get("configs")).items()},
            config_dir=str(data.get("config_dir") or ""),
            config_warnings=_strings(data.get("config_warnings")),
            stand_ins=_strings(data.get("stand_ins")),
            bounds=bounds,
            notes=_strings(data.get("notes")),
            slack=_numbers(slack),
            trials=trials,
            run_failures=_strings(data.get("run_failures")),
            stats={str(k): {s: n for s, n in _numbers(v).items() if s in STATS}
                   for k, v in _mapping(stats).items()},
            failures=_strings(data.get("failures")),
            verdict=str(data.get("verdict") or "fail"),
            tools={str(k): str(v) for k, v in _mapping(data.get("tools")).items()},
            started=_number(data.get("started")) or 0.0,
            lab_up_s=_number(data.get("lab_up_s")),
            duration_s=_number(data.get("duration_s")),
            baseline_findings=_strings(data.get("baseline_findings")),
            remeasured=again,
            extra={k: v for k, v in data.items() if k not in known and k != "schema"},
            path=path,
        )

    def __str__(self) -> str:
        """One line, as the run's last: the verdict and what failed first."""
        head = f"{self.scenario}: {self.verdict.upper()}, {len(self.trials)} trial(s)"
        if not self.failures:
            return head
        more = f" (and {len(self.failures) - 1} more)" if len(self.failures) > 1 else ""
        return f"{head}; first: {self.failures[0]}{more}"


def _mapping(raw: object) -> Mapping[str, object]:
    return raw if isinstance(raw, Mapping) else {}


def _numbers(raw: object) -> dict[str, float]:
    return {str(k): n for k, v in _mapping(raw).items() if (n := _number(v)) is not None}


def upgrade_2(data: Mapping[str, object]) -> dict[str, object]:
    """A ``lablb.result/2`` run read as /3: a trial there could fail by a key ending in
    ``_ok`` being false; /3 says every such failure in ``problems``."""
    trials = []
    raw = data.get("trials")
    for t in raw if isinstance(raw, list) else []:
        if not isinstance(t, Mapping):
            continue
        flags = [k for k, v in t.items() if str(k).endswith("_ok") and v is False]
        problems = [*_strings(t.get("problems")), *(f"{k} is false" for k in flags)]
        trials.append({**t, "problems": problems})
    return {**data, "trials": trials, "schema": SCHEMA}
