"""Scenarios: a fault injected into a live lab under traffic, measured against the bounds
the configuration implies, written up as a result directory.

A scenario is a class in ``scenarios/NAME.py`` (``SCENARIO = ...``), found by name like a
topology. Its docstring is its timeline; ``params`` its knobs (``Param``: default,
choices or range, all checked before a lab starts); ``bounds`` what the config promises
(name -> (low, high) seconds); ``trial`` one run of the fault, returning a ``Trial``
(``lablb.measure.result``): each bounded quantity in seconds, the trial's own bounds
where they depend on what it measured (e.g. the probe's resolution), its problems, and
anything worth keeping. A trial fails when a bounded quantity is missing or outside its
bound, or when it lists a problem.
This module runs them: lab up, capture, trials, ``result.json`` (schema below), logs and
plots, a one-screen summary.

All instants are CLOCK_REALTIME seconds as the kernel stamps packets (probe answers,
the capture); fault instants are read with clock_gettime in the runner, right after the
kernel call that made the fault; daemon logs (CLOCK_MONOTONIC) are shifted onto it.

result.json, schema ``lablb.result/3`` (/2 differed in letting a trial fail by a key
ending in ``_ok``; ``lablb.report.load_result`` reads it)::

    {"schema": "lablb.result/3", "scenario": str, "verdict": "pass" | "fail",
     "parameters": {...}, "topology": str, "engine": str, "configs": {file: sha256},
     "config_warnings": [str] (lines keepalived ignores and runs without, as the lab did),
     "stand_ins": [str] (what the lab ran in place of what the file expects on the
     machine: the local service a VRRP-only VIP fronts, a missing tracked script),
     "bounds": {name: [low, high]}, "notes": [str] (how the slack was derived),
     "slack": {"epsilon_s", "timer_s", "quantum_s"} (what compare allows beyond spread),
     "trials": [{name: seconds, ..., "bounds": {...}, "problems": [str], "verdict": ...}],
     "stats": {name: {"min", "median", "p95", "max"}}, "failures": [str],
     "tools": {...}, "started": epoch seconds, "duration_s": float}

A failover trial also keeps ``probes`` (per probe: every gap, longest, total,
never_recovered), ``takeover_s``, ``timeline``, ``responders`` and the fault's
confirmation from the capture (``lablb.measure.failover``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lablb.errors import LabError, LablbError, UsageError
from lablb.measure.result import Trial
from lablb.measure.stats import stats_of
from lablb.paths import shipped

if TYPE_CHECKING:  # the lab layer imports Mininet: only the runner loads it, at run time
    from lablb.lab.capture import Capture
    from lablb.lab.cluster import Cluster
    from lablb.lab.faults import Faults

SCHEMA = "lablb.result/3"
Bounds = dict[str, tuple[float, float]]


@dataclass(frozen=True)
class Param:
    """A scenario's knob: its default (whose type is the parameter's), what it means,
    and what it may be: ``choices`` for a word, ``low``/``high`` (inclusive) for a
    number. Every value is checked before any lab starts."""

    default: Any
    help: str
    choices: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None

    def __post_init__(self) -> None:
        self.check(self.default)  # a scenario's own default must be one of its values

    def describe(self) -> str:
        if self.choices:
            return "|".join(self.choices)
        kind = type(self.default).__name__
        if self.low is not None or self.high is not None:
            lo = "" if self.low is None else f"{self.low:g}"
            hi = "" if self.high is None else f"{self.high:g}"
            return f"{kind} {lo}..{hi}"
        return "yes|no" if isinstance(self.default, bool) else kind

    def parse(self, text: str) -> Any:
        kind = type(self.default)
        if kind is bool:
            if text.lower() in ("1", "yes", "true", "on"):
                return True
            if text.lower() in ("0", "no", "false", "off"):
                return False
            raise ValueError(f"{text!r} is not yes/no")
        try:
            value = kind(text)
        except ValueError:
            raise ValueError(
                f"{text!r} is not {'an' if kind is int else 'a'} {kind.__name__}"
            ) from None
        self.check(value)
        return value

    def check(self, value: Any) -> None:
        if self.choices and value not in self.choices:
            raise ValueError(f"{value!r} is not one of {', '.join(self.choices)}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{value!r} is not a finite number")
        if self.low is not None and value < self.low:
            raise ValueError(f"{value:g} is below {self.low:g}")
        if self.high is not None and value > self.high:
            raise ValueError(f"{value:g} is above {self.high:g}")


@dataclass
class Context:
    """What a trial gets: the running cluster, the server LAN's capture, the faults the
    runner keeps (a scenario makes its faults with ``faults.new``; whatever a trial left
    injected is undone after it), the parameters, where to write."""

    cluster: Cluster
    capture: Capture
    faults: Faults
    params: dict[str, Any]
    out: Path
    progress: Callable[[str], None]
    notes: list[str] = field(default_factory=list)
    bounds: Bounds = field(default_factory=dict)  # the scenario's, computed once per run
    slack: dict[str, float] = field(default_factory=dict)  # the derived slack, if any


class Scenario:
    """Base class; subclasses set ``name``, ``params`` and implement the hooks."""

    name = ""
    params: dict[str, Param] = {}  # noqa: RUF012 - class-level declaration, never mutated
    video_mb_param: str | None = None  # a parameter naming the MP4 size the lab serves
    trials_param: str | None = None  # a parameter naming how many trials one repeat is
    #: parameters for a short run: the suite runs every scenario once with these
    quick: dict[str, str] = {}  # noqa: RUF012 - class-level declaration, never mutated

    doc = ""  # the scenario file's docstring, set when it is loaded

    @property
    def timeline(self) -> str:
        return (self.doc or self.__doc__ or "").strip()

    def check(self, params: dict[str, Any], hosts: dict[str, str]) -> None:
        """Parameters that depend on the lab (``hosts``: name -> role), checked before it
        starts; raise ``UsageError``."""

    def configure(self, configs: Path, params: dict[str, Any], out: Path) -> Path:
        """The config set to run; a scenario may derive one (written under ``out``)."""
        return configs

    def bounds(self, ctx: Context) -> Bounds:
        raise NotImplementedError

    def trial(self, ctx: Context, index: int) -> Trial:
        raise NotImplementedError


def scenarios_dir() -> Path:
    path = shipped("scenarios", "LABLB_SCENARIOS")
    if not path.is_dir():
        raise UsageError(f"no scenarios folder at {path}; set LABLB_SCENARIOS")
    return path


def scenario_module(path: Path) -> Any:
    """The module of a scenario file, loaded once (a scenario may build on another's:
    ``scenario_class("failover")``)."""
    key = f"lablb_scenario_{path.stem}"
    if key in sys.modules:
        return sys.modules[key]
    spec = importlib.util.spec_from_file_location(key, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"cannot load scenario file {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[key] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[key]
        raise
    return module


def scenario_class(name: str) -> type[Scenario]:
    """The class of scenario ``name`` (``scenarios/NAME.py``), to subclass."""
    cls: type[Scenario] = scenario_module(scenarios_dir() / f"{name}.py").SCENARIO
    return cls


def all_scenarios() -> dict[str, Scenario]:
    found = {}
    for path in sorted(scenarios_dir().glob("*.py")):
        if path.name.startswith("_"):
            continue
        module = scenario_module(path)
        cls = getattr(module, "SCENARIO", None)
        if cls is not None:
            scenario = cls()
            scenario.doc = module.__doc__ or ""
            found[cls.name] = scenario
    return found


def get_scenario(name: str) -> Scenario:
    known = all_scenarios()
    if name not in known:
        raise UsageError(f"no scenario {name!r}; known: {', '.join(sorted(known)) or 'none'}")
    return known[name]


def parse_params(scenario: Scenario, pairs: list[str]) -> dict[str, Any]:
    values = {k: p.default for k, p in scenario.params.items()}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or key not in scenario.params:
            takes = ", ".join(f"{k}=<{p.describe()}>" for k, p in scenario.params.items())
            raise UsageError(
                f"--param {pair!r}: {scenario.name} takes " + (takes or "no parameters")
            )
        try:
            values[key] = scenario.params[key].parse(text)
        except ValueError as exc:
            raise UsageError(f"--param {key}: {exc}") from None
    return values


def trial_bounds(trial: dict[str, Any], bounds: Bounds) -> Bounds:
    """The run's bounds, with the trial's own where it carries them."""
    own = trial.get("bounds")
    merged = dict(bounds)
    if isinstance(own, dict):
        merged.update({k: (float(v[0]), float(v[1])) for k, v in own.items()})
    return merged


def verdict_of(trial: dict[str, Any], bounds: Bounds) -> tuple[str, list[str]]:
    """A trial (as result.json keeps it) passes when every bounded quantity it measured
    is inside its bound (its own, if it carries one) and it lists no problems; the
    reasons otherwise."""
    why = []
    for name, (low, high) in trial_bounds(trial, bounds).items():
        v = trial.get(name)
        if v is None:
            why.append(f"{name}: not measured")
        elif not low <= v <= high:
            why.append(f"{name} {v:.4f} s not in [{low:.4f}, {high:.4f}]")
    why += [str(p) for p in trial.get("problems") or []]
    if trial.get("error"):
        why.append(str(trial["error"]))
    return ("pass" if not why else "fail"), why


def _tool_versions() -> dict[str, str]:
    def first_line(argv: list[str]) -> str:
        try:
            res = subprocess.run(argv, capture_output=True, text=True, timeout=5, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return "not found"
        return (
            (res.stdout or res.stderr).strip().splitlines()[0]
            if (res.stdout or res.stderr)
            else "?"
        )

    from importlib.metadata import PackageNotFoundError, version

    def pkg(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    return {
        "lablb": pkg("lablb"),
        "python": sys.version.split()[0],
        "kernel": platform.release(),
        "mininet": pkg("mininet"),
        "keepalived": first_line(["keepalived", "--version"]),
        "nginx": first_line(["nginx", "-v"]),
        "curl": first_line(["curl", "--version"]),
    }


def config_digests(configs: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(configs.glob("*.conf"))
    }


def finish(result: dict[str, Any]) -> dict[str, Any]:
    """Verdicts per trial, statistics, overall verdict (pure, so ``report`` and tests
    can recompute it)."""
    bounds = {k: (float(v[0]), float(v[1])) for k, v in result["bounds"].items()}
    # Failures of the run itself (the lab did not come up) are kept apart from the
    # trials', so that recomputing never counts a trial's twice.
    failures = list(result.get("run_failures", []))
    for i, t in enumerate(result["trials"]):
        t["verdict"], why = verdict_of(t, bounds)
        failures += [f"trial {i + 1}: {w}" for w in why]
    result["stats"] = stats_of(result["trials"], bounds)
    result["failures"] = failures
    result["verdict"] = "pass" if result["trials"] and not failures else "fail"
    return result


def new_result(
    name: str, values: dict[str, Any], topology: str, engine: str, repeat: int, conf_dir: Path
) -> dict[str, Any]:
    """A run's result.json before its trials (the schema above)."""
    return {
        "schema": SCHEMA,
        "scenario": name,
        "parameters": values,
        "topology": topology,
        "engine": engine,
        "repeat": repeat,
        "configs": config_digests(conf_dir),
        "config_dir": str(conf_dir),
        "bounds": {},
        "trials": [],
        "run_failures": [],
        "failures": [],
        "tools": _tool_versions(),
        "started": time.time(),
    }


def run_trials(scenario: Scenario, ctx: Context, trials: int, result: dict[str, Any]) -> None:
    """The scenario's bounds for ``ctx``'s cluster, then ``trials`` runs of its fault,
    each judged against them, into ``result`` (bounds, trials, notes, slack); whatever
    a trial left injected is undone after it. A trial that raises a LablbError is a
    failed trial, not the end of the run."""
    ctx.bounds = scenario.bounds(ctx)
    result["bounds"] = {k: [lo, hi] for k, (lo, hi) in ctx.bounds.items()}
    out = result["trials"] = []
    for i in range(trials):
        ctx.progress(f"{scenario.name}: trial {i + 1}/{trials}")
        try:
            record = scenario.trial(ctx, i)
        except LablbError as exc:
            record = Trial.failed(str(exc))
        try:
            left = ctx.faults.undo_all()
        except LablbError as exc:
            left = []
            record.problems.append(f"a fault the trial left could not be undone: {exc}")
        if left:  # the runner keeps the faults: a trial may leave them to it
            record.keep(undone_after_trial=left)
        trial = record.as_json()
        trial["verdict"], why = verdict_of(trial, ctx.bounds)
        ctx.progress(
            f"{scenario.name}: trial {i + 1}: {trial['verdict']}"
            + (f" ({'; '.join(why)})" if why else "")
        )
        out.append(trial)
    result["notes"], result["slack"] = ctx.notes, ctx.slack


def write_result(result: dict[str, Any], run_dir: Path) -> None:
    (run_dir / "result.json").write_text(json.dumps(result, indent=2, default=str) + "\n")


MAX_REPEAT = 1000
DEFAULT_TOPOLOGY = "seed"


def preflight(
    scenario: Scenario,
    values: dict[str, Any],
    topo: str | None,
    configs: str | None,
    engine: str,
    repeat: int,
) -> tuple[Any, Path]:
    """Everything a run needs that can be checked without a lab, checked before one
    starts: the topology, the engine choice, the config set (each balancer's file is
    there and loads), --repeat and the scenario's lab-dependent parameters. Without
    ``topo``, a config set that does not fit the seed topology gets the topology it
    implies (``lablb.lab.derived``). Returns the topology entry and the config set."""
    from lablb.lab.balancer import engines_for
    from lablb.lab.derived import derived_entry, load_set, misfit
    from lablb.lab.graph import describe
    from lablb.lab.registry import get

    if not 1 <= repeat <= MAX_REPEAT:
        raise UsageError(f"--repeat {repeat}: from 1 to {MAX_REPEAT}")
    try:
        entry = get(topo or DEFAULT_TOPOLOGY)
        source = entry.config_dir(configs).resolve()
    except LabError as exc:
        raise UsageError(str(exc)) from None
    load_set(source)  # ConfigError: file:line: what, and the hint
    why = misfit(entry, source)
    if why is not None and topo is None and configs is not None:
        entry = derived_entry(source)
    elif why is not None:
        raise UsageError(f"topology {entry.name} does not fit the configs: {why}")
    try:
        engines_for(engine, entry.balancers)
    except LabError as exc:
        raise UsageError(str(exc)) from None
    hosts = {h.name: h.role for h in describe(entry.cls())}
    scenario.check(values, hosts)
    return entry, source


def run(
    name: str,
    topo: str | None = None,
    configs: str | None = None,
    engine: str = "lablb",
    repeat: int = 1,
    out: Path | None = None,
    params: list[str] | None = None,
    progress: Callable[[str], None] = lambda s: None,
    pair: tuple[Path, Path | None] | None = None,
    root: Path | None = None,
) -> tuple[dict[str, Any], Path]:
    """Run a scenario; returns (result, run directory). ``pair``: one keepalived.conf
    (and its peer's, else derived), written into the run directory as the config set
    (``lablb.config.pair``) instead of ``configs``; ``root``: where its /etc/keepalived
    includes are read from."""
    from lablb.config.load import load_lenient
    from lablb.config.sets import lab_scripts
    from lablb.lab.capture import Capture, Counters
    from lablb.lab.cluster import start_cluster
    from lablb.lab.derived import ignored_lines
    from lablb.lab.faults import Faults
    from lablb.lab.net import Lab, LabSpec

    scenario = get_scenario(name)
    values = parse_params(scenario, params or [])
    # Absolute: daemons and nginx in the lab hosts get these paths on their command lines.
    run_dir = (out or Path("lablb-runs")).resolve() / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    if pair is not None:
        from lablb.config.pair import write_pair

        try:
            given, said = write_pair(pair[0], pair[1], run_dir / "given", root)
            configs = str(given)
            for line in said:
                progress(f"{name}: peer derived: {line}")
            entry, source = preflight(scenario, values, topo, configs, engine, repeat)
        except LablbError:
            shutil.rmtree(run_dir, ignore_errors=True)  # nothing ran: no run to keep
            raise
    else:
        entry, source = preflight(scenario, values, topo, configs, engine, repeat)
    trials = repeat * (int(values[scenario.trials_param]) if scenario.trials_param else 1)
    run_dir.mkdir(parents=True, exist_ok=True)
    conf_dir, stand_ins = lab_scripts(scenario.configure(source, values, run_dir), run_dir)
    if engine != "lablb" and any(
        load_lenient(str(f)).global_defs.lvs_sync_daemon for f in conf_dir.glob("*.conf")
    ):
        stand_ins.append(
            "lvs_sync_daemon: keepalived's runs in lablb's companion beside it, as its "
            "forwarding does (this kernel has no IPVS, and keepalived's VRRP child dies "
            "initializing its sync daemon)"
        )
    for stood in stand_ins:
        progress(f"{name}: stand-in: {stood}")
    result = new_result(name, values, entry.name, engine, repeat, conf_dir)
    result["config_warnings"] = ignored_lines(source)
    result["stand_ins"] = stand_ins
    if result["config_warnings"]:
        progress(
            f"{name}: {len(result['config_warnings'])} config line(s) keepalived ignores and "
            f"runs without, as the lab does; first: {result['config_warnings'][0]}"
        )
    t0 = time.monotonic()
    video = int(values[scenario.video_mb_param]) if scenario.video_mb_param else None
    progress(f"{name}: lab {entry.name} up, engine {engine}, configs {conf_dir}")
    with Lab(LabSpec(entry), workdir=run_dir / "lab") as lab:
        capture = Capture(lab, run_dir / "capture.pcap").start()
        counters = Counters(lab, run_dir / "counters.json").start()
        try:
            # Scenarios judge the service themselves (a broken config is a finding).
            cluster = start_cluster(lab, entry, conf_dir, engine, video, wait_service=False)
        except LabError as exc:
            result["run_failures"].append(f"the lab did not come up: {exc}")
            cluster = None
        watched = cluster.local_service() if cluster is not None else None
        if watched is not None:
            result["stand_ins"].append(
                f"{watched.process} on TCP {watched.port} on each balancer is the lab's "
                f"stand-in ({watched.how})"
            )
        result["lab_up_s"] = round(time.monotonic() - t0, 3)
        progress(f"{name}: lab up in {result['lab_up_s']:.1f} s")
        if cluster is not None:
            ctx = Context(cluster, capture, Faults(), values, run_dir, progress)
            run_trials(scenario, ctx, trials, result)
        counters.stop()
        capture.stop()
    result["duration_s"] = round(time.monotonic() - t0, 3)
    finish(result)
    write_result(result, run_dir)
    return result, run_dir
