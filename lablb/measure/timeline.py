"""The protocol timeline of a capture: adverts by sender (with priority), gratuitous
ARPs, in time order. Pure apart from reading the pcap with scapy."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Event:
    t: float  # pcap timestamp (wall clock)
    kind: str  # "advert" | "garp" | "echo-reply"
    source: str
    detail: str


def read_events(pcap: Path) -> list[Event]:
    from scapy.layers.inet import ICMP, IP
    from scapy.layers.l2 import ARP
    from scapy.layers.vrrp import VRRP, VRRPv3
    from scapy.utils import PcapReader

    out: list[Event] = []
    if not pcap.exists() or pcap.stat().st_size == 0:
        return out
    with PcapReader(str(pcap)) as reader:
        for pkt in reader:
            t = float(pkt.time)
            if pkt.haslayer(VRRP) or pkt.haslayer(VRRPv3):
                layer = pkt[VRRP] if pkt.haslayer(VRRP) else pkt[VRRPv3]
                out.append(Event(t, "advert", pkt[IP].src, f"priority {layer.priority}"))
            elif pkt.haslayer(ARP) and pkt[ARP].psrc == pkt[ARP].pdst and pkt[ARP].op == 1:
                out.append(Event(t, "garp", pkt[ARP].hwsrc, pkt[ARP].psrc))
            elif pkt.haslayer(ICMP) and pkt[ICMP].type == 0:
                # An echo reply on the server LAN: its source MAC is whoever answered.
                out.append(Event(t, "echo-reply", pkt.src, pkt[IP].src))
    return out


def around(
    events: list[Event], at: float, before: float = 5.0, after: float = 10.0
) -> dict[str, float | None]:
    """Around a fault at wall time ``at``: the last advert before it per sender, the
    first advert of another sender after it, and the first GARP after it (seconds
    relative to ``at``)."""
    adverts_before = [e for e in events if e.kind == "advert" and at - before <= e.t <= at]
    old = adverts_before[-1].source if adverts_before else None
    first_new = next(
        (
            e
            for e in events
            if e.kind == "advert" and e.t > at and e.source != old and e.t <= at + after
        ),
        None,
    )
    garp = next((e for e in events if e.kind == "garp" and e.t > at and e.t <= at + after), None)
    return {
        "last_advert_before_s": (adverts_before[-1].t - at) if adverts_before else None,
        "first_new_advert_s": (first_new.t - at) if first_new else None,
        "first_garp_s": (garp.t - at) if garp else None,
    }


def responders(
    events: list[Event], macs: dict[str, str], at: float, address: str
) -> list[list[float | str]]:
    """Who answered the probe, as [start, end, node] runs relative to ``at`` (wall time
    of the fault), from the echo replies for ``address`` and each node's MAC."""
    runs: list[list[float | str]] = []
    for e in events:
        if e.kind != "echo-reply" or e.detail != address:
            continue
        who = macs.get(e.source.lower(), e.source)
        t = round(e.t - at, 4)
        if runs and runs[-1][2] == who:
            runs[-1][1] = t
        else:
            runs.append([t, t, who])
    return runs
