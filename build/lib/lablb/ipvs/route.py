"""Where a frame goes next: the balancer's IPv4 routes, read once, and the longest
prefix match over them. Pure: ``ip -j route show`` output in, next hops out.

LVS-NAT's replies go to clients the forwarder learns only as they come, and LVS-TUN's
tunnels to real servers that may be routers away; asking the kernel (``ip route get``)
per packet would cost milliseconds a time. The forwarder reads the table at start
(routes in a lab do not change while it runs) and matches here.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from typing import Any

from lablb.errors import ConfigError


@dataclass(frozen=True)
class Route:
    net: IPv4Network
    dev: str
    gateway: IPv4Address | None = None
    src: IPv4Address | None = None  # the preferred source address (``prefsrc``)
    metric: int = 0


@dataclass(frozen=True)
class Hop:
    """Send out of ``dev`` to ``via`` (the gateway, or the destination itself), from
    ``src`` when the route names one."""

    dev: str
    via: IPv4Address
    src: IPv4Address | None


def routes_of(rows: list[dict[str, Any]]) -> list[Route]:
    """Routes from ``ip -j route show`` rows (IPv4 unicast; others skipped)."""
    out = []
    for r in rows:
        if r.get("type", "unicast") != "unicast" or "dev" not in r:
            continue
        dst = str(r.get("dst", ""))
        try:
            net = IPv4Network("0.0.0.0/0" if dst == "default" else dst, strict=False)
            gw = IPv4Address(r["gateway"]) if "gateway" in r else None
            src = IPv4Address(r["prefsrc"]) if "prefsrc" in r else None
        except ValueError:
            continue
        out.append(Route(net, str(r["dev"]), gw, src, int(r.get("metric", 0))))
    return out


def next_hop(routes: list[Route], dst: IPv4Address) -> Hop:
    """The longest prefix that holds ``dst`` (the lowest metric among equals);
    ConfigError when none does."""
    best = min(
        (r for r in routes if dst in r.net),
        key=lambda r: (-r.net.prefixlen, r.metric),
        default=None,
    )
    if best is None:
        raise ConfigError(f"no route to {dst} on this node")
    return Hop(best.dev, best.gateway or dst, best.src)
