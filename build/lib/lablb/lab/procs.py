"""Processes and namespaces of the host machine, as the lab layer sees them.

The OS edge that both a running ``Lab`` and ``lablb clean`` use: which processes share
a network namespace, killing them, deleting links and named namespaces. Linux only;
needs root for anything that changes state.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

STATE_DIR = Path(os.environ.get("LABLB_STATE_DIR", "/run/lablb"))
NETNS_PREFIX = "lablb-"
HOST_SHELL_MARK = "mininet:"  # Mininet's host shells are "bash ... mininet:NAME"


def netns_of(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/net")
    except OSError:
        return None


def own_netns() -> str | None:
    return netns_of(os.getpid())


def all_pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def cmdline(pid: int) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline")
            .read_bytes()
            .replace(b"\0", b" ")
            .decode(errors="replace")
            .strip()
        )
    except OSError:
        return ""


def pids_in_netns(namespaces: set[str]) -> list[int]:
    """Every process whose network namespace is one of ``namespaces``."""
    return [pid for pid in all_pids() if netns_of(pid) in namespaces]


def host_shells() -> list[int]:
    """Mininet host shells still running (from this lab or a killed one)."""
    return [pid for pid in all_pids() if HOST_SHELL_MARK in cmdline(pid)]


def kill_all(pids: list[int], grace: float = 1.0) -> list[int]:
    """SIGTERM, a bounded wait, then SIGKILL. Returns the pids that were signalled."""
    me = os.getpid()
    targets = [p for p in pids if p != me]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in targets:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(alive(p) for p in targets):
            time.sleep(0.02)
    return targets


def _stat(pid: int | str) -> list[str]:
    """/proc/PID/stat after the command name: state, ppid, ...; [] if it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return []


def alive(pid: int) -> bool:
    """Running; a zombie counts as gone, whoever is to reap it."""
    fields = _stat(pid)
    return bool(fields) and fields[0] not in ("Z", "X")


def pid_file(path: Path) -> int | None:
    """The live process a pid file names, or None."""
    try:
        pid = int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if alive(pid) else None


def descendants(pid: int) -> set[int]:
    """Every process below ``pid``, from /proc's parent links."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        fields = _stat(entry.name) if entry.name.isdigit() else []
        if len(fields) > 1:
            parents[int(entry.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {c for c, p in parents.items() if p in frontier} - found
        found |= frontier
    return found


def run(argv: list[str], timeout: float = 10.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)


def links() -> list[tuple[str, str]]:
    """(name, kind) of every link in this (the root) namespace."""
    out = run(["ip", "-d", "-o", "link", "show"]).stdout
    found = []
    for line in out.splitlines():
        m = re.match(r"\d+: ([^:@]+)[@:]", line)
        if m:
            kind = "bridge" if " bridge " in line else ("veth" if " veth " in line else "other")
            found.append((m.group(1), kind))
    return found


def named_netns() -> list[str]:
    return sorted(
        line.split()[0] for line in run(["ip", "netns", "list"]).stdout.splitlines() if line.strip()
    )


def stop_child(
    proc: subprocess.Popen[Any] | None, sig: int = signal.SIGTERM, timeout: float = 5.0
) -> None:
    """Signal a child we started, wait at most ``timeout``, then SIGKILL it. Bounded."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
