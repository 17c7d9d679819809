"""A virtual service's forwarding decisions: connection table, persistence, scheduling.
Pure: packets come in as ``Flow`` plus TCP flags and ``now``; decisions go out.

What IPVS does for a virtual service, seen from the balancer, which decides on the
client-to-server half of each connection (LVS-NAT's replies are only looked up:
``reply`` finds the connection a real server's packet answers):

- a packet of a known connection goes to that connection's real server, even if the
  server has since been quiesced (weight 0);
- a new TCP connection starts only with a SYN (a stray segment of an unknown connection
  is dropped, which is what a backup without connection sync does after a failover);
- with ``persistence_timeout``, a client's new connections go where its last one went,
  while the persistence template lives (expiring ``persistence_timeout`` seconds after
  its last connection was used) and the server is neither removed nor quiesced;
- connection states and timeouts follow IPVS's defaults (``ipvsadm --timeout``: TCP
  900 s, FIN 120 s, UDP 300 s).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from ipaddress import IPv4Address

from lablb.ipvs.sched import Dest, Scheduler, scheduler

TCP, UDP = 6, 17
SYN, FIN, RST, ACK = 0x02, 0x01, 0x04, 0x10


class ConnState(Enum):
    SYN_RECV = "SYN_RECV"
    ESTABLISHED = "ESTABLISHED"
    FIN_WAIT = "FIN_WAIT"
    CLOSE = "CLOSE"
    UDP = "UDP"


TIMEOUTS = {  # seconds; IPVS defaults (ip_vs_proto_tcp.c, ipvsadm --timeout)
    ConnState.SYN_RECV: 60.0,
    ConnState.ESTABLISHED: 900.0,
    ConnState.FIN_WAIT: 120.0,
    ConnState.CLOSE: 10.0,
    ConnState.UDP: 300.0,
}


@dataclass(frozen=True)
class Flow:
    """The client-to-server half of one connection."""

    proto: int
    client: IPv4Address
    cport: int
    vip: IPv4Address
    vport: int


@dataclass
class Conn:
    flow: Flow
    dest: tuple[IPv4Address, int]
    state: ConnState
    expires: float
    packets: int = 0
    bytes: int = 0


@dataclass
class Template:
    """Persistence: where this client's connections to this service go."""

    dest: tuple[IPv4Address, int]
    expires: float


def next_state(state: ConnState | None, proto: int, flags: int) -> ConnState:
    """IPVS's input-only TCP state table, reduced to what the balancer can see."""
    if proto != TCP:
        return ConnState.UDP
    if flags & RST:
        return ConnState.CLOSE
    if flags & FIN:
        return ConnState.FIN_WAIT
    if flags & SYN and not flags & ACK:
        return ConnState.SYN_RECV if state in (None, ConnState.SYN_RECV) else state
    if state in (None, ConnState.SYN_RECV, ConnState.ESTABLISHED):
        return ConnState.ESTABLISHED
    return state


@dataclass
class Decision:
    """Forward to ``dest`` (None: drop), and why; ``new`` marks a new connection."""

    dest: tuple[IPv4Address, int] | None
    reason: str
    new: bool = False


@dataclass
class Service:
    """One ``virtual_server`` block's forwarding state."""

    vip: IPv4Address
    port: int
    proto: int = TCP
    sched_name: str = "wlc"
    persistence: float | None = None
    dests: dict[tuple[IPv4Address, int], Dest] = field(default_factory=dict)
    conns: dict[Flow, Conn] = field(default_factory=dict)
    templates: dict[IPv4Address, Template] = field(default_factory=dict)
    sched: Scheduler | None = None
    answered: bool = False  # LVS-NAT: the real servers' replies are looked up (``reply``)
    # ... by (proto, real server, its port, client, client port) -> flow; kept only then
    replies: dict[tuple[int, IPv4Address, int, IPv4Address, int], Flow] = field(
        default_factory=dict
    )

    def __post_init__(self) -> None:
        if self.sched is None:
            self.sched = scheduler(self.sched_name, self.vip)

    def serves(self, flow: Flow) -> bool:
        """Is ``flow`` addressed to this service (VIP, port and protocol)?"""
        return (flow.vip, flow.vport, flow.proto) == (self.vip, self.port, self.proto)

    # -- real servers (checkers and configuration drive these) -----------------------------
    def set_dest(self, addr: IPv4Address, port: int, weight: int) -> None:
        d = self.dests.get((addr, port))
        if d is None:
            self.dests[(addr, port)] = Dest(addr, port, weight)
        else:
            d.weight = weight

    def remove_dest(self, addr: IPv4Address, port: int) -> None:
        """Removed: new connections go elsewhere; existing ones keep their server until
        they expire, as with ``ipvsadm -d`` (the server may still answer them)."""
        self.dests.pop((addr, port), None)

    # -- packets --------------------------------------------------------------------------
    def packet(self, now: float, flow: Flow, flags: int = 0, size: int = 0) -> Decision:
        conn = self.conns.get(flow)
        if conn is not None and conn.expires <= now:
            self._drop_conn(flow)
            conn = None
        if conn is None:
            if flow.proto == TCP and not (flags & SYN and not flags & ACK):
                return Decision(None, "no connection (not a SYN)")
            dest = self._choose(now, flow.client)
            if dest is None:
                return Decision(None, "no real server available")
            conn = Conn(flow, dest.key, next_state(None, flow.proto, flags), 0.0)
            self._add_conn(conn)
            new = True
        else:
            old = conn.state
            conn.state = next_state(old, flow.proto, flags)
            if conn.state is not old:
                self._recount(conn, old)
            new = False
        conn.expires = now + TIMEOUTS[conn.state]
        conn.packets += 1
        conn.bytes += size
        if self.persistence is not None:
            self.templates[flow.client] = Template(conn.dest, now + self.persistence)
        return Decision(conn.dest, "new connection" if new else "connection", new)

    def _choose(self, now: float, client: IPv4Address) -> Dest | None:
        if self.persistence is not None:
            t = self.templates.get(client)
            if t is not None and t.expires > now:
                d = self.dests.get(t.dest)
                if d is not None and d.weight > 0:
                    return d
            self.templates.pop(client, None)
        assert self.sched is not None
        return self.sched.pick(list(self.dests.values()), client)

    def expire(self, now: float) -> int:
        """Forget expired connections and templates; how many connections went."""
        gone = [f for f, c in self.conns.items() if c.expires <= now]
        for f in gone:
            self._drop_conn(f)
        for client in [c for c, t in self.templates.items() if t.expires <= now]:
            del self.templates[client]
        return len(gone)

    def reply(
        self, now: float, proto: int, src: tuple[IPv4Address, int], dst: tuple[IPv4Address, int]
    ) -> Conn | None:
        """The live connection a real server's packet ``src`` -> ``dst`` answers (LVS-NAT
        rewrites it back to the VIP), None if it answers none (a health check's reply,
        say, which is the balancer's own)."""
        flow = self.replies.get((proto, *src, *dst))
        conn = self.conns.get(flow) if flow is not None else None
        return conn if conn is not None and conn.expires > now else None

    def _add_conn(self, conn: Conn) -> None:
        self.conns[conn.flow] = conn
        f = conn.flow
        if self.answered:
            self.replies[(f.proto, *conn.dest, f.client, f.cport)] = f
        self._count(conn, +1)

    def _drop_conn(self, flow: Flow) -> None:
        conn = self.conns.pop(flow)
        self.replies.pop((flow.proto, *conn.dest, flow.client, flow.cport), None)
        self._count(conn, -1)

    def _count(self, conn: Conn, delta: int) -> None:
        d = self.dests.get(conn.dest)
        if d is None:
            return
        if conn.state is ConnState.ESTABLISHED:
            d.active += delta
        else:
            d.inactive += delta

    def _recount(self, conn: Conn, old: ConnState) -> None:
        state, conn.state = conn.state, old
        self._count(conn, -1)
        conn.state = state
        self._count(conn, +1)

    # -- connection sync (the backup side) --------------------------------------------------
    def adopt(
        self,
        now: float,
        flow: Flow,
        dest: tuple[IPv4Address, int],
        state: ConnState,
        timeout: float,
    ) -> None:
        """A connection the master reported: the backup will forward it the same way."""
        old = self.conns.get(flow)
        if old is not None:
            self._drop_conn(flow)
        self._add_conn(Conn(flow, dest, state, now + timeout))
        if self.persistence is not None:
            self.templates[flow.client] = Template(dest, now + self.persistence)
