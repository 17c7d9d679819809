"""Steps 1 and 2: failover and restart, lablb against keepalived, through ``lablb run
failover`` exactly as a user runs it (one subprocess per engine, interval and fault,
N trials each). Edge: it runs labs.

From each run: the client's and the service's outage (both probes), the takeover on
the wire and how late it came against the protocol's due time, and, for the crash (the
fault after which the daemon is restarted), the restart to the restarted master's
first advert, counted from the moment the engine's own process was spawned
(``first_advert_s``; the lab starts keepalived's companion first, and that is not
keepalived's cost), and of that, how long the engine took to arm its timers, from its
own log (``start_s``: lablb's ``start`` event, keepalived's first line after its timers
are armed, stamped on arrival). A restarted master then waits its own master_down.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.summary import PHASE_FREE, Stat, from_last_advert, lateness, values

REPO = Path(__file__).resolve().parents[1]
CONFIGS = {  # advert interval -> the config set that has it
    "1 s (v2)": "seed",
    "0.1 s (v3)": "seed-v3-100ms",
    "0.01 s (v3)": "seed-v3-10ms",
}
ENGINES = ("lablb", "keepalived")
FAULTS = ("crash", "graceful", "ifdown")
RUN_OVERHEAD_S = 120.0  # lab up and down around the trials
TRIAL_TIMEOUT_S = 60.0  # one trial at 1 s adverts takes ~12 s; past this it is stuck


def since_spawn(trials: list[dict[str, Any]], key: str) -> list[float]:
    """``key`` (seconds from the undo) counted from the engine's own process spawn
    instead: the lab starts keepalived's companion (lablb's forwarder and checkers)
    first and waits for it, which is the lab's cost, not keepalived's."""
    out = []
    for t in trials:
        v, spawned = t.get(key), t.get("preempt_spawned_s")
        if isinstance(v, int | float) and isinstance(spawned, int | float):
            out.append(float(v) - float(spawned))
    return out


def run_one(engine: str, configs: str, fault: str, trials: int, out: Path) -> dict[str, Any]:
    argv = [sys.executable, "-m", "lablb", "run", "failover", "--json", "--out", str(out),
            "--engine", engine, "--configs", str(REPO / "topologies" / "configs" / configs),
            "--param", f"fault={fault}", "--repeat", str(trials)]  # fmt: skip
    t0 = time.monotonic()
    res = subprocess.run(argv, capture_output=True, text=True, check=False,
                         timeout=RUN_OVERHEAD_S + TRIAL_TIMEOUT_S * trials)  # fmt: skip
    row: dict[str, Any] = {"engine": engine, "configs": configs, "fault": fault,
                           "wall_s": round(time.monotonic() - t0, 1)}  # fmt: skip
    try:
        result = json.loads(res.stdout)
    except ValueError:
        row.update(verdict="error", trials=0, passed=0, stats={},
                   failures=[(res.stderr.strip() or "no output")[-300:]])  # fmt: skip
        return row
    ts, bounds = result["trials"], result.get("bounds", {})
    stats: dict[str, Any] = {}
    for key in ("outage_s", "service_outage_s", "takeover_s", "preempt_s"):
        s = Stat.of(values(ts, key))
        if s is not None:
            stats[key] = s.as_json()
    for key, free in PHASE_FREE.items():
        s = Stat.of(from_last_advert(ts, key))
        if s is not None:
            stats[free] = s.as_json()
    s = Stat.of(lateness(ts, "takeover_s", bounds))
    if s is not None:
        stats["takeover_late_s"] = s.as_json()
    for name, key in (("first_advert_s", "preempt_s"), ("start_s", "preempt_started_s")):
        s = Stat.of(since_spawn(ts, key))
        if s is not None:
            stats[name] = s.as_json()
    row.update(
        verdict=result["verdict"],
        trials=len(ts),
        passed=sum(1 for t in ts if t.get("verdict") == "pass"),
        stats=stats,
        bounds=bounds,
        failures=result.get("failures", [])[:5],
    )
    return row


def run(trials: int, out: Path, progress: Callable[[str], None],
        intervals: tuple[str, ...] = tuple(CONFIGS), faults: tuple[str, ...] = FAULTS,
        ) -> list[dict[str, Any]]:  # fmt: skip
    rows = []
    steps = [(i, f, e) for i in intervals for f in faults for e in ENGINES]
    for k, (interval, fault, engine) in enumerate(steps, 1):
        progress(f"failover {k}/{len(steps)}: {engine}, {interval}, {fault}, {trials} trials")
        row = run_one(engine, CONFIGS[interval], fault, trials, out)
        row["interval"] = interval
        rows.append(row)
        s = row["stats"].get("outage_s")
        progress(
            f"  {row['verdict']}: {row['passed']}/{row['trials']} in bound"
            + (f", outage median {s['median'] * 1000:.1f} ms" if s else "")
            + f" ({row['wall_s']:.0f} s)"
        )
    return rows
