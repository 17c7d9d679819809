"""A lab's plan spread over servers (``lablb.lab.spread``): placement by role and by
file, the switches' VXLAN segments, the links' MTU and a path's tunnel crossings, on
the seed topology as Mininet would read it. Pure: no server is touched."""

from __future__ import annotations

import pytest

from lablb.errors import UsageError
from lablb.lab import graph
from lablb.lab import spread as sp
from lablb.lab.registry import get


def seed_views() -> list[graph.HostView]:
    return graph.describe(get("seed").cls())


def test_the_default_split_puts_the_web_farm_on_its_own_server() -> None:
    s = sp.spread(seed_views(), ("alpha", "beta"))
    assert s.hosts_on("beta") == ("web01", "web02")
    assert set(s.hosts_on("alpha")) == {"lb01", "lb02", "r1", "mx01", "cl01", "cl02"}
    lan, clients = s.segment(s.links["web01"][0]), s.segment(s.links["cl01"][0])
    assert lan.tunnelled and lan.servers == ("alpha", "beta")
    assert not clients.tunnelled and clients.servers == ("alpha",)
    assert s.mtu == 1450  # 1500 less VXLAN's 50
    assert [seg.vni for seg in s.segments] == [sp.VNI_BASE, sp.VNI_BASE + 1]
    text = sp.render_spread(s)
    assert f"VXLAN VNI {lan.vni} (UDP 4789) joins alpha, beta" in text and "on alpha only" in text


def test_one_server_holds_everything_and_needs_no_tunnel() -> None:
    s = sp.spread(seed_views(), ("solo",))
    assert len(s.hosts_on("solo")) == len(seed_views())
    assert not any(seg.tunnelled for seg in s.segments) and s.mtu == 1500


def test_a_placement_file_overrides_by_host_then_by_role() -> None:
    placement = sp.parse_placement("# balancers apart\nbalancer b\nlb02 c\n\nweb a  # farm home\n")
    s = sp.spread(seed_views(), ("a", "b", "c"), placement)
    assert s.placement["lb01"] == "b" and s.placement["lb02"] == "c"
    assert s.placement["web01"] == s.placement["web02"] == "a"
    assert s.placement["r1"] == "a"  # not named: the default split
    # a VRRP advert lb01 -> lb02 crosses once; a request cl01 -> r1 -> lb01 -> web01 twice
    assert s.crossings(["lb01", "lb02"]) == 1
    assert s.crossings(["cl01", "r1", "lb01", "web01"]) == 2
    assert sp.tunnel_slack(2, 0.00005) == pytest.approx(0.0001)
    with pytest.raises(UsageError, match="share no switch"):
        s.crossings(["cl01", "web01"])


@pytest.mark.parametrize(
    ("servers", "placement", "error"),
    [
        ("a,,b", None, "is no server name"),
        ("a,b,a", None, "named twice"),
        ("a,b", "web z\n", "not one of --servers"),
        ("a,b", "dns a\n", "neither a host nor a role"),
        ("a,b", "web a b\n", "placement:1: expected"),
        ("a,b", "web a\nweb b\n", "placement:2: web is placed twice"),
    ],
)
def test_bad_servers_and_placements_are_one_line_errors(
    servers: str, placement: str | None, error: str
) -> None:
    with pytest.raises(UsageError, match=error):
        sp.spread(seed_views(), sp.parse_servers(servers),
                  sp.parse_placement(placement) if placement else None)  # fmt: skip


def test_an_underlay_too_small_for_the_tunnel_is_refused() -> None:
    with pytest.raises(UsageError, match="IPv6 needs 1280"):
        sp.spread(seed_views(), ("a", "b"), underlay_mtu=1300)
