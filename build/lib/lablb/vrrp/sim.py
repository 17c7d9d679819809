"""An in-memory LAN with a fake clock for VRRP engines. Pure and deterministic.

Used by the component tests and the notebooks: several ``Engine`` s share one segment;
adverts go through the real codec (encode, then ``decode_ipv4``-equivalent checks), are
delivered after ``latency`` seconds, and the clock jumps straight to the next event, so
minutes of protocol run in milliseconds. Nodes can crash (vanish without a word), stop
gracefully (priority 0), or lose their interface. The log of state changes is what tests
and plots read.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from ipaddress import IPv4Address

from lablb.vrrp.engine import Engine, Out
from lablb.vrrp.fsm import AddVips, RemoveVips, Send, State, Transition
from lablb.vrrp.packet import VRRP_GROUP, Address, Advert


@dataclass(frozen=True)
class Change:
    """One logged state change."""

    time: float
    node: str
    instance: str
    old: State
    new: State
    reason: str


@dataclass(order=True)
class _Delivery:
    time: float
    seq: int
    sender: str = field(compare=False)
    source: IPv4Address = field(compare=False)
    interface: str = field(compare=False)
    wire: bytes = field(compare=False)


@dataclass
class Lan:
    """One broadcast segment. Every node's instances live on ``interface``."""

    latency: float = 0.001
    interface: str = "eth0"
    now: float = 0.0
    engines: dict[str, Engine] = field(default_factory=dict)
    sources: dict[str, IPv4Address] = field(default_factory=dict)
    vips: dict[str, set[Address]] = field(default_factory=dict)
    log: list[Change] = field(default_factory=list)
    sent: list[tuple[float, str, Advert]] = field(default_factory=list)
    _queue: list[_Delivery] = field(default_factory=list)
    _seq: int = 0

    def add(self, node: str, engine: Engine, source: IPv4Address) -> None:
        self.engines[node] = engine
        self.sources[node] = source
        self.vips[node] = set()
        self._apply(node, engine.start(self.now))

    def crash(self, node: str) -> None:
        """The node dies: no goodbye, and its addresses go with it."""
        del self.engines[node]
        self.vips[node] = set()

    def stop(self, node: str) -> None:
        """Graceful stop: priority-0 adverts go out, then the node leaves."""
        self._apply(node, self.engines[node].stop(self.now))
        del self.engines[node]

    def link(self, node: str, up: bool) -> None:
        self._apply(node, self.engines[node].track_interface(self.now, self.interface, up))

    def run(self, until: float) -> None:
        """Advance the clock to ``until``, handling every timer and delivery on the way."""
        while True:
            times = [e.deadline() for e in self.engines.values()]
            next_timer = min((t for t in times if t is not None), default=None)
            next_pkt = self._queue[0].time if self._queue else None
            step = min((t for t in (next_timer, next_pkt) if t is not None), default=None)
            if step is None or step > until:
                self.now = until
                return
            self.now = max(self.now, step)
            if next_pkt is not None and next_pkt <= self.now:
                self._deliver(heapq.heappop(self._queue))
                continue
            for node, engine in list(self.engines.items()):
                self._apply(node, engine.expire(self.now))

    def state(self, node: str, instance: str) -> State:
        return self.engines[node].routers[instance].state

    def masters(self, instance: str) -> list[str]:
        return sorted(
            n for n, e in self.engines.items() if e.routers[instance].state is State.MASTER
        )

    def holders(self, vip: IPv4Address) -> list[str]:
        return sorted(n for n, held in self.vips.items() if vip in held)

    def _deliver(self, d: _Delivery) -> None:
        for node, engine in list(self.engines.items()):
            if node == d.sender or node not in self.engines:
                continue
            advert = Advert.decode(d.wire, d.source, VRRP_GROUP)
            self._apply(node, engine.receive(self.now, d.interface, d.source, advert))

    def _apply(self, node: str, out: list[Out]) -> None:
        for instance, action in out:
            if isinstance(action, Send):
                src = self.sources[node]
                self.sent.append((self.now, node, action.advert))
                self._seq += 1
                wire = action.advert.encode(src, VRRP_GROUP)
                heapq.heappush(
                    self._queue,
                    _Delivery(self.now + self.latency, self._seq, node, src, self.interface, wire),
                )
            elif isinstance(action, AddVips):
                self.vips[node] |= set(action.vips)
            elif isinstance(action, RemoveVips):
                self.vips[node] -= set(action.vips)
            elif isinstance(action, Transition):
                self.log.append(
                    Change(self.now, node, instance, action.old, action.new, action.reason)
                )
