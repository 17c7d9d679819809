"""``lablb clean``: remove whatever a lab may have left, even after ``kill -9``.

What a lab makes in the root namespace: Mininet host shells and every process in their
namespaces, switch bridges (``sN``) and their veth ends (``sN-ethM``), named namespaces
``lablb-HOST``, and a state file in ``/run/lablb``. A running lab's state file names its
pid; a lab whose process is alive is left alone.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from typing import Any

from lablb.lab import procs

SWITCH_BRIDGE = re.compile(r"^s\d+$")
SWITCH_PORT = re.compile(r"^s\d+-eth\d+$")


def _alive(pid: int) -> bool:
    """Is the lab's process running? Its namespace says so (a reused pid has another);
    a process this user may not look into (a root lab, seen by another user) is taken
    as running: nothing is decided about it."""
    if procs.netns_of(pid) is not None:
        return True
    try:
        os.kill(pid, 0)
    except PermissionError:
        return True
    except OSError:
        return False
    return False


def _lab_states(remove: bool = True) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(live, dead) labs from their state files; with ``remove`` (``clean``), a dead
    lab's file is removed, its content returned so its namespaces can still be swept."""
    live: list[dict[str, Any]] = []
    dead: list[dict[str, Any]] = []
    if not procs.STATE_DIR.is_dir():
        return live, dead
    for path in procs.STATE_DIR.glob("lab-*.json"):
        try:
            state = json.loads(path.read_text())
        except (OSError, ValueError):
            if remove:
                path.unlink(missing_ok=True)
            continue
        pid = int(state.get("pid", 0))
        if pid and pid != os.getpid() and _alive(pid):
            live.append(state)
        else:
            dead.append(state)
            if remove:
                path.unlink(missing_ok=True)
    return live, dead


def live_labs() -> list[dict[str, Any]]:
    """The running labs, read only: asking (``lablb status``) removes nothing."""
    return _lab_states(remove=False)[0]


def _named_netns_id(name: str) -> str | None:
    try:
        return f"net:[{os.stat(f'/run/netns/{name}').st_ino}]"
    except OSError:
        return None


def clean() -> list[str]:
    """Remove every lab leftover; return what was done, one line each."""
    done: list[str] = []
    live, dead = _lab_states()
    spared_shells = {int(p) for s in live for p in s.get("host_pids", {}).values()}
    spared_bridges = {b for s in live for b in s.get("bridges", [])}
    if live:
        done.append(
            f"left alone: {len(live)} running lab(s) (pid {', '.join(str(s['pid']) for s in live)})"
        )

    shells = [p for p in procs.host_shells() if p not in spared_shells]
    namespaces = {ns for ns in (procs.netns_of(p) for p in shells) if ns}
    # A killed lab's daemons outlive its shells: find them by the namespaces the dead
    # lab recorded, and by the named namespaces it attached.
    namespaces |= {ns for s in dead for ns in s.get("netns_ids", {}).values() if ns}
    live_names = {procs.NETNS_PREFIX + h for s in live for h in s.get("host_pids", {})}
    for name in procs.named_netns():
        if name.startswith(procs.NETNS_PREFIX) and name not in live_names:
            namespaces.add(_named_netns_id(name) or "")
    namespaces -= {procs.own_netns() or "", ""}
    namespaces -= {ns for s in live for ns in s.get("netns_ids", {}).values()}
    inside = procs.pids_in_netns(namespaces) if namespaces else []
    killed = procs.kill_all(sorted(set(inside) | set(shells)))
    if killed:
        done.append(f"killed {len(killed)} process(es) in {len(namespaces)} lab namespace(s)")

    for name in procs.named_netns():
        if name.startswith(procs.NETNS_PREFIX) and not any(
            name == procs.NETNS_PREFIX + h for s in live for h in s.get("host_pids", {})
        ):
            procs.run(["ip", "netns", "delete", name])
            done.append(f"deleted netns {name}")

    for state in dead:
        workdir = state.get("workdir")
        if workdir and not state.get("keep_workdir") and os.path.isdir(workdir):
            shutil.rmtree(workdir, ignore_errors=True)
            done.append(f"removed work directory {workdir}")

    for name, kind in procs.links():
        if name in spared_bridges or any(name.startswith(b + "-") for b in spared_bridges):
            continue
        ours = (kind == "bridge" and SWITCH_BRIDGE.match(name)) or SWITCH_PORT.match(name)
        if ours and procs.run(["ip", "link", "delete", name]).returncode == 0:
            done.append(f"deleted {kind} {name}")
    return done
