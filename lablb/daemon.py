"""``lablb daemon``: the parent process, as keepalived's parent is. Edge only.

It writes the pid file, starts the protocol processes as children (today the VRRP
process; each subsystem keeps its own process so none can delay another's timers),
relays SIGTERM/SIGINT/SIGHUP to them, and exits when they do. It never does protocol
work itself. Stopping the parent is a graceful stop of everything.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

from lablb.errors import LabError

CHILD_STOP_TIMEOUT = 5.0  # then SIGKILL: a stop is always bounded


@dataclass(frozen=True)
class Options:
    config: str
    pidfile: str | None = None
    vrrp_pidfile: str | None = None
    log: str | None = None
    run_for: float | None = None


def _pid_alive(path: str) -> int | None:
    try:
        with open(path, encoding="utf-8") as f:
            pid = int(f.read().split()[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return None
    return pid


def vrrp_argv(opts: Options) -> list[str]:
    argv = [sys.executable, "-m", "lablb.vrrp.daemon", "-f", opts.config]
    if opts.log:
        argv += ["--log", opts.log]
    if opts.vrrp_pidfile:
        argv += ["-r", opts.vrrp_pidfile]
    if opts.run_for is not None:
        argv += ["--run-for", str(opts.run_for)]
    return argv


def run(opts: Options) -> int:
    """Run in the foreground (like ``keepalived -n``) until stopped or a child exits."""
    from lablb.config.load import load

    load(opts.config)  # fail here, with the file's line and column, not in a child
    if opts.pidfile:
        other = _pid_alive(opts.pidfile)
        if other is not None and other != os.getpid():
            raise LabError(f"a daemon with pid file {opts.pidfile} is already running ({other})")
        with open(opts.pidfile, "w", encoding="utf-8") as f:
            f.write(f"{os.getpid()}\n")
    child = subprocess.Popen(vrrp_argv(opts))
    stop_requested = False

    def relay(signum: int, _frame: object) -> None:
        nonlocal stop_requested
        if signum != signal.SIGHUP:
            stop_requested = True
        if child.poll() is None:
            child.send_signal(signal.SIGTERM if signum == signal.SIGINT else signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, relay)
    try:
        code = child.wait()
    finally:
        if child.poll() is None:
            child.terminate()
            deadline = time.monotonic() + CHILD_STOP_TIMEOUT
            while child.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            if child.poll() is None:
                child.kill()
                child.wait()
        if opts.pidfile:
            with contextlib.suppress(OSError):
                os.unlink(opts.pidfile)
    if code != 0 and not stop_requested:
        print(f"lablb daemon: the VRRP process exited with status {code}", file=sys.stderr)
    return code if code >= 0 else 0 if stop_requested else 128 - code
