"""A failover as the server LAN saw it, from the capture's frames. Pure.

The capture (tcpdump on r1's side of the server LAN, nanosecond kernel timestamps on
CLOCK_REALTIME, ``lablb.measure.pcap``) is the protocol's own record:

- ``takeover_s``: the old master's last advert, whenever it went out (a crash can fall
  just after one, or the old master may squeeze one out after the fault instant), to
  the new master's first; after a graceful stop, from the old master's priority-0
  advert. This is what RFC 3768/5798 section 6 promises: master_down (skew_time).
- the fault's confirmation: after a crash, ifdown or isolate no frame at all from the
  old master's MAC; after a graceful stop, its priority-0 advert; after a freeze, no
  more adverts from it.
- the new master's first gratuitous ARP, and who answered each probe: the source MAC of
  every echo reply (a balancer) and SYN-ACK (a web node, Direct Routing) on the LAN.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from lablb.measure.pcap import Frame


@dataclass(frozen=True)
class Takeover:
    """The protocol's part of a failover; instants on the capture's clock."""

    old: str  # old master's primary IP
    new: str | None  # the node whose adverts follow (None: nobody took over)
    reference: float | None  # old master's last advert, or its priority-0 advert
    first_new_advert: float | None
    first_garp: float | None  # from the new master, after the reference

    @property
    def seconds(self) -> float | None:
        if self.reference is None or self.first_new_advert is None:
            return None
        return self.first_new_advert - self.reference


def takeover(
    frames: Sequence[Frame], old_ip: str, new_macs: Mapping[str, str], graceful: bool, vrid: int
) -> Takeover:
    """From the old master's last advert (``graceful``: its priority-0 advert) to the
    first advert of anyone else for ``vrid``; ``new_macs`` maps the other balancers'
    MACs to their primary IPs (so their GARPs can be told apart)."""
    adverts = [f for f in frames if f.kind == "advert" and f.vrid == vrid]
    mine = [f for f in adverts if f.src_ip == old_ip]
    if graceful:
        ref = next((f.t for f in mine if f.priority == 0), None)
    else:
        ref = mine[-1].t if mine else None
    if ref is None:
        return Takeover(old_ip, None, None, None, None)
    first = next((f for f in adverts if f.t > ref and f.src_ip != old_ip), None)
    if first is None:
        return Takeover(old_ip, None, ref, None, None)
    garp = next(
        (
            f.t
            for f in frames
            if f.kind == "garp" and f.t >= ref and new_macs.get(f.src_mac) == first.src_ip
        ),
        None,
    )
    return Takeover(old_ip, first.src_ip, ref, first.t, garp)


def confirmation(
    frames: Sequence[Frame], macs: set[str], ip: str, kind: str, after: float
) -> tuple[bool, float | None]:
    """Does the capture confirm a fault that took effect at ``after``? ``kind``:
    "silent" (no frame from ``macs``), "goodbye" (a priority-0 advert from ``ip``),
    "no-adverts" (no advert from ``ip``). Also the instant of the last frame from the
    node after ``after`` (silent), its goodbye (goodbye) or last advert (no-adverts)."""
    later = [f for f in frames if f.t > after]
    if kind == "goodbye":
        bye = next(
            (f.t for f in later if f.kind == "advert" and f.src_ip == ip and f.priority == 0), None
        )
        return bye is not None, bye
    if kind == "no-adverts":
        mine = [f.t for f in later if f.kind == "advert" and f.src_ip == ip]
        return not mine, (mine[-1] if mine else None)
    from_node = [f.t for f in later if f.src_mac in macs]
    return not from_node, (from_node[-1] if from_node else None)


def responders(
    frames: Sequence[Frame], ident: int | None, macs: Mapping[str, str]
) -> dict[str, dict[int, str]]:
    """Per probe ("icmp", "tcp"): probe number -> the host that answered it (by source
    MAC; an unknown MAC is kept as is)."""
    out: dict[str, dict[int, str]] = {"icmp": {}, "tcp": {}}
    for f in frames:
        if f.number is None:
            continue
        if f.kind == "echo-reply" and f.ident == ident:
            out["icmp"].setdefault(f.number, macs.get(f.src_mac, f.src_mac))
        elif f.kind == "syn-ack":
            out["tcp"].setdefault(f.number, macs.get(f.src_mac, f.src_mac))
    return out


def runs(
    answered: Sequence[tuple[int, float]], who: Mapping[int, str], origin: float
) -> list[list[object]]:
    """Who answered, as [first, last, host] runs of answer instants relative to
    ``origin``, from (probe number, answer instant) in number order; a lost probe or a
    change of host starts a new run (probes the capture did not see are "?")."""
    out: list[list[object]] = []
    prev: int | None = None
    for n, t in answered:
        host = who.get(n, "?")
        rel = round(t - origin, 6)
        if out and out[-1][2] == host and prev is not None and n == prev + 1:
            out[-1][1] = rel
        else:
            out.append([rel, rel, host])
        prev = n
    return out
