"""The forwarder's route lookup (``lablb.ipvs.route``) on ``ip -j route show`` rows."""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest

from lablb.errors import ConfigError
from lablb.ipvs.route import Hop, next_hop, routes_of

ROWS = [
    {"dst": "default", "gateway": "10.0.0.1", "dev": "eth0", "flags": []},
    {"dst": "10.0.0.0/24", "dev": "eth0", "protocol": "kernel", "prefsrc": "10.0.0.2"},
    {"dst": "192.168.10.0/24", "dev": "eth1", "prefsrc": "192.168.10.1"},
    {"dst": "192.168.10.128/25", "dev": "eth2", "metric": 5},
    {"dst": "192.168.10.128/25", "dev": "eth3", "metric": 1},
    {"type": "blackhole", "dst": "203.0.113.0/24"},
    {"dst": "fe80::/64", "dev": "eth0"},
]


@pytest.mark.parametrize(
    ("dst", "hop"),
    [
        ("198.51.100.7", Hop("eth0", IPv4Address("10.0.0.1"), None)),
        ("10.0.0.9", Hop("eth0", IPv4Address("10.0.0.9"), IPv4Address("10.0.0.2"))),
        ("192.168.10.11", Hop("eth1", IPv4Address("192.168.10.11"), IPv4Address("192.168.10.1"))),
        ("192.168.10.200", Hop("eth3", IPv4Address("192.168.10.200"), None)),
    ],
)
def test_longest_prefix_then_lowest_metric(dst: str, hop: Hop) -> None:
    assert next_hop(routes_of(ROWS), IPv4Address(dst)) == hop


def test_no_route_is_an_error_naming_the_address() -> None:
    with pytest.raises(ConfigError, match=r"no route to 203\.0\.113\.5"):
        next_hop(routes_of(ROWS[1:]), IPv4Address("203.0.113.5"))
