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
from lablb.config.model import v4_interface

WEBFARM_MAX = 64
PAIRS_MAX = 16
FIRST_WEB = 101  # web nodes from .101 (the seed's own addresses sit below)
FIRST_PAIR_VIP = 60  # pair i's VIP: .60 + i


def _lan_base(config: m.KeepalivedConfig) -> tuple[IPv4Interface, m.VrrpInstance]:
    inst = service_instance(config)
    if inst is None or not inst.virtual_ipaddress:
        raise ValueError("the template has no VRRP instance with a VIP")
    first = next(
        (
            v4_interface(a.interface)
            for a in inst.virtual_ipaddress
            if a.interface.network.prefixlen <= 30
        ),
        None,
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


FIRST_BALANCER = 20  # the seed's lb01 is .20, lb02 .21
SECOND_SERVICE_OFFSET = 1  # active-active: the second service VIP is the first + 1


def unicast(pair: dict[str, m.KeepalivedConfig], n: int = 2) -> dict[str, m.KeepalivedConfig]:
    """The pair on unicast: each balancer's ``unicast_src_ip`` (.20, .21, ... as in the
    seed) and the others as ``unicast_peer``; no multicast VRRP at all."""
    names = sorted(pair)
    if n != len(names):
        raise ValueError(f"unicast: the template has {len(names)} balancers, not {n}")
    lan, _inst = _lan_base(pair[names[0]])
    own = {name: _host(lan, FIRST_BALANCER + i) for i, name in enumerate(names)}
    out = {}
    for name in names:
        config = pair[name]
        _lan, inst = _lan_base(config)
        peers = tuple(own[o] for o in names if o != name)
        uni = dataclasses.replace(inst, unicast_src_ip=own[name], unicast_peer=peers)
        out[name] = dataclasses.replace(
            config,
            vrrp_instances=tuple(uni if i is inst else i for i in config.vrrp_instances),
        )
    return out


def active_active(pair: dict[str, m.KeepalivedConfig], n: int = 2) -> dict[str, m.KeepalivedConfig]:
    """Two instances and two services: the template's, mastered by its first balancer,
    and a second one (VRID + 1, its own VIPs, the next service address) that the second
    balancer masters, in front of the same web nodes."""
    names = sorted(pair)
    if n != 2 or len(names) != 2:
        raise ValueError("active-active: two balancers, two instances")
    out = {}
    for config in (pair[names[0]], pair[names[1]]):
        lan, inst = _lan_base(config)
        vs = config.virtual_servers[0]
        if vs.address is None:
            raise ValueError("active-active: the template's virtual server has no address")
        second_vip = vs.address + SECOND_SERVICE_OFFSET
        dev = inst.interface
        other = pair[names[1]] if config is pair[names[0]] else pair[names[0]]
        _l, other_inst = _lan_base(other)
        second = dataclasses.replace(
            inst,
            name="VI_2",
            virtual_router_id=(inst.virtual_router_id or 1) + 1,
            state="BACKUP" if inst.state == "MASTER" else "MASTER",
            priority=other_inst.priority,  # swapped: the other balancer's is the higher
            virtual_ipaddress=(
                m.VirtualAddress(
                    IPv4Interface(f"{_host(lan, FIRST_PAIR_VIP)}/{lan.network.prefixlen}"), dev=dev
                ),
                m.VirtualAddress(IPv4Interface(f"{second_vip}/32"), dev=dev),
            ),
        )
        out[names[0] if config is pair[names[0]] else names[1]] = dataclasses.replace(
            config,
            vrrp_instances=(*config.vrrp_instances, second),
            virtual_servers=(*config.virtual_servers, dataclasses.replace(vs, address=second_vip)),
        )
    return out
