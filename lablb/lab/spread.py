"""A lab spread over several servers: which server runs each host, and the VXLAN
segments that join one switch's ports across servers.

Pure: a topology's hosts (``lablb.lab.graph.describe``) and a list of servers in, a
``Spread`` out; nothing is started here. Each switch exists on every server that holds
one of its hosts (a Linux bridge there); where it spans servers, its copies are joined
by one VXLAN segment (one VNI per switch), so every host link stays a local veth, its
htb shaping kept, and only bridge-to-bridge traffic crosses the tunnel. A frame between
two hosts of one switch crosses it once if they are on different servers, never
otherwise.

Placement: by default (``--servers a,b[,...]``) the balancers, the router, the clients
and the mail sink go on the first server and the web farm is dealt round the others,
the split the seed argues for (balancers on one server, the web nodes on another); one
server holds everything. A placement file overrides it, a line per role or host::

    # role-or-host  server
    web     b
    web02   c

VXLAN's overhead on an IPv4 underlay is 50 bytes (outer Ethernet 14, IPv4 20, UDP 8,
VXLAN 8), so a spread lab's links get the underlay's MTU less 50: a frame that fits a
host's link fits the tunnel unfragmented.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lablb.errors import UsageError
from lablb.lab.graph import HostView

VXLAN_OVERHEAD = 14 + 20 + 8 + 8  # outer Ethernet, IPv4, UDP, VXLAN headers
VXLAN_PORT = 4789  # IANA's
VNI_BASE = 4200  # a lab's segments: VNI_BASE + the switch's index, sorted by name
FIRST_SERVER_ROLES = ("balancer", "router", "client", "mail")
SERVER_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.@_-]*[A-Za-z0-9])?$")  # ssh destinations


@dataclass(frozen=True)
class Segment:
    """One switch: the servers it has ports on, and its VNI where that is more than one."""

    switch: str
    vni: int
    servers: tuple[str, ...]

    @property
    def tunnelled(self) -> bool:
        return len(self.servers) > 1


@dataclass(frozen=True)
class Spread:
    servers: tuple[str, ...]
    placement: Mapping[str, str]  # host -> server
    segments: tuple[Segment, ...]
    mtu: int  # of every host link (the underlay's, less VXLAN's overhead if tunnelled)
    links: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # host -> switches

    def hosts_on(self, server: str) -> tuple[str, ...]:
        return tuple(sorted(h for h, s in self.placement.items() if s == server))

    def segment(self, switch: str) -> Segment:
        return next(s for s in self.segments if s.switch == switch)

    def crossings(self, path: Sequence[str]) -> int:
        """Tunnel crossings of a frame along ``path``, hosts in the order it reaches them
        (client, router, balancer, ...): one for each hop between two hosts of one
        switch on different servers."""
        out = 0
        for a, b in itertools.pairwise(path):
            shared = set(self.links.get(a, ())) & set(self.links.get(b, ()))
            if not shared:
                raise UsageError(f"{a} and {b} share no switch: not one hop")
            out += self.placement[a] != self.placement[b]
        return out


def parse_servers(text: str) -> tuple[str, ...]:
    """``--servers host1,host2[,...]``: ssh destinations, distinct, at least one."""
    names = tuple(n.strip() for n in text.split(","))
    bad = [n for n in names if not SERVER_NAME.match(n)]
    if bad or not names:
        raise UsageError(f"--servers {text!r}: {bad[0] if bad else 'empty'} is no server name")
    if len(set(names)) != len(names):
        raise UsageError(f"--servers {text!r}: a server is named twice")
    return names


def parse_placement(text: str, source: str = "placement") -> dict[str, str]:
    """A placement file: ``ROLE-OR-HOST SERVER`` per line, ``#`` comments."""
    out: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        words = raw.split("#", 1)[0].split()
        if not words:
            continue
        if len(words) != 2:
            got = raw.strip()
            raise UsageError(f"{source}:{number}: expected 'ROLE-OR-HOST SERVER', got {got!r}")
        if words[0] in out:
            raise UsageError(f"{source}:{number}: {words[0]} is placed twice")
        out[words[0]] = words[1]
    return out


def read_placement(path: Path) -> dict[str, str]:
    try:
        return parse_placement(path.read_text(), str(path))
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror}") from None


def spread(
    views: Sequence[HostView],
    servers: Sequence[str],
    placement: Mapping[str, str] | None = None,
    underlay_mtu: int = 1500,
) -> Spread:
    """Each host on its server (the placement file's word first, by host then by role;
    else the default split), each switch's segment, and the links' MTU."""
    servers = tuple(servers)
    if not servers:
        raise UsageError("a spread lab needs at least one server")
    wanted = dict(placement or {})
    roles = {v.role for v in views}
    names = {v.name for v in views}
    for key, server in wanted.items():
        if key not in names and key not in roles:
            raise UsageError(f"placement: {key} is neither a host nor a role of this topology")
        if server not in servers:
            raise UsageError(f"placement: {key} on {server}, which is not one of --servers")
    where: dict[str, str] = {}
    farm = servers[1:] or servers
    dealt = 0
    for v in sorted(views, key=lambda v: v.name):
        if v.name in wanted or v.role in wanted:
            where[v.name] = wanted.get(v.name) or wanted[v.role]
        elif v.role in FIRST_SERVER_ROLES or len(servers) == 1:
            where[v.name] = servers[0]
        else:
            where[v.name] = farm[dealt % len(farm)]
            dealt += 1
    links = {v.name: tuple(sorted({i.peer for i in v.interfaces})) for v in views}
    switches = sorted({sw for peers in links.values() for sw in peers} - names)
    segments = tuple(
        Segment(sw, VNI_BASE + n, tuple(s for s in servers
                                        if any(sw in links[h] and where[h] == s for h in where)))
        for n, sw in enumerate(switches)
    )  # fmt: skip
    tunnelled = any(s.tunnelled for s in segments)
    mtu = underlay_mtu - VXLAN_OVERHEAD if tunnelled else underlay_mtu
    if mtu < 1280:
        raise UsageError(f"an underlay MTU of {underlay_mtu} leaves {mtu} for the lab's links "
                         "(IPv6 needs 1280)")  # fmt: skip
    return Spread(servers, where, segments, mtu, links)


def tunnel_slack(crossings: int, one_way_s: float) -> float:
    """What a path's tunnel crossings add to a bound: each crossing's one-way delay, as
    measured between the servers (half the round trip of a frame across the segment)."""
    if crossings < 0 or one_way_s < 0:
        raise ValueError("crossings and delay are not negative")
    return crossings * one_way_s


def render_spread(sp: Spread) -> str:
    """The plan as ``lablb topo show --servers`` prints it."""
    lines = [f"spread over {len(sp.servers)} servers; host links' MTU {sp.mtu}"]
    for server in sp.servers:
        lines.append(f"  {server}: {', '.join(sp.hosts_on(server)) or '(nothing)'}")
    for seg in sp.segments:
        how = (f"VXLAN VNI {seg.vni} (UDP {VXLAN_PORT}) joins {', '.join(seg.servers)}"
               if seg.tunnelled else f"on {seg.servers[0]} only")  # fmt: skip
        lines.append(f"  switch {seg.switch}: {how}")
    return "\n".join(lines)
