"""Steps that hold a lab themselves (typed lab API, no CLI): the daemons' memory,
false failovers under load, and what a lab costs as it grows. Edge: it runs labs.

False failovers: the seed lab at 0.01 s adverts (``seed-v3-10ms``), an MP4 stream
forwarded through the VIP the whole time, and in each balancer one busy loop per CPU
(the machine's every core busy in both balancers at once). Any state change a node
logs after the load starts is spurious: nothing failed. The before/after of the fix is
the same run with the config's ``vrrp_rt_priority`` line taken out.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.failover import REPO
from lablb.lab.cluster import Cluster, start_cluster
from lablb.lab.net import Lab, LabSpec
from lablb.lab.registry import get
from lablb.lab.trials import TrafficLoop
from lablb.lab.web import video

CONFIGS = REPO / "topologies" / "configs"
STREAM_MB = 8
STREAM_RATE = (
    "20M"  # curl --limit-rate: 160 Mbit/s through the forwarder, a stream a core can carry
)
FAILOVER_RUN_TIMEOUT_S = 600.0  # a 64-node webfarm comes up in about a minute
RT_PRIORITY = 5  # the lab configs' vrrp_rt_priority
WAKEUP_PERIOD_S = 0.01  # as often as a 10 ms advert timer
BUSY = "while :; do :; done"  # a shell busy loop: no interpreter to start, nothing to import


def rss_kb(pid: int) -> int | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    line = next((x for x in status.splitlines() if x.startswith("VmRSS:")), None)
    return int(line.split()[1]) if line else None


def process_name(pid: int) -> str:
    """A forked child's own name (``lablb-vrrp``), else its module or program."""
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        comm = ""
    if comm.startswith("lablb"):
        return comm
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    words = [a.decode(errors="replace") for a in argv if a]
    module = next((w for w in words if w.startswith("lablb")), None)
    return module or Path(words[0]).name if words else "?"


def memory(cluster: Cluster, engine: str) -> dict[str, Any]:
    """VmRSS of each process of the first balancer's daemon (keepalived: parent and VRRP
    child; its lablb forwarder and checkers are the lab's companion, not counted)."""
    node = cluster.nodes[cluster.balancers[0]]
    pids = node.engine_pids()
    procs = {f"{process_name(p)} ({p})": rss_kb(p) for p in pids}
    total = sum(v for v in procs.values() if v)
    return {"engine": engine, "processes": procs, "total_kb": total}


def without_rt(dst: Path) -> Path:
    """``seed-v3-10ms`` with its ``vrrp_rt_priority`` lines removed."""
    dst.mkdir(parents=True, exist_ok=True)
    for src in (CONFIGS / "seed-v3-10ms").glob("*.conf"):
        lines = src.read_text().splitlines(keepends=True)
        (dst / src.name).write_text("".join(x for x in lines if "vrrp_rt_priority" not in x))
    return dst


def changes(cluster: Cluster) -> dict[str, int]:
    return {n: len(cluster.nodes[n].states()) for n in cluster.balancers}


def false_failovers(engine: str, seconds: float, rt: bool, work: Path,
                    progress: Callable[[str], None]) -> dict[str, Any]:  # fmt: skip
    configs = CONFIGS / "seed-v3-10ms" if rt else without_rt(work / "no-rt")
    entry = get("seed")
    label = f"{engine}, {'vrrp_rt_priority 5' if rt else 'timesharing'}"
    with Lab(LabSpec(entry)) as lab:
        cluster = start_cluster(lab, entry, configs, engine, video_mb=STREAM_MB)
        mem = memory(cluster, engine)
        time.sleep(1.0)
        before = changes(cluster)
        master = cluster.master()
        load = TrafficLoop(cluster, seconds + 10, video=video(STREAM_MB).name, rate=STREAM_RATE)
        load.start()
        busy = [
            lab.host(b).popen(["timeout", f"{seconds:.0f}", "sh", "-c", BUSY],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for b in cluster.balancers for _ in range(os.cpu_count() or 1)
        ]  # fmt: skip
        # The platform's share: an RT (or not) task's timer wake-ups beside the daemon.
        backup = next(b for b in cluster.balancers if b != master)
        wakeup = lab.host(backup).popen(
            [sys.executable, "-m", "bench.wakeup", "--seconds", f"{seconds:.0f}",
             "--period", str(WAKEUP_PERIOD_S), "--rt-priority", str(RT_PRIORITY if rt else 0)],
            cwd=str(REPO), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        t0 = time.monotonic()
        while time.monotonic() - t0 < seconds:
            time.sleep(min(30.0, seconds - (time.monotonic() - t0)))
            spurious = sum(changes(cluster).values()) - sum(before.values())
            progress(f"  {label}: {time.monotonic() - t0:.0f}/{seconds:.0f} s, "
                     f"{spurious} state changes")  # fmt: skip
        for p in busy:
            p.terminate()
            p.wait(timeout=10)
        traffic = load.stop()
        out, _ = wakeup.communicate(timeout=30)
        wake = json.loads(out) if out.strip() else None
        after = changes(cluster)
        spurious = sum(after.values()) - sum(before.values())
        return {
            "engine": engine, "rt": rt, "label": label, "seconds": seconds,
            "changes": spurious, "master_before": master, "master_after": cluster.master(),
            "downloads": traffic.get("downloads"), "requests": traffic.get("requests"),
            "memory": mem, "wakeup": wake,
        }  # fmt: skip


def made(kind: str, n: int, work: Path) -> Path:
    """``lablb topo make KIND N``'s config set, in ``work``."""
    from lablb.cli import main

    out = work / f"{kind}-{n}"
    # --force: steps that use the same set make it again, the same
    if main(["topo", "make", kind, str(n), str(out), "--force"]) != 0:
        raise RuntimeError(f"topo make {kind} {n} failed")
    return out


def lab_cost(kind: str, n: int, work: Path, progress: Callable[[str], None]) -> dict[str, Any]:
    """A lab made for ``kind`` N (webfarm: N web nodes; multi-pair: N balancer pairs):
    seconds to the network up, to the cluster converged (VIP answering), to down; then
    one ``lablb run failover`` on it, end to end."""
    from lablb.lab.derived import derived_entry

    configs = made(kind, n, work)
    entry = derived_entry(configs)
    t0 = time.monotonic()
    with Lab(LabSpec(entry)) as lab:
        up = time.monotonic() - t0
        start_cluster(lab, entry, configs, "lablb")
        converged = time.monotonic() - t0
        hosts = len(lab.hosts)
        t1 = time.monotonic()
    down = time.monotonic() - t1
    t2 = time.monotonic()
    res = subprocess.run(
        [sys.executable, "-m", "lablb", "run", "failover", "--configs", str(configs),
         "--out", str(work / "runs"), "--json"],
        capture_output=True, text=True, check=False, timeout=FAILOVER_RUN_TIMEOUT_S,
    )  # fmt: skip
    run_s = time.monotonic() - t2
    verdict = "error"
    with contextlib.suppress(ValueError):
        verdict = json.loads(res.stdout)["verdict"]
    progress(f"  {kind} {n}: {hosts} hosts, net up {up:.1f} s, converged {converged:.1f} s, "
             f"down {down:.1f} s; failover run {run_s:.1f} s ({verdict})")  # fmt: skip
    return {"kind": kind, "n": n, "hosts": hosts, "net_up_s": round(up, 2),
            "converged_s": round(converged, 2), "down_s": round(down, 2),
            "failover_run_s": round(run_s, 2), "failover_verdict": verdict}  # fmt: skip
