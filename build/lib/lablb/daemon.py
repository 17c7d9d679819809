"""``lablb daemon``: the parent process, as keepalived's parent is. Edge only.

It writes the pid file and starts one child process per subsystem the configuration
uses: VRRP (``vrrp_instance``), the Direct Routing forwarder and the health checkers
(``virtual_server``). VRRP is forked, as keepalived forks its children: the parent has
already imported and checked everything, so the child's timers start within a few
milliseconds of the fork instead of after a new interpreter's start and imports (about
150 ms here), which is what a restarted master's return waits on. The forwarder is
forked first, and VRRP once the forwarder is ready (a node must not take the VIP before
it can forward for it: the forwarder starts with the real servers the checkers start
with); the checkers, which nothing waits on, start last, as their own program. Each
keeps its own process so none can delay another's timers, the way keepalived keeps VRRP
and checkers apart.
The parent relays SIGTERM/SIGINT/SIGHUP and, when one child ends, stops the others and
exits. It never does protocol work.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lablb.errors import LabError

CHILD_STOP_TIMEOUT = 5.0  # then SIGKILL: a stop is always bounded
POLL = 0.1
MAX_RESTARTS = 5  # a forwarder or checker that dies is restarted, this often at most
FORWARDER_READY_TIMEOUT = 5.0  # then VRRP starts anyway (the forwarder's own log says why)
READY_POLL = 0.01
DRAIN_MAX = 3.0  # after a stop, VRRP goes first; the rest at most this much later


@dataclass(frozen=True)
class Options:
    config: str
    pidfile: str | None = None
    vrrp_pidfile: str | None = None
    log: str | None = None
    run_for: float | None = None
    run_dir: str | None = None
    only: str | None = None  # "vrrp" (keepalived -P) or "check" (keepalived -C)


class Forked:
    """A child forked from this process to run ``target`` (its exit status is the
    child's): the part of ``subprocess.Popen`` the supervisor uses."""

    def __init__(self, target: Callable[[], int], name: str) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the child: never returns into the parent's code
            code = 1
            try:
                for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                    signal.signal(sig, signal.SIG_DFL)
                with contextlib.suppress(OSError):
                    Path("/proc/self/comm").write_text(name[:15], encoding="ascii")
                code = target()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException:  # reported, then the child ends
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def wait(self) -> int:
        _, status = os.waitpid(self.pid, 0)
        self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode


Child = Forked | subprocess.Popen[bytes]


def _pid_alive(path: str) -> int | None:
    try:
        with open(path, encoding="utf-8") as f:
            pid = int(f.read().split()[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return None
    return pid


def _run_dir(opts: Options) -> Path:
    return Path(opts.run_dir or Path(opts.pidfile or "/run/lablb/daemon.pid").parent)


def children(opts: Options, has_vrrp: bool, has_vs: bool) -> dict[str, list[str]]:
    """argv of each child process this configuration needs."""
    py = [sys.executable, "-m"]
    run_dir = str(_run_dir(opts))
    tail = ["--log", opts.log] if opts.log else []
    if opts.run_for is not None:
        tail += ["--run-for", str(opts.run_for)]
    out: dict[str, list[str]] = {}
    if has_vrrp and opts.only != "check":
        argv = [*py, "lablb.vrrp.daemon", "-f", opts.config, *tail]
        if opts.vrrp_pidfile:
            argv += ["-r", opts.vrrp_pidfile]
        out["vrrp"] = argv
    if has_vs and opts.only != "vrrp":
        out["forwarder"] = [
            *py,
            "lablb.ipvs.forwarder",
            "-f",
            opts.config,
            "--run-dir",
            run_dir,
            *tail,
        ]
        out["checker"] = [
            *py,
            "lablb.checker.daemon",
            "-f",
            opts.config,
            "--run-dir",
            run_dir,
            *tail,
        ]
    return out


def run(opts: Options) -> int:
    """Run in the foreground (like ``keepalived -n``) until stopped or a child exits."""
    from lablb.config.load import load_lenient
    from lablb.config.runnable import require_runnable

    # Fail here, with the file's line and column, not in a child; and only for what
    # keepalived itself would not start with (the VRRP child logs what it ignores).
    cfg = load_lenient(opts.config)
    require_runnable(cfg, vrrp=opts.only != "check", lvs=opts.only != "vrrp")
    argvs = children(opts, bool(cfg.vrrp_instances), bool(cfg.virtual_servers))
    if not argvs:
        raise LabError(f"{opts.config}: no vrrp_instance and no virtual_server: nothing to run")
    if opts.pidfile:
        other = _pid_alive(opts.pidfile)
        if other is not None and other != os.getpid():
            raise LabError(f"a daemon with pid file {opts.pidfile} is already running ({other})")
        with open(opts.pidfile, "w", encoding="utf-8") as f:
            f.write(f"{os.getpid()}\n")
    sup = _Supervisor(opts, argvs)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, sup.relay)
    ended, code = "", 0
    try:
        sup.start()
        ended, code = sup.watch()
    finally:
        # Drain: the peer takes over within its skew_time (< advert_int) of our
        # goodbye; the forwarder and checkers stop after that, so their teardown
        # never competes for a CPU with the takeover.
        linger = max((i.advert_int for i in cfg.vrrp_instances), default=0)
        sup.stop(min(DRAIN_MAX, linger) if sup.stop_requested and ended == "vrrp" else 0.0)
        if opts.pidfile:
            with contextlib.suppress(OSError):
                os.unlink(opts.pidfile)
    if sup.stop_requested or (opts.run_for is not None and code == 0):
        return 0
    print(f"lablb daemon: the {ended} process exited with status {code}", file=sys.stderr)
    return code if code > 0 else 128 - code if code < 0 else 1


class _Supervisor:
    """The children of one ``lablb daemon``: started in order (the forwarder, VRRP once
    the forwarder is ready, the checkers last), watched (a dead forwarder or checker
    restarted, as keepalived restarts its checker child; VRRP's death ends the daemon),
    signalled and stopped."""

    def __init__(self, opts: Options, argvs: dict[str, list[str]]) -> None:
        self.opts, self.argvs = opts, argvs
        self.procs: dict[str, Child] = {}
        self.stop_requested = False
        self.restarts = 0

    def relay(self, signum: int, _frame: object) -> None:
        """SIGHUP goes to every child. A stop goes to VRRP alone: its goodbye and the
        backup's takeover come first, and the others are stopped once it has exited
        (``watch``), so their teardown does not compete for the CPU with it."""
        if signum != signal.SIGHUP:
            self.stop_requested = True
        vrrp = self.procs.get("vrrp")
        targets = [vrrp] if signum != signal.SIGHUP and vrrp is not None else self.procs.values()
        for p in targets:
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGTERM if signum == signal.SIGINT else signum)

    def start(self) -> None:
        argvs, procs = self.argvs, self.procs
        ready = _run_dir(self.opts) / "forwarder.json"
        ready.unlink(missing_ok=True)
        if "forwarder" in argvs:  # forked too: it has to be ready before VRRP starts
            from lablb.ipvs.forwarder import main as forwarder_main

            procs["forwarder"] = Forked(
                functools.partial(forwarder_main, argvs["forwarder"][3:]), "lablb-forwarder"
            )
        # Imported while the forwarder sets up (a second core's work), not before its fork.
        from lablb.vrrp.daemon import main as vrrp_main

        if "vrrp" in argvs and not self.stop_requested:
            # VRRP once the forwarder forwards: a node that takes the VIP (a restarted
            # master pre-empts master_down after its start) before its forwarder has set
            # up would answer the service's clients from its own stack, with resets.
            forwarder = procs.get("forwarder")
            deadline = time.monotonic() + FORWARDER_READY_TIMEOUT
            while (
                forwarder is not None and forwarder.poll() is None and not self.stop_requested
                and not ready.exists() and time.monotonic() < deadline
            ):  # fmt: skip
                time.sleep(READY_POLL)
        if "vrrp" in argvs and not self.stop_requested:
            # its arguments: what follows "python -m lablb.vrrp.daemon"
            procs["vrrp"] = Forked(functools.partial(vrrp_main, argvs["vrrp"][3:]), "lablb-vrrp")
        if "checker" in argvs and not self.stop_requested:
            # A new interpreter, started last: its start would compete for the CPU with
            # the forwarder's and VRRP's (keepalived's checker child starts beside its
            # VRRP child; the real servers are the config's until the first check).
            procs["checker"] = subprocess.Popen(argvs["checker"])

    def watch(self) -> tuple[str, int]:
        """Until a child ends for good: its name and exit status."""
        while True:
            for name, p in self.procs.items():
                if p.poll() is None:
                    continue
                if self._restartable(name):
                    self.restarts += 1
                    print(f"lablb daemon: {name} exited ({p.returncode}); restarting",
                          file=sys.stderr)  # fmt: skip
                    self.procs[name] = subprocess.Popen(self.argvs[name])
                    break
                return name, p.returncode or 0
            else:
                time.sleep(POLL)

    def _restartable(self, name: str) -> bool:
        """keepalived restarts a dead checker child; VRRP's death ends the daemon."""
        return (name != "vrrp" and not self.stop_requested and self.restarts < MAX_RESTARTS
                and self.opts.run_for is None)  # fmt: skip

    def stop(self, drain: float) -> None:
        """Every child stopped, ``drain`` seconds after VRRP's own stop; SIGKILL for
        one that outlasts ``CHILD_STOP_TIMEOUT``."""
        if drain > 0 and len(self.procs) > 1:
            time.sleep(drain)
        procs = self.procs
        for p in procs.values():
            if p.poll() is None:
                p.terminate()
        deadline = time.monotonic() + CHILD_STOP_TIMEOUT
        while any(p.poll() is None for p in procs.values()) and time.monotonic() < deadline:
            time.sleep(0.05)
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()
