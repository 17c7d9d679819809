"""The health-checker process: runs every real server's checkers on keepalived's
schedule and tells the forwarder what changed. Edge.

Attempts run in worker threads (each bounded by its ``connect_timeout``) so one slow
server never delays another's checks; the schedule and the verdicts are
``lablb.checker.logic``'s. Changes go to the forwarder's UNIX socket as JSON
(``{"op": "set"|"remove", "vs", "addr", "port", "weight"}``), alerts go by mail, and the
state of every checker is written to ``checker.json`` in the run directory.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import socket
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from lablb.checker.logic import (
    Alert,
    CheckerState,
    Pool,
    PoolAction,
    Remove,
    SetWeight,
    Timing,
    control_address,
    detection_bound,
    rs_key,
)
from lablb.checker.probes import PROBES, Result, file_check
from lablb.config.diagnostics import NOWHERE
from lablb.config.load import load_lenient
from lablb.config.model import Checker, KeepalivedConfig, RealServer, VirtualServer
from lablb.config.programs import resolve, shlex_words
from lablb.config.track_files import TrackFile, track_files
from lablb.errors import ConfigError, LablbError
from lablb.eventlog import EventLog, child_main
from lablb.loop import Loop, write_status
from lablb.mail import send_alert

TICK = 0.05
WORKERS = 64  # attempts in flight at once; each is bounded by its connect_timeout
STATUS_EVERY = 0.5


def read_lag(t: Timing) -> float:
    """How late the verdict before a change can be read, where that matters: it is read
    on a tick, up to one tick after the change, and a delay_loop or delay_before_retry
    timer runs from that read. A FILE_CHECK has no timer (its next read follows in the
    same turn): nothing."""
    return TICK if max(t.delay_loop, t.delay_before_retry) > 0 else 0.0


Probe = Callable[[], Result]


def misc_found(command: str) -> bool:
    """Is a MISC_CHECK's program there, as keepalived looks for it?"""
    words = shlex_words(command)
    return bool(words) and resolve(words[0]) is not None


@dataclass
class Job:
    vs: VirtualServer
    rs: RealServer
    checker: Checker
    state: CheckerState
    pool: Pool
    probe: Probe
    running: Future[Result] | None = None
    last: str = ""


def probe_of(c: Checker, rs: RealServer, vs: VirtualServer, files: dict[str, TrackFile]) -> Probe:
    """One attempt of checker ``c``: a FILE_CHECK reads its declared track file."""
    if c.kind == "FILE_CHECK":
        if c.track_file not in files:
            raise ConfigError(
                f"FILE_CHECK of {rs.address}: track_file {c.track_file} is not declared"
            )
        return functools.partial(file_check, c, files[c.track_file], rs)
    return functools.partial(PROBES[c.kind], c, rs, vs)


def init_files(files: dict[str, TrackFile]) -> list[str]:
    """``init_file``: write the value if the file is absent (always, with overwrite).
    What could not be written, as keepalived logs it and runs on."""
    problems = []
    for t in files.values():
        path = Path(t.path)
        if t.init_value is not None and (t.overwrite or not path.exists()):
            try:
                path.write_text(f"{t.init_value}\n")
            except OSError as exc:
                problems.append(f"track_file {t.name}: cannot init {t.path}: {exc.strerror}")
    return problems


@dataclass
class CheckerDaemon:
    config: KeepalivedConfig
    run_dir: Path
    log: EventLog
    jobs: list[Job] = field(default_factory=list)
    pools: list[Pool] = field(default_factory=list)
    pending: list[dict[str, object]] = field(default_factory=list)  # for the forwarder
    mailer: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(max_workers=2))

    def __post_init__(self) -> None:
        self.jobs, self.pools = self._build(self.config)
        for pool in self.pools:
            self.apply(pool.initial())
        self.ctl = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.ctl_address = control_address(str(self.run_dir.resolve()))

    def _build(self, config: KeepalivedConfig) -> tuple[list[Job], list[Pool]]:
        files = track_files(config)
        for problem in init_files(files):
            self.log("track-file", ok=False, error=problem)
        jobs, pools = [], []
        for vs in config.virtual_servers:
            pool = Pool(vs)
            pools.append(pool)
            for rs in vs.real_servers:
                for c in rs.checkers:
                    if c.misc_path is not None and not misc_found(c.misc_path.command):
                        # keepalived disables a MISC_CHECK whose program is not found
                        # (its -t exits 0 on its own doc/samples): the server stands
                        # on its other checkers, or on none.
                        self.log("checker-disabled", vs=vs.label, rs=rs_key(vs, rs),
                                 kind=c.kind, why=f"{c.misc_path.command}: not found")  # fmt: skip
                        continue
                    state = CheckerState(Timing.of(c), up=not vs.alpha)
                    jobs.append(Job(vs, rs, c, state, pool, probe_of(c, rs, vs, files)))
        return jobs, pools

    def reload(self, config: KeepalivedConfig) -> None:
        """SIGHUP: the new config's servers and checkers. A checker that did not change
        keeps its state and schedule (an attempt in flight is judged under the new
        config); the forwarder hears only what changed (``Pool.reconcile``). Services
        themselves are the forwarder's: added or removed ones need a restart."""
        jobs, pools = self._build(config)

        def key(j: Job) -> tuple[str, str, Checker]:  # where it is written does not matter
            return j.vs.label, rs_key(j.vs, j.rs), dataclasses.replace(j.checker, where=NOWHERE)

        old_jobs = {key(j): j for j in self.jobs}
        for j in jobs:
            kept = old_jobs.get(key(j))
            if kept is not None:
                j.state, j.running, j.last = kept.state, kept.running, kept.last
        old_pools = {p.vs.label: p for p in self.pools}
        for pool in pools:
            old = old_pools.pop(pool.vs.label, None)
            self.apply(pool.reconcile(old) if old is not None else pool.initial())
        self.config, self.jobs, self.pools = config, jobs, pools
        self.log(
            "reload",
            ok=True,
            checkers=len(jobs),
            services_gone=sorted(old_pools),  # the forwarder keeps them until restarted
        )

    def apply(self, actions: list[PoolAction]) -> None:
        for a in actions:
            if isinstance(a, SetWeight):
                self.pending.append(
                    {
                        "op": "set",
                        "vs": a.vs,
                        "addr": str(a.addr),
                        "port": a.port,
                        "weight": a.weight,
                    }
                )
            elif isinstance(a, Remove):
                self.pending.append(
                    {"op": "remove", "vs": a.vs, "addr": str(a.addr), "port": a.port}
                )
            elif isinstance(a, Alert):
                # Mail can take up to smtp_connect_timeout: a worker thread sends it.
                self.mailer.submit(self._mail, a)

    def _mail(self, a: Alert) -> None:
        self.log(
            "alert",
            subject=a.subject,
            result=send_alert(self.config.global_defs, a.subject, a.body),
        )

    def flush(self) -> None:
        """Deliver pending changes; the forwarder may not be listening yet."""
        while self.pending:
            try:
                self.ctl.sendto(json.dumps(self.pending[0]).encode(), self.ctl_address)
            except OSError:
                return
            self.pending.pop(0)

    def step(self, now: float, pool: ThreadPoolExecutor) -> None:
        for job in self.jobs:
            if job.running is not None:
                if not job.running.done():
                    continue
                ok, why, weight = job.running.result()
                job.running, job.last = None, why
                before = self.rs_up(job)
                changed = job.state.result(now, ok)
                if changed is not None:
                    self.log(
                        "checker",
                        vs=job.vs.label,
                        rs=rs_key(job.vs, job.rs),
                        kind=job.checker.kind,
                        up=changed,
                        why=why,
                    )
                after = self.rs_up(job)
                if after != before or weight is not None:
                    self.apply(job.pool.change(job.rs, after, why, weight))
                    self.log(
                        "real-server", vs=job.vs.label, rs=rs_key(job.vs, job.rs), up=after, why=why
                    )
            if job.running is None and job.state.due(now):
                job.running = pool.submit(job.probe)

    def rs_up(self, job: Job) -> bool:
        """A real server is up when all its checkers are."""
        return all(j.state.up for j in self.jobs if j.rs is job.rs and j.vs is job.vs)

    def status(self) -> dict[str, object]:
        out = []
        for pool in self.pools:
            servers = []
            for rs in pool.vs.real_servers:
                jobs = [j for j in self.jobs if j.rs is rs]
                servers.append(
                    {
                        "rs": rs_key(pool.vs, rs),
                        "up": pool.health[rs_key(pool.vs, rs)],
                        "checkers": [
                            {
                                "kind": j.checker.kind,
                                "up": j.state.up,
                                "last": j.last,
                                "delay_loop": j.state.timing.delay_loop,
                                "detection_bound_s": detection_bound(j.state.timing),
                            }
                            for j in jobs
                        ],
                    }
                )
            out.append({"vs": pool.vs.label, "quorum_up": pool.service_up, "real_servers": servers})
        return {"ts": time.monotonic(), "virtual_servers": out}


def run(config_path: str, run_dir: Path, log: EventLog, run_for: float | None = None) -> int:
    cfg = load_lenient(config_path)
    run_dir.mkdir(parents=True, exist_ok=True)
    d = CheckerDaemon(cfg, run_dir, log)
    loop = Loop()
    log("checker-start", checkers=len(d.jobs))
    start = last_status = tick = time.monotonic()
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        try:
            while not loop.stopping:
                now = time.monotonic()
                if run_for is not None and now - start >= run_for:
                    break
                if loop.take_reload():
                    try:
                        d.reload(load_lenient(config_path))
                    except LablbError as exc:  # the running config stays
                        log("reload", ok=False, error=str(exc))
                d.step(now, pool)
                d.flush()
                if now - last_status >= STATUS_EVERY:
                    write_status(run_dir / "checker.json", d.status())
                    last_status = now
                # Checks start on the tick (the checkers' timers are delay_loop apart,
                # seconds); ticks fall on a fixed grid, TICK apart whatever the turn's
                # own work took (the bounds allow one tick, not a tick and the work: a
                # FILE_CHECK's detection came 0.3 ms past them in CI, waiting a whole
                # TICK after a turn); a signal ends the wait at once.
                tick = max(tick + TICK, time.monotonic())
                loop.wait([], tick - time.monotonic())
        finally:
            d.mailer.shutdown(wait=False, cancel_futures=True)
            d.ctl.close()
            loop.close()
            log("checker-stop")
    return 0


def main(argv: list[str] | None = None) -> int:
    return child_main("lablb-checker", run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
