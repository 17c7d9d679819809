"""The seed topology as data, the htb sizing, and the ping parser."""

from __future__ import annotations

import pytest

from lablb.errors import LabError
from lablb.lab.graph import describe, to_graph
from lablb.lab.link import MAX_QUANTUM, htb_commands
from lablb.lab.registry import get
from lablb.measure.ping import parse_ping


def test_seed_matches_the_tutorial() -> None:
    entry = get("seed")
    views = {v.name: v for v in describe(entry.cls())}
    assert entry.balancers == ("lb01", "lb02")
    expect = {
        "lb01": "172.30.0.20/24",
        "lb02": "172.30.0.21/24",
        "web01": "172.30.0.23/24",
        "web02": "172.30.0.24/24",
    }
    for host, addr in expect.items():
        assert [(i.name, i.address) for i in views[host].interfaces] == [("eth0", addr)]
        assert "default via 172.30.0.1" in views[host].routes
    for web in ("web01", "web02"):
        assert views[web].role == "web" and views[web].lo_addresses == ("172.16.55.100/32",)
    assert views["r1"].addresses == ["172.30.0.1/24", "198.51.100.1/24"]
    assert "172.16.55.100/32 dev eth0" in views["r1"].routes
    g = to_graph(entry.cls())
    assert g.degree["s1"] == 6 and g.nodes["lb01"]["role"] == "balancer"
    assert entry.config_dir().name == "seed"


@pytest.mark.parametrize("bw", [1, 10, 100, 1000, 10000])
def test_htb_quantum_stays_under_kernel_limit(bw: float) -> None:
    qdisc, link, bulk, control, band = htb_commands(bw)
    r2q = int(qdisc.rsplit(" ", 1)[1])
    assert bw * 1e6 / 8 / r2q < MAX_QUANTUM
    assert f"rate {bw:f}Mbit" in link and f"ceil {bw:f}Mbit" in bulk and "prio 0" in control
    assert "default 1" in qdisc and "classid 5:1 " in bulk  # unclassified: bulk
    assert "match ip tos 0xc0 0xc0 flowid 5:2" in band  # VRRP adverts: the control class


def test_parse_ping() -> None:
    out = (
        "3 packets transmitted, 2 received, 33.3333% packet loss, time 401ms\n"
        "rtt min/avg/max/mdev = 0.052/0.081/0.110/0.029 ms\n"
    )
    res = parse_ping(out)
    assert (res.transmitted, res.received, res.rtt_avg_ms, res.ok) == (3, 2, 0.081, False)
    assert parse_ping("1 packets transmitted, 0 received, 100% packet loss").rtt_avg_ms is None
    with pytest.raises(LabError):
        parse_ping("ping: connect: Network is unreachable")
