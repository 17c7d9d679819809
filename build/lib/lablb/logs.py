"""Reading the daemons' logs: lablb's JSON event lines and keepalived's console log.

Edge (files only). The lab's nodes, ``lablb status`` and the scenarios all ask the same
two questions of a log (which events of a kind, which state changes), so they ask here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

KEEPALIVED_STATE = re.compile(r"\((?P<inst>[^)]+)\) Entering (?P<state>[A-Z]+) STATE")
# keepalived 2.2.7 (vrrp_scheduler.c, vrrp_dispatcher_init) logs its socket pool with -D
# right after it arms the instances' timers, which it does only after its "Entering
# BACKUP STATE (init)" line and that state's notifications (an SMTP alert took 3 ms):
# the first line known to follow the start of the master-down timer.
KEEPALIVED_TIMERS_ARMED = re.compile(r"VRRP sockpool: ")
# The lab stamps each line of keepalived's console log on arrival (CLOCK_REALTIME):
# keepalived's own timestamps have a resolution of one second.
STAMP = re.compile(r"^\[(?P<ts>\d+\.\d+)\] ")


def stamped_lines(log: Path) -> list[tuple[float, str]]:
    """(arrival instant, line) of a stamped console log; unstamped lines are skipped."""
    if not log.exists():
        return []
    out = []
    for line in log.read_text(errors="replace").splitlines():
        m = STAMP.match(line)
        if m:
            out.append((float(m["ts"]), line[m.end() :]))
    return out


def lablb_events(log: Path, kind: str | None = None) -> list[dict[str, Any]]:
    """The JSON events of a lablb log (of one ``kind``, or all), in order; lines that
    are not JSON (a traceback, say) are skipped."""
    if not log.exists():
        return []
    out = []
    for line in log.read_text(errors="replace").splitlines():
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        if isinstance(ev, dict) and (kind is None or ev.get("event") == kind):
            out.append(ev)
    return out


def keepalived_states(log: Path) -> list[tuple[str, str]]:
    """(instance, new state) in order, from keepalived's console log."""
    if not log.exists():
        return []
    text = log.read_text(errors="replace")
    return [(m["inst"], m["state"]) for m in KEEPALIVED_STATE.finditer(text)]


def lablb_states(log: Path) -> list[tuple[str, str]]:
    """(instance, new state) in order, from lablb's JSON events."""
    return [(str(ev["instance"]), str(ev["to"])) for ev in lablb_events(log, "state")]

