"""Step 4, Direct Routing against a reverse proxy, when the balancer's link is the
bottleneck. Edge: it runs labs.

The lab is ``lablb topo make webfarm N``'s, with N clients (at least two) so the
clients' links together can carry what N web nodes send, and r1's links not shaped so
the router does not cap the sum; every other link (balancers, web nodes, clients) is
1 Gbit/s as in the seed. Each client downloads the lab's MP4 over and over
(``DOWNLOADS_PER_CLIENT`` loops, keep-alive), then for ``seconds`` we count the bytes
the clients receive (their interfaces' counters) and the bytes the first balancer's
link carries, both ways.

- DR: lablb's cluster, downloads from the service VIP. The balancer forwards only the
  clients' requests and ACKs; the web nodes answer the clients directly.
- Proxy: the same lab without VRRP, nginx on the first balancer as a reverse proxy to
  the web nodes (round robin, buffering off). Every byte of every video crosses the
  balancer's link twice: in from a web node, out to a client.

DR can deliver up to N times what the proxy can: the proxy's ceiling is the balancer's
one link, DR's the web nodes' N links.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

from bench.counters import busy_fraction, cpu_times, interface_bytes
from bench.labs import made
from lablb.lab.cluster import start_cluster
from lablb.lab.derived import derived_entry
from lablb.lab.net import Lab, LabSpec
from lablb.lab.registry import TopoEntry
from lablb.lab.web import ReverseProxy, start_web, video

VIDEO_MB = 8
DOWNLOADS_PER_CLIENT = 2
URLS_PER_CURL = 20  # one curl, one kept-alive connection, twenty videos back to back
WARMUP_S = 3.0  # slow start and the first curl's spawn, before counting


def address(entry: TopoEntry, host: str) -> str:
    return str(entry.cls.plan.host(host).links[0].address.ip)


def load_from(lab: Lab, clients: list[str], url: str, seconds: float) -> list[Any]:
    urls = " ".join([url] * URLS_PER_CURL)
    loop = f"while :; do curl -s {urls} > /dev/null; done"
    return [
        lab.host(c).popen(["timeout", f"{seconds:.0f}", "sh", "-c", loop],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for c in clients for _ in range(DOWNLOADS_PER_CLIENT)
    ]  # fmt: skip


def measure(lab: Lab, entry: TopoEntry, url: str, seconds: float) -> dict[str, Any]:
    """Clients downloading ``url`` for ``seconds`` after the warm-up: Gbit/s the clients
    received, the balancer link's share of those bytes, and the box's CPU."""
    clients = sorted(h.name for h in entry.cls.plan.of_role("client"))
    balancer = entry.balancers[0]
    procs = load_from(lab, clients, url, WARMUP_S + seconds + 5)
    try:
        time.sleep(WARMUP_S)
        rx0 = {c: interface_bytes(lab, c)[0] for c in clients}
        lb0 = interface_bytes(lab, balancer)
        cpu0 = cpu_times()
        t0 = time.monotonic()
        time.sleep(seconds)
        elapsed = time.monotonic() - t0
        rx1 = {c: interface_bytes(lab, c)[0] for c in clients}
        lb1 = interface_bytes(lab, balancer)
        cpu1 = cpu_times()
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=10)
    per_client = {c: (rx1[c] - rx0[c]) * 8 / elapsed / 1e9 for c in clients}
    delivered = sum(rx1[c] - rx0[c] for c in clients)
    balancer_bytes = (lb1[0] - lb0[0]) + (lb1[1] - lb0[1])
    return {
        "gbit_s": round(sum(per_client.values()), 3),
        "per_client_gbit_s": {c: round(v, 3) for c, v in per_client.items()},
        "balancer_link_bytes_per_delivered": round(balancer_bytes / delivered, 4)
        if delivered else None,
        "box_cpu_busy": round(busy_fraction(cpu0, cpu1), 3),
        "seconds": round(elapsed, 2),
    }  # fmt: skip


def start_proxy(lab: Lab, entry: TopoEntry, webs: list[str]) -> str:
    """nginx as a reverse proxy on the first balancer; its URL prefix."""
    host = entry.balancers[0]
    backends = [(IPv4Address(address(entry, w)), 80) for w in webs]
    return ReverseProxy(lab, host, IPv4Address(address(entry, host)), backends).start().url


def dr_vs_proxy(webs: int, seconds: float, work: Path,
                progress: Callable[[str], None]) -> dict[str, Any]:  # fmt: skip
    configs = made("webfarm", webs, work)
    entry = derived_entry(configs, clients=max(2, webs))
    name = video(VIDEO_MB).name
    spec = LabSpec(entry, {"router_bw": None})
    with Lab(spec) as lab:
        cluster = start_cluster(lab, entry, configs, "lablb", video_mb=VIDEO_MB)
        svc = cluster.service_vip()
        assert svc is not None, "webfarm's configs have a virtual_server"
        dr = measure(lab, entry, f"http://{svc[0]}:{svc[1]}/video/{name}", seconds)
    progress(f"  webfarm {webs}, DR: {dr['gbit_s']:.2f} Gbit/s")
    with Lab(spec) as lab:
        names = sorted(h.name for h in entry.cls.plan.of_role("web"))
        start_web(lab, names, entry.docroot() or Path(), VIDEO_MB)
        proxy = measure(lab, entry, f"{start_proxy(lab, entry, names)}/video/{name}", seconds)
    progress(f"  webfarm {webs}, reverse proxy: {proxy['gbit_s']:.2f} Gbit/s")
    ratio = dr["gbit_s"] / proxy["gbit_s"] if proxy["gbit_s"] else None
    return {"webs": webs, "clients": max(2, webs), "video_mb": VIDEO_MB, "dr": dr,
            "proxy": proxy, "ratio": round(ratio, 2) if ratio else None}  # fmt: skip
