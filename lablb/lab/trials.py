"""Steps that scenarios share: VRRP timers from the config, a fault under a 10 ms probe,
config variants. Lab layer (it drives a running cluster)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

from lablb.config.load import load
from lablb.lab.cluster import Cluster
from lablb.lab.faults import fault
from lablb.lab.probe import PingProbe
from lablb.measure.probe import gaps, outage_around
from lablb.measure.timeline import around, read_events, responders
from lablb.vrrp.engine import params_of
from lablb.vrrp.fsm import Router

TOLERANCE = 0.050  # the issue's +50 ms on protocol bounds
STARTUP = 1.0  # a restarted daemon's process start


@dataclass(frozen=True)
class VrrpTiming:
    master_down: float
    skew: float
    advert_int: float


def vrrp_timing(cluster: Cluster, node: str) -> VrrpTiming:
    """The node's timers as its keepalived.conf implies them (RFC 3768 section 6.1)."""
    cfg = cluster.config(node)
    inst = cfg.vrrp_instances[0]
    # The timers depend on priority, interval and version, never on the advert's source
    # address, so no address needs to be looked up in the node for them.
    r = Router(params_of(cfg, inst, IPv4Address(0)))
    return VrrpTiming(r.master_down_interval(), r.skew_time(), inst.advert_int)


def failover_bound(fault_name: str, backup: VrrpTiming) -> tuple[float, float]:
    """What the config promises a client for each fault on the master."""
    if fault_name == "graceful":
        return 0.0, backup.skew + TOLERANCE
    if fault_name == "freeze":  # the frozen master still answers: no gap is expected
        return 0.0, backup.master_down + TOLERANCE
    return backup.master_down - backup.advert_int, backup.master_down + TOLERANCE


def fault_under_probe(
    cluster: Cluster,
    node: str,
    fault_name: str,
    settle: float,
    interval: float = 0.01,
    client: str | None = None,
) -> dict[str, Any]:
    """Inject ``fault_name`` on ``node`` while a client pings the cluster VIP every
    ``interval``; the outage the client saw and the LAN's protocol timeline."""
    client = client or cluster.roles("client")[0]
    vip = cluster.cluster_vip()
    probe = PingProbe(cluster.lab, client, vip, interval).start()
    time.sleep(0.5)
    f = fault(fault_name, cluster.nodes[node])
    at = f.inject()
    wall_at = time.time() - (time.monotonic() - at)
    time.sleep(settle)
    replies = probe.stop()
    gap = outage_around(replies, at, interval)
    out: dict[str, Any] = {
        "fault": fault_name,
        "fault_at": at,
        "outage_s": round(gap.seconds, 4) if gap else 0.0,
        "replies": len(replies),
        "gaps": [[round(g.start - at, 4), round(g.seconds, 4)] for g in gaps(replies, interval)],
        "probe": [round(t - at, 4) for t in replies],
    }
    pcap = cluster.lab.workdir.parent / "capture.pcap"
    events = read_events(pcap)
    out.update(around(events, wall_at))
    macs = {cluster.lab.host(n).MAC().lower(): n for n in cluster.balancers}
    window = [e for e in events if wall_at - 1.0 <= e.t <= wall_at + settle]
    out["responders"] = responders(window, macs, wall_at, str(vip))
    out["undo"] = f
    return out


def derive(configs: Path, out: Path, *edits: Callable[[str], str]) -> Path:
    """A copy of a config set with text edits applied (bounds then follow from it)."""
    dest = out / "configs"
    dest.mkdir(parents=True, exist_ok=True)
    for conf in sorted(configs.glob("*.conf")):
        text = conf.read_text()
        for edit in edits:
            text = edit(text)
        (dest / conf.name).write_text(text)
        load(str(dest / conf.name))  # an edit must not break the file
    return dest


class RequestLoop:
    """Every client requests /whoami.txt through the service VIP every 0.2 s (at most
    600 times), counting failures."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.procs: list[subprocess.Popen[str]] = []

    def start(self) -> RequestLoop:
        svc = self.cluster.service_vip()
        if svc is None:
            return self
        loop = (
            "n=0; e=0; while [ $n -lt 600 ]; do n=$((n+1)); curl -s -m 1 -o /dev/null "
            f"http://{svc[0]}:{svc[1]}/whoami.txt || e=$((e+1)); echo $n $e; sleep 0.2; done"
        )
        for client in self.cluster.roles("client"):
            proc = self.cluster.lab.host(client).popen(
                ["bash", "-c", loop], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
            )
            self.procs.append(proc)
        return self

    def stop(self) -> tuple[int, int]:
        """(failed, sent) over all clients."""
        errors = sent = 0
        for p in self.procs:
            p.terminate()
            out, _ = p.communicate(timeout=5)
            last = out.strip().splitlines()[-1].split() if out.strip() else ["0", "0"]
            sent, errors = sent + int(last[0]), errors + int(last[1])
        self.procs = []
        return errors, sent


def became(
    cluster: Cluster, node: str, state: str, after: float, timeout: float, holds: bool
) -> float | None:
    """Monotonic time at which ``node`` entered ``state`` after ``after``: from lablb's
    event log when the node runs lablb, else by polling whether it holds the VIP (then
    accurate to the poll, some tens of ms). None if not within ``timeout``."""
    vip = cluster.cluster_vip()
    deadline = after + timeout
    while time.monotonic() < deadline:
        events = [
            e
            for e in cluster.nodes[node].events("state")
            if e["to"] == state and float(str(e["ts"])) >= after
        ]
        if events:
            return float(str(events[0]["ts"]))
        if cluster.nodes[node].engine != "lablb" and (node in cluster.holders(vip)) == holds:
            return time.monotonic()
        time.sleep(0.02)
    return None
