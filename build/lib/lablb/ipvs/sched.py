"""Real-server schedulers with IPVS's names and rules (ipvsadm(8), keepalived's
``lvs_sched``). Pure: they read the destinations' weights and connection counts and
return a choice; nothing here knows about packets, sockets or clocks.

A destination with weight 0 is quiesced: never picked for a new connection (existing
connections are the connection table's business). Every scheduler returns None when no
destination can take the connection.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address

SH_TAB_SIZE = 256  # IPVS ip_vs_sh: 2^8 buckets
DH_TAB_SIZE = 256
MH_TAB_SIZE = 4093  # IPVS ip_vs_mh default (CONFIG_IP_VS_MH_TAB_INDEX=12), a prime


@dataclass
class Dest:
    """A real server as a scheduler sees it."""

    addr: IPv4Address
    port: int
    weight: int = 1
    active: int = 0  # established connections
    inactive: int = 0  # connections in any other state

    @property
    def key(self) -> tuple[IPv4Address, int]:
        return self.addr, self.port

    @property
    def overhead(self) -> int:
        """IPVS's load estimate: active connections weigh 256 times inactive ones."""
        return self.active * 256 + self.inactive


def _usable(dests: Sequence[Dest]) -> list[Dest]:
    return [d for d in dests if d.weight > 0]


def _hash32(addr: IPv4Address, salt: bytes = b"") -> int:
    """A stable 32-bit hash (the same in every process and on every balancer)."""
    return int.from_bytes(hashlib.blake2b(addr.packed, digest_size=4, key=salt).digest(), "big")


@dataclass
class RoundRobin:
    """rr: each usable destination in turn."""

    name = "rr"
    _last: tuple[IPv4Address, int] | None = None

    def pick(self, dests: Sequence[Dest], client: IPv4Address) -> Dest | None:
        ring = _usable(dests)
        if not ring:
            return None
        keys = [d.key for d in dests]
        start = keys.index(self._last) + 1 if self._last in keys else 0
        for i in range(len(dests)):
            d = dests[(start + i) % len(dests)]
            if d.weight > 0:
                self._last = d.key
                return d
        return None  # pragma: no cover - ring was not empty


@dataclass
class WeightedRoundRobin:
    """wrr: IPVS's interleaved weighted round robin (current weight stepped by the gcd)."""

    name = "wrr"
    _index: int = -1
    _cw: int = 0

    def pick(self, dests: Sequence[Dest], client: IPv4Address) -> Dest | None:
        weights = [d.weight for d in dests if d.weight > 0]
        if not weights:
            return None
        step, top = math.gcd(*weights), max(weights)
        for _ in range(len(dests) * (top // step + 1)):
            self._index = (self._index + 1) % len(dests)
            if self._index == 0:
                self._cw -= step
                if self._cw <= 0:
                    self._cw = top
            if dests[self._index].weight >= self._cw:
                return dests[self._index]
        return None  # pragma: no cover - a destination of the top weight always qualifies


def _least(dests: Sequence[Dest], cost: Callable[[Dest], float]) -> Dest | None:
    usable = _usable(dests)
    return min(usable, key=cost) if usable else None


@dataclass
class LeastConn:
    """lc: fewest connections (overhead); weights only matter as 0 or not."""

    name = "lc"

    def pick(self, dests: Sequence[Dest], client: IPv4Address) -> Dest | None:
        return _least(dests, lambda d: d.overhead)


@dataclass
class WeightedLeastConn:
    """wlc: smallest overhead / weight (keepalived's default scheduler)."""

    name = "wlc"

    def pick(self, dests: Sequence[Dest], client: IPv4Address) -> Dest | None:
        return _least(dests, lambda d: d.overhead / d.weight)


@dataclass
class ShortestExpectedDelay:
    """sed: smallest (active + 1) / weight."""

    name = "sed"

    def pick(self, dests: Sequence[Dest], client: IPv4Address) -> Dest | None:
        return _least(dests, lambda d: (d.active + 1) / d.weight)


@dataclass
class NeverQueue:
    """nq: an idle destination if there is one, else as sed."""

    name = "nq"

    def pick(self, dests: Sequence[Dest], client: IPv4Address) -> Dest | None:
        idle = [d for d in _usable(dests) if d.active == 0]
        if idle:
            return idle[0]
        return ShortestExpectedDelay().pick(dests, client)


@dataclass
class Failover:
    """fo: the usable destination with the highest weight (first on a tie)."""

    name = "fo"

    def pick(self, dests: Sequence[Dest], client: IPv4Address) -> Dest | None:
        usable = _usable(dests)
        return max(usable, key=lambda d: d.weight) if usable else None


def _weighted_table(dests: Sequence[Dest], size: int) -> list[Dest | None]:
    """IPVS sh/dh: buckets filled round the ring, each destination ``weight`` times."""
    usable = sorted(_usable(dests), key=lambda d: d.key)
    if not usable:
        return [None] * size
    table: list[Dest | None] = []
    while len(table) < size:
        for d in usable:
            table += [d] * d.weight
    return table[:size]


@dataclass
class SourceHash:
    """sh: the client address hashed onto a weighted table (client affinity)."""

    name = "sh"

    def pick(self, dests: Sequence[Dest], client: IPv4Address) -> Dest | None:
        return _weighted_table(dests, SH_TAB_SIZE)[_hash32(client) % SH_TAB_SIZE]


@dataclass
class DestHash:
    """dh: the destination address hashed (for a VIP, every client gets the same)."""

    name = "dh"
    vip: IPv4Address = field(default_factory=lambda: IPv4Address(0))

    def pick(self, dests: Sequence[Dest], client: IPv4Address) -> Dest | None:
        return _weighted_table(dests, DH_TAB_SIZE)[_hash32(self.vip) % DH_TAB_SIZE]


def maglev_table(dests: Sequence[Dest], size: int = MH_TAB_SIZE) -> list[Dest | None]:
    """Maglev consistent hashing (Eisenbud et al., NSDI 2016, section 3.4), weighted by
    turns per round as IPVS's mh does. Built from the sorted destinations with stable
    hashes, so two balancers that build it independently get the same table."""
    usable = sorted(_usable(dests), key=lambda d: d.key)
    if not usable:
        return [None] * size
    step = math.gcd(*(d.weight for d in usable))
    perms = []
    for d in usable:
        name = d.addr.packed + d.port.to_bytes(2, "big")
        offset = int.from_bytes(hashlib.blake2b(name, digest_size=4, key=b"off").digest(), "big")
        skip = int.from_bytes(hashlib.blake2b(name, digest_size=4, key=b"skip").digest(), "big")
        perms.append((offset % size, skip % (size - 1) + 1))
    table: list[Dest | None] = [None] * size
    nexts = [0] * len(usable)
    filled = 0
    while True:
        for i, d in enumerate(usable):
            for _turn in range(d.weight // step):
                offset, skip = perms[i]
                slot = (offset + nexts[i] * skip) % size
                while table[slot] is not None:
                    nexts[i] += 1
                    slot = (offset + nexts[i] * skip) % size
                table[slot] = d
                nexts[i] += 1
                filled += 1
                if filled == size:
                    return table


@dataclass
class MaglevHash:
    """mh: Maglev hashing of the client address; the table is rebuilt when the set of
    usable destinations or their weights change."""

    name = "mh"
    size: int = MH_TAB_SIZE
    _built_for: tuple[tuple[IPv4Address, int, int], ...] = ()
    _table: list[Dest | None] = field(default_factory=list)

    def pick(self, dests: Sequence[Dest], client: IPv4Address) -> Dest | None:
        shape = tuple(sorted((d.addr, d.port, d.weight) for d in dests if d.weight > 0))
        if shape != self._built_for or not self._table:
            self._table = maglev_table(dests, self.size)
            self._built_for = shape
        chosen = self._table[_hash32(client, b"client") % self.size]
        if chosen is None:
            return None
        return next((d for d in dests if d.key == chosen.key), None)


Scheduler = (
    RoundRobin
    | WeightedRoundRobin
    | LeastConn
    | WeightedLeastConn
    | ShortestExpectedDelay
    | NeverQueue
    | Failover
    | SourceHash
    | DestHash
    | MaglevHash
)
SCHEDULERS: dict[str, type[Scheduler]] = {
    cls.name: cls
    for cls in (
        RoundRobin,
        WeightedRoundRobin,
        LeastConn,
        WeightedLeastConn,
        ShortestExpectedDelay,
        NeverQueue,
        Failover,
        SourceHash,
        DestHash,
        MaglevHash,
    )
}


def scheduler(name: str, vip: IPv4Address | None = None) -> Scheduler:
    """A scheduler by its IPVS name; ValueError names the known ones."""
    try:
        cls = SCHEDULERS[name]
    except KeyError:
        raise ValueError(f"unknown scheduler {name!r}; known: {', '.join(SCHEDULERS)}") from None
    if cls is DestHash and vip is not None:
        return DestHash(vip=vip)
    return cls()
