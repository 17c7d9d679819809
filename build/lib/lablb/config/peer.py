"""The peer of a balancer, derived from its one keepalived.conf, as deployments derive it.

Pure: a ``KeepalivedConfig`` in, the other node's ``KeepalivedConfig`` out, with one
line per change saying what was derived (``Derived``). A network team keeps one file,
the master's; the backup runs the same file with these differences, and nothing else:

- an instance the file makes MASTER is BACKUP on the peer, at the next lower priority
  (an address owner's 255 becomes 254); when the file also has BACKUP instances (an
  active-active pair: each node the master of some), those are MASTER on the peer at
  the next higher priority (at most 254). A file whose instances are all BACKUP (the
  ``nopreempt`` style) keeps them BACKUP, one priority lower;
- unicast: the peer sends from the file's first ``unicast_peer`` and lists the file's
  ``unicast_src_ip`` in its place (the other peers stay). A file that gives no
  ``unicast_src_ip`` sends from its interface's address, which the lab chooses: the
  peer then lists ``unicast_peer_for`` (the lowest address of the instance's LAN that
  the file names nowhere, which ``lablb.lab.plan`` gives that node);
- ``router_id`` gains ``-peer`` (it names the node in logs and mail).

Everything else (VIPs, virtual servers, checkers, scripts, sync groups, the sync
daemon) is the same file's, as it is on a real pair. It must not read files or know
about hosts: the lab layer names the nodes and writes the result.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, ip_address

from lablb.config import model as m

MAX_PRIORITY = 254  # RFC 3768 section 5.3.4: 255 is the address owner's alone
MIN_PRIORITY = 1


@dataclass(frozen=True)
class Derived:
    """One difference between the file and its derived peer, said to the user."""

    instance: str | None
    what: str

    def __str__(self) -> str:
        return f"{self.instance}: {self.what}" if self.instance else self.what


def unicast_peer_for(config: m.KeepalivedConfig, inst: m.VrrpInstance) -> IPv4Address | None:
    """The address the lab gives a node whose instance ``inst`` sends unicast without a
    ``unicast_src_ip``: the lowest host of the LAN of its first VIP with a prefix that
    ``config`` names nowhere (VIPs, peers, real servers, SMTP server). None when the
    instance is not unicast, names its source, or no LAN is known."""
    if not inst.unicast_peer or inst.unicast_src_ip is not None:
        return None
    lan = next(
        (
            a.interface.network
            for a in (*inst.virtual_ipaddress, *inst.virtual_ipaddress_excluded)
            if isinstance(a.interface.network, IPv4Network) and a.interface.network.prefixlen <= 30
        ),
        None,
    )
    if lan is None:
        return None
    named: set[object] = {
        a.interface.ip
        for i in config.vrrp_instances
        for a in (*i.virtual_ipaddress, *i.virtual_ipaddress_excluded)
    }
    named |= {p for i in config.vrrp_instances for p in i.unicast_peer}
    named |= {rs.address for vs in config.virtual_servers for rs in vs.real_servers}
    smtp = config.global_defs.smtp_server
    if smtp is not None:
        named.add(ip_address(smtp.address))
    # The lab's router takes the lowest free address first (``lablb.lab.plan``): skip it.
    free = (a for a in lan.hosts() if a not in named)
    next(free, None)
    return next(free, None)


def derive_peer(config: m.KeepalivedConfig) -> tuple[m.KeepalivedConfig, list[Derived]]:
    """The peer of ``config``'s node and what was derived (see the module's rules)."""
    said: list[Derived] = []
    masters = [i for i in config.vrrp_instances if i.state == "MASTER"]
    mirror = bool(masters) and len(masters) < len(config.vrrp_instances)

    def one(inst: m.VrrpInstance) -> m.VrrpInstance:
        if inst.state == "MASTER" or not mirror:
            state: str = "BACKUP"
            priority = max(MIN_PRIORITY, min(inst.priority - 1, MAX_PRIORITY))
        else:
            state = "MASTER"
            priority = min(MAX_PRIORITY, inst.priority + 1)
        changes = []
        if state != inst.state:
            changes.append(f"state {inst.state} -> {state}")
        if priority != inst.priority:
            changes.append(f"priority {inst.priority} -> {priority}")
        src, peers = inst.unicast_src_ip, inst.unicast_peer
        if peers:
            mine = src if src is not None else unicast_peer_for(config, inst)
            new_src = peers[0]
            new_peers = tuple(p for p in ((mine,) if mine is not None else ()) + peers[1:])
            changes.append(
                f"unicast_src_ip {new_src}, unicast_peer {' '.join(map(str, new_peers))}"
                + ("" if src is not None else f" (this node's address in the lab: {mine})")
            )
            src, peers = new_src, new_peers
        said.append(Derived(inst.name, ", ".join(changes) or "unchanged"))
        return dataclasses.replace(
            inst,
            state=state,  # type: ignore[arg-type]
            priority=priority,
            unicast_src_ip=src,
            unicast_peer=peers,
        )

    peer = dataclasses.replace(config, vrrp_instances=tuple(one(i) for i in config.vrrp_instances))
    rid = config.global_defs.router_id
    if rid:
        gd = dataclasses.replace(config.global_defs, router_id=f"{rid}-peer")
        peer = dataclasses.replace(peer, global_defs=gd)
        said.append(Derived(None, f"router_id {rid} -> {rid}-peer"))
    return peer, said
