"""The runner: one scenario run, from its parameters to its result folder, for ``lablb
run`` and for ``LiveLab.run`` (a lab already up) alike.

``run`` checks everything it can before a lab starts (``preflight``), brings the lab up,
starts the capture and the balancers, then ``run_on``: the scenario's bounds, its
trials (whatever a trial left injected undone after it), the run judged
(``RunResult.finish``) and written as ``result.json`` (``lablb.measure.result`` holds
its schema). The typed ``RunResult`` is what it returns; the file is only its copy.
"""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lablb.errors import LabError, LablbError, UsageError
from lablb.measure.disturbance import stolen
from lablb.measure.result import RunResult, Trial
from lablb.scenario import Context, Scenario, get_scenario, parse_params

if TYPE_CHECKING:
    from lablb.lab.registry import TopoEntry


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


def new_result(
    scenario: Scenario[Any],
    values: object,
    topology: str,
    engine: str,
    repeat: int,
    conf_dir: Path,
) -> RunResult:
    """A run's record before its trials."""
    return RunResult(
        scenario=scenario.name,
        parameters=scenario.values(values),
        topology=topology,
        engine=engine,
        repeat=repeat,
        configs=config_digests(conf_dir),
        config_dir=str(conf_dir),
        tools=_tool_versions(),
        started=time.time(),
    )


#: How often one trial is measured again when it failed while the machine kept a VRRP
#: timer waiting for a CPU longer than the bounds allow, the forwarder holding the
#: client's requests when the fault fell, or the hypervisor taking a CPU away for longer
#: (``lablb.measure.disturbance``): once. The attempt stays in the result
#: (``remeasured``) with its evidence; a second failure stands, disturbed or not.
REMEASURE = 1


def run_trials(scenario: Scenario[Any], ctx: Context[Any], trials: int, result: RunResult) -> None:
    """The scenario's bounds for ``ctx``'s cluster, then ``trials`` runs of its fault,
    each judged against them as it ends, into ``result``; whatever a trial left injected
    is undone after it. A trial that raises a LablbError is a failed trial, not the end
    of the run. A failed trial the machine disturbed is measured again (``REMEASURE``)."""
    ctx.bounds = scenario.bounds(ctx)
    result.bounds = dict(ctx.bounds)
    result.trials = []
    result.remeasured = []
    for i in range(trials):
        for attempt in range(REMEASURE + 1):
            trial = _one_trial(scenario, ctx, i, trials)
            if trial.verdict == "pass" or not trial.disturbed or attempt == REMEASURE:
                break
            ctx.progress(f"{scenario.name}: trial {i + 1} measured again: {trial.disturbed[0]}")
            result.remeasured.append(trial.keep(trial=i + 1))
        result.trials.append(trial)
    result.notes, result.slack = ctx.notes, ctx.slack


def _one_trial(scenario: Scenario[Any], ctx: Context[Any], i: int, trials: int) -> Trial:
    """Trial ``i``, its faults undone, judged; when it failed, what the machine did to
    the timers and the forwarder it rests on, and what the hypervisor took from it
    (``Trial.disturbed``)."""
    ctx.progress(f"{scenario.name}: trial {i + 1}/{trials}")
    since, steal = time.time(), ctx.cluster.cpu_steal()
    try:
        trial = scenario.trial(ctx, i)
    except LablbError as exc:
        trial = Trial.failed(str(exc))
    try:
        left = ctx.faults.undo_all()
    except LablbError as exc:
        left = []
        trial.problems.append(f"a fault the trial left could not be undone: {exc}")
    if left:  # the runner keeps the faults: a trial may leave them to it
        trial.keep(undone_after_trial=left)
    why = trial.judge(ctx.bounds)
    quantum = ctx.slack.get("quantum_s")
    if why and quantum:
        # The trial's own evidence (its judge read the capture), the daemons' logs, and
        # the hypervisor's account.
        trial.disturbed += ctx.cluster.cpu_waits(since, time.time(), quantum)
        trial.disturbed += stolen(ctx.cluster.cpu_steal() - steal, quantum)
    ctx.progress(
        f"{scenario.name}: trial {i + 1}: {trial.verdict}" + (f" ({'; '.join(why)})" if why else "")
    )
    return trial


def conclude(result: RunResult, run_dir: Path, t0: float) -> RunResult:
    """The run judged and written: its duration since ``t0`` (monotonic), the verdict,
    ``result.json`` in ``run_dir``."""
    result.duration_s = round(time.monotonic() - t0, 3)
    result.path = run_dir
    result.finish()
    write_result(result, run_dir)
    return result


def run_on(scenario: Scenario[Any], ctx: Context[Any], trials: int, result: RunResult) -> RunResult:
    """``trials`` trials of ``scenario`` on the lab ``ctx`` holds, judged and written to
    ``ctx.out``: all ``LiveLab.run`` does, and what ``run`` does between bringing its
    lab up and down (there the duration counts the bring-up too)."""
    t0 = time.monotonic()
    run_trials(scenario, ctx, trials, result)
    return conclude(result, ctx.out, t0)


def write_result(result: RunResult, run_dir: Path) -> None:
    text = json.dumps(result.to_json(), indent=2, default=str) + "\n"
    (run_dir / "result.json").write_text(text)


MAX_REPEAT = 1000
DEFAULT_TOPOLOGY = "seed"


def preflight(
    scenario: Scenario[Any],
    values: object,
    topo: str | None,
    configs: str | None,
    engine: str,
    repeat: int,
) -> tuple[TopoEntry, Path]:
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


def _given_pair(
    name: str,
    pair: tuple[Path, Path | None],
    run_dir: Path,
    root: Path | None,
    progress: Callable[[str], None],
) -> str:
    """One keepalived.conf (and its peer's, else derived) written into the run folder as
    its config set; nothing is left behind when it is refused."""
    from lablb.config.pair import write_pair

    try:
        given, said = write_pair(pair[0], pair[1], run_dir / "given", root)
    except LablbError:
        shutil.rmtree(run_dir, ignore_errors=True)  # nothing ran: no run to keep
        raise
    for line in said:
        progress(f"{name}: peer derived: {line}")
    return str(given)


def _stand_ins(engine: str, entry: TopoEntry, conf_dir: Path, found: list[str]) -> list[str]:
    """What the lab runs in place of what the files expect of their engines, said once."""
    from lablb.config.load import load_lenient
    from lablb.lab.balancer import engines_for

    for node, kind in engines_for(engine, entry.balancers).items():
        conf = conf_dir / f"{node}.conf"
        if conf.is_file():
            found += [s for s in kind.stand_ins(load_lenient(str(conf))) if s not in found]
    return found


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
) -> RunResult:
    """Run a scenario; its ``path`` is the run's folder. ``pair``: one keepalived.conf
    (and its peer's, else derived), written into the run directory as the config set
    (``lablb.config.pair``) instead of ``configs``; ``root``: where its /etc/keepalived
    includes are read from."""
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
        configs = _given_pair(name, pair, run_dir, root, progress)
    try:
        entry, source = preflight(scenario, values, topo, configs, engine, repeat)
    except LablbError:
        if pair is not None:
            shutil.rmtree(run_dir, ignore_errors=True)
        raise
    trials = repeat * scenario.trials_per_repeat(values)
    run_dir.mkdir(parents=True, exist_ok=True)
    conf_dir, found = lab_scripts(scenario.configure(source, values, run_dir), run_dir)
    result = new_result(scenario, values, entry.name, engine, repeat, conf_dir)
    result.stand_ins = _stand_ins(engine, entry, conf_dir, found)
    for stood in result.stand_ins:
        progress(f"{name}: stand-in: {stood}")
    result.config_warnings = ignored_lines(source)
    if result.config_warnings:
        progress(
            f"{name}: {len(result.config_warnings)} config line(s) keepalived ignores and "
            f"runs without, as the lab does; first: {result.config_warnings[0]}"
        )
    t0 = time.monotonic()
    video = scenario.video_mb(values)
    progress(f"{name}: lab {entry.name} up, engine {engine}, configs {conf_dir}")
    with Lab(LabSpec(entry), workdir=run_dir / "lab") as lab:
        capture = Capture(lab, run_dir / "capture.pcap").start()
        counters = Counters(lab, run_dir / "counters.json").start()
        try:
            # Scenarios judge the service themselves (a broken config is a finding).
            cluster = start_cluster(lab, entry, conf_dir, engine, video, wait_service=False)
        except LabError as exc:
            result.run_failures.append(f"the lab did not come up: {exc}")
            cluster = None
        watched = cluster.local_service() if cluster is not None else None
        if watched is not None:
            result.stand_ins.append(
                f"{watched.process} on TCP {watched.port} on each balancer is the lab's "
                f"stand-in ({watched.how})"
            )
        result.lab_up_s = round(time.monotonic() - t0, 3)
        progress(f"{name}: lab up in {result.lab_up_s:.1f} s")
        if cluster is not None:
            ctx = Context(cluster, capture, Faults(), values, run_dir, progress)
            run_trials(scenario, ctx, trials, result)
        counters.stop()
        capture.stop()
    return conclude(result, run_dir, t0)
