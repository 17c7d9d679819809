"""Config sets for larger labs, made from the seed's as model edits. Pure.

- ``webfarm(pair, n)``: the pair in front of ``n`` web nodes (real servers .101 up);
- ``multi_pair(pair, k)``: ``k`` balancer pairs on one LAN, each its own VRID and VIP;
  the first keeps the service, the others run VRRP only (their adverts share the LAN).

``lablb topo make KIND N DIR`` writes one (rendered, ``lablb.config.render``); ``lablb
run SCENARIO --configs DIR`` then runs on the topology it implies (``lablb.lab.plan``).
"""

from __future__ import annotations

import dataclasses
from ipaddress import IPv4Address, IPv4Interface

from lablb.config import model as m
from lablb.config.edit import service_instance

WEBFARM_MAX = 64
PAIRS_MAX = 16
FIRST_WEB = 101  # web nodes from .101 (the seed's own addresses sit below)
FIRST_PAIR_VIP = 60  # pair i's VIP: .60 + i


def _lan_base(config: m.KeepalivedConfig) -> tuple[IPv4Interface, m.VrrpInstance]:
    inst = service_instance(config)
    if inst is None or not inst.virtual_ipaddress:
        raise ValueError("the template has no VRRP instance with a VIP")
    first = next(
        (a.interface for a in inst.virtual_ipaddress if a.interface.network.prefixlen <= 30), None
    )
    if first is None:
        raise ValueError("the template's VIPs carry no subnet prefix")
    return first, inst


def _host(lan: IPv4Interface, last: int) -> IPv4Address:
    return lan.network.network_address + last


def webfarm(pair: dict[str, m.KeepalivedConfig], n: int) -> dict[str, m.KeepalivedConfig]:
    """The pair with each virtual server balancing ``n`` web nodes, the real servers
    cloned from the template's first (its checkers included)."""
    if not 2 <= n <= WEBFARM_MAX:
        raise ValueError(f"webfarm: 2 to {WEBFARM_MAX} web nodes, not {n}")
    out = {}
    for name, config in pair.items():
        lan, _inst = _lan_base(config)
        servers = []
        for vs in config.virtual_servers:
            template = vs.real_servers[0]
            rss = tuple(
                dataclasses.replace(template, address=_host(lan, FIRST_WEB + i)) for i in range(n)
            )
            servers.append(dataclasses.replace(vs, real_servers=rss))
        out[name] = dataclasses.replace(config, virtual_servers=tuple(servers))
    return out


def multi_pair(pair: dict[str, m.KeepalivedConfig], k: int) -> dict[str, m.KeepalivedConfig]:
    """``k`` pairs: the template pair as the first (``lb01``, ``lb02``), then ``lb03`` and
    ``lb04`` with VRID + 1 and VIP .61, and so on; VRRP only beyond the first."""
    if not 1 <= k <= PAIRS_MAX:
        raise ValueError(f"multi-pair: 1 to {PAIRS_MAX} pairs, not {k}")
    names = sorted(pair)
    if len(names) != 2:
        raise ValueError("multi-pair needs a template pair (two files)")
    out: dict[str, m.KeepalivedConfig] = {}
    for i in range(k):
        for j, name in enumerate(names):
            config = pair[name]
            node = f"lb{2 * i + j + 1:02d}"
            if i == 0:
                out[node] = config
                continue
            lan, inst = _lan_base(config)
            vip = m.VirtualAddress(
                IPv4Interface(f"{_host(lan, FIRST_PAIR_VIP + i)}/{lan.network.prefixlen}"),
                dev=inst.interface,
            )
            own = dataclasses.replace(
                inst,
                name=f"VI_{i + 1}",
                virtual_router_id=(inst.virtual_router_id or 1) + i,
                virtual_ipaddress=(vip,),
                smtp_alert=False,
            )
            out[node] = dataclasses.replace(
                config,
                global_defs=dataclasses.replace(config.global_defs, router_id=node.upper()),
                vrrp_instances=(own,),
                virtual_servers=(),
                vrrp_sync_groups=(),
            )
    return out
