"""The seed network, dual-stack: every host also has IPv6, and the balancers run an
IPv6 VRRPv3 instance beside the IPv4 one.

IPv6 uses the documentation prefix (RFC 3849): the server LAN is 2001:db8:30::/64 (the
same last digits as IPv4: lb01 ::20, lb02 ::21, web nodes ::23 and ::24, mx01 ::25,
r1 ::1), the clients 2001:db8:51::/64 behind r1, which forwards IPv6 too. The
``configs/dualstack`` set adds ``VI_6`` (VRID 52, the cluster address
2001:db8:30::22/64) and gives ``VI_1`` an IPv6 address in
``virtual_ipaddress_excluded`` (carried, not advertised: keepalived's way to move an
address of the other family with an instance).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

_spec = importlib.util.spec_from_file_location(
    "lablb_topologies_seed", Path(__file__).with_name("seed.py")
)
assert _spec is not None and _spec.loader is not None
_seed = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("lablb_topologies_seed", _seed)
_spec.loader.exec_module(_seed)

LAN6, CLIENTS6 = "2001:db8:30::", "2001:db8:51::"
LAST = {"lb01": 20, "lb02": 21, "web01": 23, "web02": 24, "mx01": 25, "cl01": 11, "cl02": 12}
# IPv6 on, and no duplicate address detection: in a lab of our own no address can be a
# duplicate, and DAD would hold a rebooted host's link-local address (the VRRP source)
# tentative for a second after its link comes back.
IPV6_ON = {
    "net.ipv6.conf.all.disable_ipv6": 0,
    "net.ipv6.conf.default.disable_ipv6": 0,
    "net.ipv6.conf.all.accept_dad": 0,
    "net.ipv6.conf.default.accept_dad": 0,
    "net.ipv6.conf.eth0.accept_dad": 0,
}


class DualstackTopo(_seed.SeedTopo):  # type: ignore[misc,name-defined]
    """The seed network with IPv6 everywhere (see the module's docstring)."""

    default_configs = "configs/dualstack"

    def build(self, bw: float = 1000, **opts: Any) -> None:
        super().build(bw=bw, **opts)
        for name, last in LAST.items():
            info = self.nodeInfo(name)
            client = name.startswith("cl")
            prefix = CLIENTS6 if client else LAN6
            info["addresses"] = [f"{prefix}{last}/64 dev eth0"]
            info["routes"] = [*info.get("routes", ()), f"default via {prefix}1"]
            info["sysctls"] = {**info.get("sysctls", {}), **IPV6_ON}
        r1 = self.nodeInfo("r1")
        r1["addresses"] = [f"{LAN6}1/64 dev eth0", f"{CLIENTS6}1/64 dev eth1"]
        r1["sysctls"] = {
            **r1.get("sysctls", {}),
            **IPV6_ON,
            "net.ipv6.conf.eth1.accept_dad": 0,
            "net.ipv6.conf.all.forwarding": 1,
        }


TOPOS = {"dualstack": DualstackTopo}
