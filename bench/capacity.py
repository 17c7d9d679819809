"""Step 5, the DR forwarder's packet rate, against the kernel forwarding the same
traffic on the same box. Edge: it runs labs.

The seed lab, and ``seed-v3-100ms`` with one more DR ``virtual_server``: the VIP's
port 5201 to web01 alone, no checker (a real server without one is up, as in
keepalived), where iperf3 listens. Two kinds of traffic from cl01 to VIP:5201:

- ``small``: an iperf3 upload with an 88-byte MSS (Linux's least) and segmentation
  offload off on cl01's link, so every segment is a frame of its own: every data
  packet crosses the balancer.
- ``acks``: an iperf3 download (``-R``, 1 Gbit/s, the links' rate): the data goes from
  web01 to the client directly, the client's ACKs cross the balancer.

Each runs through lablb's forwarder (the cluster up, lb01 master) on each data plane:
Python's AF_PACKET path, then the kernel's (``dr.bpf.c``); then through the kernel's own
forwarding: no VRRP, lb01 an IP router (``ip_forward``, a route for the VIP to web01,
r1's route for the VIP to lb01): the same frames, the same hop, the ceiling; and with no
hop at all (r1 routes the VIP to web01), the baseline. Counted over ``seconds`` after a
warm-up: the packets the client sent and the packets lb01 sent on (its link's counters;
web01's received, with no balancer), the forwarder's own CPU time, and the box's CPU.

What the hop costs per packet is the box's CPU per packet on that path less the box's
with no hop (the sender, the router, the bridge and the receiver do the same work in
both): for the Python forwarder it agrees with its own CPU per packet (the check on the
method); for the kernel's paths, which run in softirq, on no process's clock, it is the
only measure. One core's packets per second is its inverse.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.counters import busy_fraction, cpu_times, interface_counters, process_cpu_s
from bench.labs import CONFIGS, process_name
from lablb.config.load import load
from lablb.config.render import render
from lablb.lab.cluster import start_cluster
from lablb.lab.net import Lab, LabSpec
from lablb.lab.registry import get
from lablb.lab.web import start_web

PORT = 5201
VIP = "172.16.55.100"
WEB = ("web01", "172.30.0.23")
BALANCER = ("lb01", "172.30.0.20")
CLIENT = "cl01"
CPUS = os.cpu_count() or 1
MIN_MSS = 88  # Linux's TCP_MIN_MSS
WARMUP_S = 2.0
IPERF_START_S = 5.0
RTTIME_US = 1_000_000  # VRRP's real-time CPU without blocking, under the flood (below)
IPERF_END_S = 10.0  # past its -t: the end of test exchange, bounded
VIRTUAL_SERVER = f"""
virtual_server {VIP} {PORT} {{
    lvs_sched rr
    lvs_method DR
    protocol TCP
    real_server {WEB[1]} {PORT} {{
        weight 1
    }}
}}
"""
TRAFFIC = {
    "small": ["-M", str(MIN_MSS), "-P", "2"],
    "acks": ["-R"],
}


def configs_with_iperf(work: Path) -> Path:
    """``seed-v3-100ms`` plus the iperf3 virtual_server, in ``work``, with a longer
    ``vrrp_rlimit_rttime`` (``RTTIME_US``). The flood's softirq work runs in whichever
    task enables bottom halves on its CPU, the real-time VRRP process's too, and counts
    against its RLIMIT_RTTIME: at 150k packets/s the 10 ms default killed lb01's VRRP
    (``the vrrp process exited with status -9`` in its log; 4 of 12 runs on the kernel
    data plane failed here so, none of 5 since; keepalived's users meet the same,
    acassen/keepalived#2312). This step measures the forwarder, not that limit."""
    dst = work / "capacity-configs"
    if dst.exists():
        shutil.rmtree(dst)
    dst.mkdir(parents=True)
    for src in (CONFIGS / "seed-v3-100ms").glob("*.conf"):
        cfg = load(str(src))
        cfg = dataclasses.replace(
            cfg, global_defs=dataclasses.replace(cfg.global_defs, vrrp_rlimit_rttime=RTTIME_US)
        )
        (dst / src.name).write_text(render(cfg, f"{src}, vrrp_rlimit_rttime {RTTIME_US}")
                                    + VIRTUAL_SERVER)  # fmt: skip
    return dst


def start_iperf(lab: Lab) -> None:
    log = lab.workdir / "iperf3-server.log"  # kept with the lab's folder, for a failed run
    proc = lab.popen(WEB[0], ["iperf3", "-s", "-p", str(PORT), "--forceflush"], log=log)
    lab.on_teardown(proc.kill)
    deadline = time.monotonic() + IPERF_START_S
    while not lab.run(WEB[0], ["ss", "-Hntl", f"sport = :{PORT}"], timeout=5).stdout.strip():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("iperf3 did not start on web01")
        time.sleep(0.05)


def one(lab: Lab, kind: str, seconds: float, forwarder_pid: int | None,
        counted: str = BALANCER[0]) -> dict[str, Any]:  # fmt: skip
    """One traffic kind for ``seconds``: the packets ``counted`` sent on (lb01; web01's
    received, with no balancer), the forwarder's CPU, the box's."""
    tx = "tx_packets" if counted == BALANCER[0] else "rx_packets"
    if kind == "small":
        lab.run(CLIENT, ["ethtool", "-K", "eth0", "tso", "off", "gso", "off"], timeout=5)
    runs_for = WARMUP_S + seconds + 1
    client = lab.host(CLIENT).popen(
        ["iperf3", "-c", VIP, "-p", str(PORT), "-t", f"{runs_for:.0f}", *TRAFFIC[kind]],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        time.sleep(WARMUP_S)
        sent0 = interface_counters(lab, CLIENT)["tx_packets"]
        fwd0 = interface_counters(lab, counted)[tx]
        cpu0 = process_cpu_s(forwarder_pid) if forwarder_pid else (0.0, 0.0)
        box0 = cpu_times()
        t0 = time.monotonic()
        time.sleep(seconds)
        elapsed = time.monotonic() - t0
        sent = interface_counters(lab, CLIENT)["tx_packets"] - sent0
        forwarded = interface_counters(lab, counted)[tx] - fwd0
        cpu1 = process_cpu_s(forwarder_pid) if forwarder_pid else cpu0
        user, system = cpu1[0] - cpu0[0], cpu1[1] - cpu0[1]
        cpu = user + system if forwarder_pid else None
        box = busy_fraction(box0, cpu_times())
    finally:
        try:  # it ends on its own (-t): the server is then free for the next run
            out, _ = client.communicate(timeout=runs_for + IPERF_END_S)
        except subprocess.TimeoutExpired:
            client.kill()
            out, _ = client.communicate()
        if kind == "small":
            lab.run(CLIENT, ["ethtool", "-K", "eth0", "tso", "on", "gso", "on"], timeout=5)
    if client.returncode != 0 or not sent:
        raise RuntimeError(f"iperf3 {kind} from {CLIENT} failed: {out.strip()[-300:]}")
    row: dict[str, Any] = {
        "traffic": kind,
        "sent_pps": round(sent / elapsed),
        "forwarded_pps": round(forwarded / elapsed),
        "box_cpu_busy": round(box, 3),
        # the whole box's CPU per forwarded packet: sender, forwarder, receiver and the
        # kernel's softirq work alike, comparable between the two forwarders
        "box_us_per_packet": round(box * CPUS * elapsed / forwarded * 1e6, 2)
        if forwarded else None,
        "seconds": round(elapsed, 2),
    }
    if cpu is not None and forwarded:
        row["forwarder_cpu"] = round(cpu / elapsed, 3)
        row["forwarder_user_share"] = round(user / cpu, 3) if cpu else None
        row["us_per_packet"] = round(cpu / forwarded * 1e6, 2)
        row["pps_per_core"] = round(forwarded / cpu) if cpu else None
    return row


def forwarder_pid(pids: list[int]) -> int:
    found = [p for p in pids if process_name(p) == "lablb-forwarder"]
    if len(found) != 1:
        raise RuntimeError(f"expected one lablb-forwarder, found {found}")
    return found[0]


def _lablb(entry: Any, configs: Path, dataplane: str, seconds: float, kinds: Sequence[str],
           progress: Callable[[str], None]) -> list[dict[str, Any]]:  # fmt: skip
    """The cluster up (lb01 master) with its forwarders on ``dataplane``."""
    from lablb.ipvs.kernel import DATAPLANE_ENV

    was = os.environ.get(DATAPLANE_ENV)
    os.environ[DATAPLANE_ENV] = dataplane
    rows = []
    try:
        with Lab(LabSpec(entry)) as lab:
            cluster = start_cluster(lab, entry, configs, "lablb")
            start_iperf(lab)
            pid = forwarder_pid(cluster.nodes[BALANCER[0]].all_pids())
            status: list[dict[str, Any]] = cluster.forwarder(BALANCER[0])["services"]  # type: ignore[assignment]
            if any(s.get("dataplane") != dataplane for s in status if s["method"] == "DR"):
                raise RuntimeError(f"lb01's forwarder is not on the {dataplane} data plane")
            for kind in kinds:
                rows.append(one(lab, kind, seconds, pid))
                progress(f"  forwarder ({dataplane}), {kind}: "
                         f"{rows[-1]['forwarded_pps']} packets/s")  # fmt: skip
    finally:
        if was is None:
            os.environ.pop(DATAPLANE_ENV, None)
        else:
            os.environ[DATAPLANE_ENV] = was
    return rows


def _routed(entry: Any, seconds: float, kinds: Sequence[str],
            progress: Callable[[str], None]) -> dict[str, list[dict[str, Any]]]:  # fmt: skip
    """No VRRP, one lab: r1 routes the VIP to lb01, an IP router with a route for it to
    web01 (``kernel``); then to web01 itself (``direct``: no hop, the baseline the hop's
    cost is measured against)."""
    rows: dict[str, list[dict[str, Any]]] = {"kernel": [], "direct": []}
    with Lab(LabSpec(entry)) as lab:
        start_web(lab, [WEB[0]], entry.docroot() or Path(), None)
        start_iperf(lab)
        lb = BALANCER[0]
        for cmd in (
            ["sysctl", "-qw", "net.ipv4.ip_forward=1"],
            ["sysctl", "-qw", "net.ipv4.conf.all.send_redirects=0"],
            ["sysctl", "-qw", "net.ipv4.conf.eth0.send_redirects=0"],
            ["ip", "route", "replace", f"{VIP}/32", "via", WEB[1]],
        ):
            lab.run(lb, cmd, timeout=5).check_returncode()
        for path, hop, counted in (("kernel", BALANCER[1], lb), ("direct", WEB[1], WEB[0])):
            lab.run("r1", ["ip", "route", "replace", f"{VIP}/32", "via", hop],
                    timeout=5).check_returncode()  # fmt: skip
            for kind in kinds:
                rows[path].append(one(lab, kind, seconds, None, counted=counted))
                progress(f"  {'kernel' if path == 'kernel' else 'no balancer'}, {kind}: "
                         f"{rows[path][-1]['forwarded_pps']} packets/s")  # fmt: skip
    return rows


def capacity(seconds: float, work: Path, progress: Callable[[str], None],
             kinds: Sequence[str] = tuple(TRAFFIC)) -> dict[str, Any]:  # fmt: skip
    """Each traffic of ``kinds`` on each path (``bench.summary.PATHS``)."""
    entry = get("seed")
    configs = configs_with_iperf(work)
    return {
        "seconds": seconds,
        "mss": MIN_MSS,
        "lablb": _lablb(entry, configs, "python", seconds, kinds, progress),
        "lablb-kernel": _lablb(entry, configs, "kernel", seconds, kinds, progress),
        **_routed(entry, seconds, kinds, progress),
    }
