"""Steps that scenarios share: VRRP timers from the config, a fault under the probes,
config variants. Lab layer (it drives a running cluster)."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass

from lablb.checker.daemon import TICK, read_lag
from lablb.checker.logic import Timing
from lablb.lab.capture import Capture
from lablb.lab.cluster import Cluster
from lablb.lab.faults import Fault
from lablb.lab.kernel import Instant, cpu_steal
from lablb.lab.probe import Prober
from lablb.measure.bounds import Slack, preempt
from lablb.measure.failover import Lan, Window
from lablb.measure.outage import ProbeLog
from lablb.measure.pcap import Frame

PROBE_LEAD_S = 0.5  # the probes run this long before the fault: the "before" picture
PREEMPT_WAIT_S = 5.0  # beyond master_down: how long a node that does not come back is awaited
CAPTURE_POLL_S = 0.05
OBSERVE_S = 0.2  # looked for this long after master_down: the run's own reading delay
IN_FLIGHT_S = 0.05  # probes go on this long after the window: a later answer is lost


def slack_of(cluster: Cluster) -> Slack:
    """The derived slack for this cluster's engines on this machine."""
    return Slack.of([n.engine.name for n in cluster.nodes.values()], os.cpu_count() or 1)


def attempt_slack(cluster: Cluster) -> float:
    """Between one checker attempt's timing and its verdict: a tick before it starts, a
    tick before its result is read, one scheduling quantum."""
    return 2 * TICK + slack_of(cluster).quantum


def checker_slack(cluster: Cluster, t: Timing, attempts: int) -> float:
    """What lies between a checker's timings and its verdict over ``attempts`` attempts:
    the last verdict's read (``read_lag``) and each attempt's ``attempt_slack``."""
    return read_lag(t) + attempts * attempt_slack(cluster)


@dataclass
class Measured:
    """A fault under the probes: what the instruments recorded over one window."""

    fault: str
    confirms: str  # what the capture must show after the instant (``Fault.confirms``)
    instant: Instant
    probes: dict[str, ProbeLog]
    ident: int | None
    frames: list[Frame]
    since: float
    until: float
    steal_s: float = 0.0
    expected: tuple[str, ...] = ("icmp", "tcp")  # the probes asked for

    def window(self) -> Window:
        """What ``lablb.measure.failover.judge`` reads of it."""
        return Window(
            fault=self.fault,
            confirms=self.confirms,
            before=self.instant.before,
            at=self.instant.after,
            since=self.since,
            until=self.until,
            probes=self.probes,
            ident=self.ident,
            frames=self.frames,
            expected=self.expected,
        )


def fault_under_probe(
    cluster: Cluster,
    capture: Capture,
    f: Fault,
    settle: float,
    interval: float,
    client: str | None = None,
) -> Measured:
    """Inject ``f`` while a client probes the cluster VIP (ICMP) and the service VIP:port
    (TCP SYN; VRRP only: the local service's port on the VIP) every ``interval``; the
    probes' logs and the capture's frames from ``PROBE_LEAD_S`` before the fault to
    ``settle`` after it. The fault stays injected:
    the scenario undoes it (or the runner, after the trial)."""
    client = client or cluster.roles("client")[0]
    out = cluster.workdir / f"probe-{time.time_ns()}.json"
    prober = Prober(
        cluster.lab, client, cluster.cluster_vip(), cluster.probe_service(), interval, out
    ).start()
    try:
        time.sleep(PROBE_LEAD_S)
        since = time.time() - PROBE_LEAD_S
        steal = cpu_steal()
        at = f.inject()
        time.sleep(max(0.0, at.after + settle - time.time()))
        until = time.time()
        steal = cpu_steal() - steal
        time.sleep(IN_FLIGHT_S)  # answers to the last probes judged are still on the way
    finally:
        logs = prober.stop()
    ident = prober.ident
    frames = capture.frames(since - 1.0, until + 1.0)
    expected = ("icmp", "tcp") if cluster.probe_service() is not None else ("icmp",)
    return Measured(
        f.name, f.confirms, at, logs, ident, frames, since, until, round(steal, 3), expected
    )


def lan_of(cluster: Cluster) -> Lan:
    """Who is who on the server LAN: every balancer's and web node's MACs, each
    balancer's primary IP, the cluster's VRID."""
    macs: dict[str, str] = {}
    ips: dict[str, str] = {}
    for name in (*cluster.balancers, *cluster.web):
        for mac in cluster.macs(name):
            macs[mac] = name
        if name in cluster.balancers:
            ips[name] = str(cluster.address(name))
    vrid = cluster.instance(cluster.balancers[0]).virtual_router_id or 0
    return Lan(macs, ips, vrid)


@dataclass(frozen=True)
class Preemption:
    """The master's return: undo to its first advert on the wire (None: not seen), the
    bound for this trial, and how long its restart took (from its own log)."""

    seconds: float | None
    bounds: tuple[float, float]
    started_s: float
    spawned_s: float | None = None  # undo to the engine's own process spawned (a restart)


def preempt_measure(
    cluster: Cluster, capture: Capture, f: Fault, master: str, slack: Slack
) -> Preemption:
    """Undo the fault and time the master's return on the wire: from the undo to its
    first advert, bounded per trial by its own start (``lablb.measure.bounds.preempt``):
    a restarted daemon's start instant comes from its own log (``VrrpNode.started_at``);
    a link coming back starts the wait when the kernel reports it running
    (``Fault.running_at``, one quantum for the daemon to wake on it); a thawed process
    has an overdue timer and advertises within ``fire``."""
    node = cluster.nodes[master]
    t = cluster.timers(master)
    ip = str(cluster.address(master))
    undo = f.undo()
    # Watch the capture, not the nodes: an `ip addr` per poll in the balancers would
    # compete for the CPU with the very timer being measured.
    first = None
    deadline = time.time() + t.master_down + PREEMPT_WAIT_S
    # Sleep through the expected pre-emption: reading the pcap costs the runner CPU.
    time.sleep(t.master_down + OBSERVE_S)
    while first is None and time.time() < deadline:
        time.sleep(CAPTURE_POLL_S)
        frames = capture.frames(undo.before, time.time() + 1.0, flush=False)
        first = next((fr.t for fr in frames if fr.kind == "advert" and fr.src_ip == ip), None)
    cluster.wait_master(master, PREEMPT_WAIT_S)
    if f.name == "freeze":
        bound = (0.0, slack.fire)
        started = 0.0
    else:
        # The instance waits in FAULT until the kernel reports its interface running
        # (linkwatch may defer that past the undo); it wakes on that report within one
        # scheduling quantum. A restarted daemon waits for its own start as well.
        start = undo.after
        if f.name not in ("ifdown", "isolate"):
            logged = node.started_at(undo.before)
            start = logged if logged is not None else undo.after
        if f.running_at is not None:
            start = max(start, f.running_at + slack.quantum)
        started = start - undo.before
        bound = preempt(t, slack, started)
    seconds = None if first is None else round(first - undo.before, 6)
    spawned = None
    if f.name not in ("freeze", "ifdown", "isolate") and node.spawned_at is not None:
        spawned = round(node.spawned_at - undo.before, 6)
    return Preemption(seconds, bound, round(started, 6), spawned)


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


class TrafficLoop:
    """Clients busy through the service VIP for up to ``seconds``: every client requests
    /whoami.txt every 0.2 s, and with ``video`` the first one also downloads that MP4
    over and over at ``rate`` (curl's ``--limit-rate``), a stream through the
    forwarder for as long as the loop runs. Counts failed requests and broken downloads.
    Bounded: each loop ends after ``seconds`` (``timeout``), or at ``stop``."""

    def __init__(self, cluster: Cluster, seconds: float, video: str | None = None,
                 rate: str = "2M") -> None:  # fmt: skip
        self.cluster, self.seconds, self.video, self.rate = cluster, seconds, video, rate
        self.procs: list[tuple[str, subprocess.Popen[str]]] = []

    def start(self) -> TrafficLoop:
        svc = self.cluster.service_vip()
        if svc is None:
            return self
        base = f"http://{svc[0]}:{svc[1]}"
        requests = (
            "n=0; e=0; while true; do n=$((n+1)); curl -s -m 1 -o /dev/null "
            f"{base}/whoami.txt || e=$((e+1)); echo $n $e; sleep 0.2; done"
        )
        loops = [("requests", client, requests) for client in self.cluster.roles("client")]
        if self.video:
            stream = (
                "n=0; e=0; while true; do n=$((n+1)); curl -s -m 120 --limit-rate "
                f"{self.rate} -o /dev/null {base}/video/{self.video} || e=$((e+1)); "
                "echo $n $e; done"
            )
            loops.append(("downloads", self.cluster.roles("client")[0], stream))
        for kind, client, loop in loops:
            proc = self.cluster.lab.host(client).popen(
                ["timeout", f"{self.seconds:.0f}", "bash", "-c", loop],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            )  # fmt: skip
            self.procs.append((kind, proc))
        return self

    def stop(self) -> dict[str, tuple[int, int]]:
        """kind -> (failed, tried), over all clients (a download cut by the stop counts
        as tried, not failed)."""
        out: dict[str, tuple[int, int]] = {}
        for kind, p in self.procs:
            p.terminate()
            text, _ = p.communicate(timeout=5)
            rows = [line.split() for line in text.strip().splitlines() if line.strip()]
            tried, failed = (int(rows[-1][0]), int(rows[-1][1])) if rows else (0, 0)
            before = out.get(kind, (0, 0))
            out[kind] = (before[0] + failed, before[1] + tried)
        self.procs = []
        return out
