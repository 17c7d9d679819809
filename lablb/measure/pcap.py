"""The frames of a capture that a failover is made of, from pcap bytes. Pure.

A capture of a whole run holds hundreds of thousands of probe frames; scapy would take
seconds per trial to dissect them. This reads the classic pcap format (microsecond or
nanosecond timestamps, Ethernet link type) with ``struct`` and keeps, per frame, only
what the timeline needs:

=============  =============================================================
kind           what is kept
=============  =============================================================
``advert``     VRRP (IP protocol 112): source IP, VRID, priority
``garp``       ARP request or reply whose sender and target IP are the same
``echo-reply`` ICMP echo reply: its source IP, identifier and the prober's
               32-bit probe number (from the echo data)
``syn-ack``    TCP SYN-ACK: source IP and port, destination port, and the
               probe number it answers (acknowledgment number minus one)
``syn``        TCP SYN (no ACK): source IP and port, destination port
``other``      anything else: only its time and source MAC
=============  =============================================================

Every frame keeps its source MAC, which names the host that sent it onto the LAN. A
record cut short at the end of a file still being written is left for the next read
(``read_frames`` returns the offset to resume from).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from lablb.errors import PacketError

MAGIC_US, MAGIC_NS = 0xA1B2C3D4, 0xA1B23C4D
LINKTYPE_ETHERNET = 1
GLOBAL_HEADER = 24
RECORD_HEADER = 16


@dataclass(frozen=True)
class Frame:
    t: float  # capture instant, seconds (CLOCK_REALTIME, stamped by the kernel)
    src_mac: str
    kind: str
    src_ip: str = ""
    priority: int | None = None  # adverts
    vrid: int | None = None  # adverts
    ident: int | None = None  # echo replies
    number: int | None = None  # echo replies and SYN-ACKs: the probe they answer
    port: int | None = None  # SYN-ACKs: the destination (prober's) port; SYNs: the service's


def _mac(b: bytes) -> str:
    return ":".join(f"{x:02x}" for x in b)


def _ip(b: bytes) -> str:
    return ".".join(str(x) for x in b)


def parse_frame(t: float, data: bytes) -> Frame:
    """One Ethernet frame's timeline facts (never raises on short or odd frames)."""
    if len(data) < 14:
        return Frame(t, "", "other")
    src = _mac(data[6:12])
    ethertype = struct.unpack("!H", data[12:14])[0]
    body = data[14:]
    if ethertype == 0x0806 and len(body) >= 28:
        spa, tpa = body[14:18], body[24:28]
        if spa == tpa:
            return Frame(t, src, "garp", _ip(spa))
        return Frame(t, src, "other")
    if ethertype != 0x0800 or len(body) < 20 or body[0] >> 4 != 4:
        return Frame(t, src, "other")
    ihl = (body[0] & 0x0F) * 4
    proto, src_ip, payload = body[9], _ip(body[12:16]), body[ihl:]
    if proto == 112 and len(payload) >= 4:
        return Frame(t, src, "advert", src_ip, priority=payload[2], vrid=payload[1])
    if proto == 1 and len(payload) >= 12 and payload[0] == 0:
        ident = struct.unpack("!H", payload[4:6])[0]
        number = struct.unpack("!I", payload[8:12])[0]
        return Frame(t, src, "echo-reply", src_ip, ident=ident, number=number)
    if proto == 6 and len(payload) >= 14:
        sport, dport, _seq, ack = struct.unpack("!HHII", payload[:12])
        if payload[13] & 0x12 == 0x12:
            return Frame(
                t, src, "syn-ack", f"{src_ip}:{sport}", number=(ack - 1) & 0xFFFFFFFF, port=dport
            )
        if payload[13] & 0x12 == 0x02:
            return Frame(t, src, "syn", f"{src_ip}:{sport}", port=dport)
    return Frame(t, src, "other", src_ip)


def read_frames(buf: bytes, offset: int = 0) -> tuple[list[Frame], int]:
    """Frames from ``buf`` (a whole pcap file's bytes so far) starting at ``offset``
    (0: the global header); returns them and the offset of the first unread record."""
    if len(buf) < GLOBAL_HEADER:
        return [], offset
    magic = struct.unpack("<I", buf[:4])[0]
    endian = "<"
    if magic not in (MAGIC_US, MAGIC_NS):
        magic = struct.unpack(">I", buf[:4])[0]
        endian = ">"
        if magic not in (MAGIC_US, MAGIC_NS):
            raise PacketError("not a pcap file", f"magic {buf[:4].hex()}")
    linktype = struct.unpack(f"{endian}I", buf[20:24])[0]
    if linktype != LINKTYPE_ETHERNET:
        raise PacketError("not an Ethernet capture", f"link type {linktype}")
    scale = 1e-9 if magic == MAGIC_NS else 1e-6
    pos = max(offset, GLOBAL_HEADER)
    frames = []
    while pos + RECORD_HEADER <= len(buf):
        sec, frac, incl, _orig = struct.unpack(f"{endian}IIII", buf[pos : pos + RECORD_HEADER])
        if pos + RECORD_HEADER + incl > len(buf):
            break
        data = buf[pos + RECORD_HEADER : pos + RECORD_HEADER + incl]
        frames.append(parse_frame(sec + frac * scale, data))
        pos += RECORD_HEADER + incl
    return frames, pos
