"""Adverts through a saturated balancer link. keepalived marks its adverts TOS 0xc0
and so does lablb; the lab's links (``lablb.lab.link``) serve that precedence from an
htb class of its own. Two UDP floods from web01 and web02 into lb02's link, at
twice its rate, drop half the bulk; lb02 must still hear every advert of lb01 at
10 ms intervals and stay BACKUP, with either engine. Without the band (its filter
removed on that link) the same flood costs adverts: the band is what the test sees."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lablb.config.load import load
from lablb.lab.balancer import start_vrrp
from lablb.lab.net import Lab, LabSpec
from lablb.lab.registry import get
from lablb.measure.pcap import read_frames
from tests.conftest import REPO, wait_for
from tests.lab.leftovers import Snapshot
from tests.lab.test_vrrp_lab import assert_scheduled_as_configured, holders, timing

CONFIGS = REPO / "topologies" / "configs" / "seed-v3-10ms"
# 100 Mbit/s links: each flooder's own link carries 100, so lb02's takes twice its rate
# (half the bulk is dropped at its port) without the flood needing more than a core.
LINK_MBIT = 100
FLOOD_MBIT = 2 * LINK_MBIT
FLOOD_S = 6
# A sender's datagrams stay charged to its socket until lb02's port sends them (veth and
# the bridge run in the sender's context), so with the default 208 kB buffer the floods
# are paced by lb02's link and its queue never overflows (measured: 0 drops at twice
# the rate). 8 MB lets each flood hold more than the 1000-packet queue.
SNDBUF = "8M"
FLOODERS = (("web01", 5201), ("web02", 5202))
LB02 = "172.30.0.21"
SATURATED_LOSS_PCT = 25.0  # the floods lose at least this: the link was overfull


@pytest.fixture
def slow_lab(before: Snapshot) -> Iterator[Lab]:
    with Lab(LabSpec(get("seed"), {"bw": LINK_MBIT})) as lab:
        yield lab


def switch_port(lab: Lab, host: str) -> str:
    """The switch-side interface of ``host``'s link (its egress is what ``host`` hears)."""
    intf = lab.host(host).defaultIntf()
    link = intf.link
    return str((link.intf2 if link.intf1 is intf else link.intf1).name)


def _capture(lab: Lab, host: str, pcap: Path) -> subprocess.Popen[bytes]:
    proc: subprocess.Popen[bytes] = lab.host(host).popen(
        ["tcpdump", "-n", "-i", "eth0", "--time-stamp-precision=nano", "-w", str(pcap),
         "ip proto 112 and src 172.30.0.20"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    return proc


def flood_and_capture(lab: Lab) -> list[float]:
    """Saturate lb02's link for FLOOD_S seconds while lb01's adverts are captured as
    they leave lb01 and as they reach lb02; the floods' loss percentages."""
    caps = [_capture(lab, h, lab.workdir / f"adverts-{h}.pcap") for h in ("lb01", "lb02")]
    servers = [lab.popen("lb02", ["iperf3", "-s", "-1", "-p", str(p)]) for _, p in FLOODERS]
    time.sleep(0.5)
    clients = [
        lab.host(w).popen(
            [
                "iperf3",
                "-u",
                "-b",
                f"{FLOOD_MBIT}M",
                "-w",
                SNDBUF,
                "-l",
                "1400",
                "-t",
                str(FLOOD_S),
                "-p",
                str(p),
                "-c",
                LB02,
                "-J",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w, p in FLOODERS
    ]
    losses = []
    try:
        for c in clients:
            out, _ = c.communicate(timeout=FLOOD_S + 20)
            # The receiver's count (the client's own "sum" is what it sent).
            losses.append(float(json.loads(out)["end"]["sum_received"]["lost_percent"]))
    finally:
        for proc in [*clients, *servers]:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=5)
        time.sleep(0.1)
        for cap in caps:
            cap.send_signal(signal.SIGINT)
            cap.wait(timeout=5)
    return losses


def lost_adverts(lab: Lab, interval: float) -> tuple[int, list[float]]:
    """(adverts lb01 sent while both captures ran, the send times of those lb02 never
    received within one advert interval). Lateness of the sender is not loss: only an
    advert seen leaving lb01 and never arriving counts."""
    sent = [f.t for f in read_frames((lab.workdir / "adverts-lb01.pcap").read_bytes())[0]]
    got = [f.t for f in read_frames((lab.workdir / "adverts-lb02.pcap").read_bytes())[0]]
    assert sent and got, "no adverts captured"
    window = [t for t in sent if got[0] <= t <= got[-1] - interval]
    lost, j = [], 0
    for t in window:
        while j < len(got) and got[j] < t:
            j += 1
        if j < len(got) and got[j] <= t + interval:
            j += 1
        else:
            lost.append(t)
    return len(window), lost


@pytest.mark.parametrize("engine", ["lablb", "keepalived"])
def test_adverts_get_through_a_saturated_link(slow_lab: Lab, engine: str) -> None:
    t1, t2 = timing(CONFIGS / "lb01.conf", "lb01"), timing(CONFIGS / "lb02.conf", "lb02")
    nodes = start_vrrp(slow_lab, CONFIGS, {"lb01": engine, "lb02": engine})
    wait_for("lb01 alone", lambda: holders(nodes, t1.vip) == ["lb01"], t1.master_down + 3.0)
    time.sleep(t2.master_down * 2)
    # (after the election: each engine takes its policy once its config is read)
    assert load(str(CONFIGS / "lb01.conf")).global_defs.vrrp_rt_priority == 5
    assert_scheduled_as_configured(nodes)  # SCHED_RR 5, either engine
    losses = flood_and_capture(slow_lab)
    assert min(losses) >= SATURATED_LOSS_PCT, f"the link was not saturated: {losses}"
    sent, lost = lost_adverts(slow_lab, t1.advert_int)
    assert sent >= FLOOD_S / t1.advert_int * 0.5, sent
    assert lost == [], f"{len(lost)} of {sent} adverts lost under the flood"
    assert holders(nodes, t1.vip) == ["lb01"]
    assert nodes["lb02"].state("VI_1") == "BACKUP"


def test_without_the_band_the_flood_costs_adverts(slow_lab: Lab) -> None:
    """The control: the band's filter removed on lb02's link, adverts queue with the
    bulk and some are dropped with it. (The test above could not fail otherwise.)"""
    t1 = timing(CONFIGS / "lb01.conf", "lb01")
    nodes = start_vrrp(slow_lab, CONFIGS, {"lb01": "lablb", "lb02": "lablb"})
    wait_for("lb01 alone", lambda: holders(nodes, t1.vip) == ["lb01"], t1.master_down + 3.0)
    port = switch_port(slow_lab, "lb02")
    res = slow_lab.root(["tc", "filter", "del", "dev", port, "parent", "5:0"])
    assert res.returncode == 0, res.stderr
    losses = flood_and_capture(slow_lab)
    assert min(losses) >= SATURATED_LOSS_PCT, f"the link was not saturated: {losses}"
    sent, lost = lost_adverts(slow_lab, t1.advert_int)
    assert lost, f"none of {sent} adverts lost without the band"
