"""VRRPv3 over IPv6 between lablb and keepalived in both roles, on the dualstack lab
(``topologies/dualstack.py``, ``configs/dualstack``): VI_6 (VRID 52, 2001:db8:30::22)
beside the IPv4 VI_1, which also carries an IPv6 address in virtual_ipaddress_excluded.
The election, a crash of the master measured by the 1 ms prober (ICMPv6 echo from the
client, across r1) within the bounds VI_6's config implies, and the excluded address
moving with VI_1. tshark decodes lablb's IPv6 adverts and unsolicited NAs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address

import pytest

from lablb.config.load import load
from lablb.lab.balancer import VrrpNode, engines_for, start_vrrp
from lablb.lab.net import Lab, LabSpec
from lablb.lab.registry import get
from lablb.measure import bounds as B
from lablb.vrrp.engine import params_of
from lablb.vrrp.fsm import Router
from tests.conftest import wait_for
from tests.lab.leftovers import Snapshot, snapshot
from tests.lab.test_unicast_lab import tshark_rows
from tests.lab.test_vrrp_lab import PAIRS, probe_fault

ENTRY = get("dualstack")
CONFIGS = ENTRY.source.parent / "configs" / "dualstack"
VIP4 = IPv4Address("172.30.0.22")
EXCLUDED6 = IPv6Address("2001:db8:30::100")
PROBE_INTERVAL = 0.001


@dataclass(frozen=True)
class Timing6:
    """VI_6's timers on one node, as its keepalived.conf implies them."""

    master_down: float
    skew: float
    advert_int: float
    vip: IPv6Address


def timing6(node: str) -> Timing6:
    cfg = load(str(CONFIGS / f"{node}.conf"))
    inst = cfg.instance("VI_6")
    assert inst is not None and cfg.version_of(inst) == 3
    vip = inst.vips[0]
    assert isinstance(vip, IPv6Address)
    # The source address plays no part in the timers; any link-local will do.
    r = Router(params_of(cfg, inst, IPv6Address("fe80::1")))
    return Timing6(r.master_down_interval(), r.skew_time(), inst.advert_int, vip)


def holders(nodes: dict[str, VrrpNode], address: IPv4Address | IPv6Address) -> list[str]:
    return sorted(n for n, node in nodes.items() if node.holds(address))


@pytest.fixture
def dualstack_lab(before: Snapshot) -> Iterator[Lab]:
    with Lab(LabSpec(ENTRY)) as lab:
        yield lab
    after = snapshot()
    assert after.lab_processes == before.lab_processes, "a daemon outlived the lab"
    assert after.netns == before.netns


def elect(lab: Lab, engines: str) -> dict[str, VrrpNode]:
    nodes = start_vrrp(lab, CONFIGS, engines_for(engines, ENTRY.balancers))
    t1 = timing6("lb01")
    wait_for(
        "lb01 elected on both families",
        lambda: [holders(nodes, a) for a in (t1.vip, VIP4, EXCLUDED6)] == [["lb01"]] * 3,
        t1.master_down + 3.0,
    )
    return nodes


# lablb in both roles against keepalived, and against itself (keepalived against itself
# proves nothing about lablb, and the suite's time is short).
@pytest.mark.parametrize("engines", [p for p in PAIRS if p != "keepalived"])
def test_ipv6_election_and_crash_failover(dualstack_lab: Lab, engines: str) -> None:
    lab = dualstack_lab
    nodes = elect(lab, engines)
    t2 = timing6("lb02")
    for node in nodes.values():
        if node.engine.name == "lablb":
            assert node.events("reject") == [], node.events("reject")
            assert {e["address"] for e in node.events("na")} <= {str(t2.vip), str(EXCLUDED6)}
    o, crash = probe_fault(lab, nodes["lb01"], "crash", settle=t2.master_down + 1.0, vip=t2.vip)
    s = B.Slack.of([n.engine.name for n in nodes.values()], os.cpu_count() or 1)
    low, high = B.client_outage(
        "crash", B.Timing(t2.master_down, t2.skew, t2.advert_int), s, o.resolution
    )
    assert o.seconds is not None and low <= o.seconds <= high, (
        f"IPv6 crash outage {o.seconds} s not in [{low:.4f}, {high:.4f}]"
    )
    print(f"IPv6 crash outage ({engines}): {o.seconds * 1000:.1f} ms in "
          f"[{low * 1000:.1f}, {high * 1000:.1f}] ms")  # fmt: skip
    assert [holders(nodes, a) for a in (t2.vip, VIP4, EXCLUDED6)] == [["lb02"]] * 3
    crash.undo()
    t1 = timing6("lb01")
    wait_for("lb01 pre-empts", lambda: holders(nodes, t1.vip) == ["lb01"], t1.master_down + 5.0)


def test_tshark_reads_lablb_s_ipv6_adverts_and_nas(dualstack_lab: Lab) -> None:
    """lb01's IPv6 adverts to ff02::12: hop limit 255, traffic class 0xc0, from its
    link-local address, VRRPv3 with a checksum tshark finds good (IPv6 pseudo-header);
    and its unsolicited NAs for the VIP: Router and Override set, Solicited not, the
    target link-layer address lb01's MAC."""
    lab = dualstack_lab
    t1 = timing6("lb01")
    start_vrrp(lab, CONFIGS, {"lb01": "lablb"})
    mac = lab.run("lb01", ["cat", "/sys/class/net/eth0/address"]).stdout.strip()
    rows = tshark_rows(
        lab, lab.workdir / "na6.pcap", 1, "icmp6 and ip6[40] == 136",
        ["icmpv6.nd.na.target_address", "icmpv6.nd.na.flag.r", "icmpv6.nd.na.flag.s",
         "icmpv6.nd.na.flag.o", "icmpv6.opt.linkaddr", "ipv6.hlim", "ipv6.dst"],
    )  # fmt: skip
    ((target, r, solicited, override, linkaddr, hlim, dst),) = rows
    assert ip_address(target) in (t1.vip, EXCLUDED6)
    assert (r, solicited, override) == ("1", "0", "1") or (r, solicited, override) == (
        "True",
        "False",
        "True",
    ), rows
    assert linkaddr == mac and hlim == "255" and dst == "ff02::1"
    rows = tshark_rows(
        lab, lab.workdir / "adverts6.pcap", 3, "ip6 and ip6[6] == 112",
        ["ipv6.src", "ipv6.dst", "ipv6.hlim", "ipv6.tclass", "vrrp.version",
         "vrrp.virt_rtr_id", "vrrp.checksum.status", "vrrp.ipv6_addr"],
    )  # fmt: skip
    for src, dst, hlim, tclass, version, vrid, status, addrs in rows:
        assert ip_address(src).is_link_local and dst == "ff02::12" and hlim == "255"
        assert int(tclass, 0) == 0xC0 and version == "3" and vrid == "52"
        assert status == "1" and ip_address(addrs) == t1.vip, rows
