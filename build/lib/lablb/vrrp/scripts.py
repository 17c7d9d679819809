"""The programs the VRRP process runs: ``vrrp_script`` checks and notify scripts. Edge:
processes, bounded in time.

A ``vrrp_script`` runs every ``interval``, is killed past its ``timeout``, and its exit
codes move it up or down by rise/fall (``lablb.vrrp.track.RiseFall``): ``ScriptTracker``
reports each change with the instances (and weights) that track it. Notify scripts run
detached in their own session; one still running after ``SCRIPT_KILL_AFTER`` is killed.
"""

from __future__ import annotations

import shlex
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from lablb.config.model import KeepalivedConfig, Script, VrrpScript
from lablb.config.programs import resolve, shlex_words
from lablb.vrrp.track import RiseFall

SCRIPT_KILL_AFTER = 30.0  # a notify script still running after this is killed
Log = Callable[..., None]


@dataclass
class ScriptTracker:
    """One ``vrrp_script`` run every ``interval``, judged by rise/fall."""

    script: VrrpScript
    users: list[tuple[str, int | None]]  # (instance, weight) that track it
    state: RiseFall
    next_run: float = 0.0
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0

    def due(self) -> float:
        """When the tracker next needs the loop: its next run, or, while one runs, the
        moment it is killed for its timeout (its exit wakes the loop: SIGCHLD)."""
        if self.proc is not None:
            return self.started + (self.script.timeout or self.script.interval)
        return self.next_run

    def poll(self, now: float) -> tuple[bool, int] | None:
        """Reap or start the script; (up, exit code) when its verdict changed."""
        change = None
        if self.proc is not None:
            code = self.proc.poll()
            if code is None and now - self.started > (self.script.timeout or self.script.interval):
                self.proc.kill()
                self.proc.wait(timeout=5)
                code = -1
            if code is None:
                return None
            self.proc = None
            changed = self.state.result(code == 0)
            change = None if changed is None else (changed, code)
        if self.proc is None and now >= self.next_run and self.script.script is not None:
            try:
                self.proc = subprocess.Popen(
                    shlex.split(self.script.script.command),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            except OSError:  # it could not even start: a failure, said like one
                self.proc = None
                failed = self.state.result(False)
                change = change if failed is None else (failed, -1)
            self.started, self.next_run = now, now + self.script.interval
        return change


def disabled(config: KeepalivedConfig) -> list[VrrpScript]:
    """The ``vrrp_script``s keepalived disables at start because their program is not
    found ("Disabling track script X since not found/accessible", measured with 2.2.7):
    the instances that track them run as if they did not."""
    out = []
    for vs in config.vrrp_scripts:
        words = shlex_words(vs.script.command) if vs.script is not None else []
        if vs.script is not None and (not words or resolve(words[0]) is None):
            out.append(vs)
    return out


def trackers(config: KeepalivedConfig) -> list[ScriptTracker]:
    """A tracker for each ``vrrp_script`` some instance tracks, but the disabled ones."""
    out = []
    off = {vs.name for vs in disabled(config)}
    for vs in config.vrrp_scripts:
        if vs.name in off:
            continue
        users = [
            (inst.name, t.weight if t.weight is not None else vs.weight or None)
            for inst in config.vrrp_instances
            for t in inst.track_script
            if t.name == vs.name
        ]
        if users and vs.script is not None:
            out.append(ScriptTracker(vs, users, RiseFall(vs.rise, vs.fall, init_fail=vs.init_fail)))
    return out


@dataclass
class Children:
    """Notify scripts in flight."""

    log: Log
    running: list[tuple[float, subprocess.Popen[bytes]]] = field(default_factory=list)

    def spawn(self, script: Script | None, args: list[str]) -> None:
        if script is None:
            return
        argv = [*shlex.split(script.command), *args]
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, start_new_session=True)
        except OSError as exc:
            self.log("script-error", argv=argv, error=str(exc))
            return
        self.running.append((time.monotonic(), proc))
        self.log("script", argv=argv, child=proc.pid)

    def reap(self, now: float) -> None:
        alive = []
        for started, proc in self.running:
            if proc.poll() is None and now - started > SCRIPT_KILL_AFTER:
                proc.kill()
                proc.wait(timeout=5)
                self.log("script-killed", child=proc.pid)
            elif proc.poll() is None:
                alive.append((started, proc))
        self.running = alive

    def __iter__(self) -> Iterator[subprocess.Popen[bytes]]:
        return (proc for _, proc in self.running)
