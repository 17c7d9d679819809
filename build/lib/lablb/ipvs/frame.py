"""Frames as the forwarder sees them, the kernel filters that select them, and the
connection-sync messages. Pure: bytes in, bytes out.

With ``PACKET_VNET_HDR`` every frame read from or written to the packet socket starts
with a ``struct virtio_net_hdr`` (10 bytes: flags, gso_type, hdr_len, gso_size,
csum_start, csum_offset). It tells the kernel how to finish a checksum-partial or GSO
frame. Direct Routing only rewrites MAC addresses, so the header is passed on untouched;
NAT moves no offset either, and keeps a partial frame partial (only the pseudo-header
sum changes); IPIP finishes the checksum and sends the frame complete.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from ipaddress import IPv4Address

from lablb.errors import PacketError
from lablb.ipvs.service import ConnState, Flow
from lablb.vrrp.packet import inet_checksum

VNET_HDR_LEN = 10
ETH_HLEN = 14
ETH_P_IP = 0x0800


@dataclass(frozen=True)
class Parsed:
    flow: Flow
    flags: int  # TCP flags (0 for UDP)
    length: int  # IP total length


def parse(frame: bytes) -> Parsed:
    """An Ethernet frame (no vnet header) carrying IPv4 TCP or UDP; PacketError else."""
    if len(frame) < ETH_HLEN + 20 or frame[12:14] != b"\x08\x00":
        raise PacketError("not IPv4")
    if frame[ETH_HLEN] >> 4 != 4:
        raise PacketError("not IPv4", f"IP version {frame[ETH_HLEN] >> 4}")
    ihl = (frame[ETH_HLEN] & 0x0F) * 4
    if ihl < 20:
        raise PacketError("bad IPv4 header", f"header length {ihl}")
    proto = frame[ETH_HLEN + 9]
    l4 = ETH_HLEN + ihl
    if proto not in (6, 17) or len(frame) < l4 + (14 if proto == 6 else 8):
        raise PacketError("not TCP or UDP, or truncated")
    total = struct.unpack_from("!H", frame, ETH_HLEN + 2)[0]
    sport, dport = struct.unpack_from("!HH", frame, l4)
    flags = frame[l4 + 13] if proto == 6 else 0
    src = IPv4Address(frame[ETH_HLEN + 12 : ETH_HLEN + 16])
    dst = IPv4Address(frame[ETH_HLEN + 16 : ETH_HLEN + 20])
    return Parsed(Flow(proto, src, sport, dst, dport), flags, total)


def rewrite(frame: bytes, dst_mac: bytes, src_mac: bytes) -> bytes:
    """Direct Routing: new Ethernet addresses, everything else untouched."""
    return dst_mac + src_mac + frame[12:]


def bpf_program(vip: IPv4Address, port: int, proto: int) -> list[tuple[int, int, int, int]]:
    """A classic BPF filter: IPv4 to ``vip``, protocol ``proto``, first fragment,
    destination ``port``. (code, jt, jf, k) per instruction, as ``tcpdump -dd`` prints
    ``ip dst VIP and tcp dst port PORT``."""
    ldh, ld, ldb, jeq, jset, ldxb_msh, ldh_ind, ret = (
        0x28, 0x20, 0x30, 0x15, 0x45, 0xB1, 0x48, 0x06)  # fmt: skip
    return [
        (ldh, 0, 0, 12),  # 0: ethertype
        (jeq, 0, 10, ETH_P_IP),  # 1: -> 12 drop
        (ld, 0, 0, 30),  # 2: IPv4 destination
        (jeq, 0, 8, int(vip)),  # 3
        (ldb, 0, 0, 23),  # 4: protocol
        (jeq, 0, 6, proto),  # 5
        (ldh, 0, 0, 20),  # 6: fragment offset
        (jset, 4, 0, 0x1FFF),  # 7: a later fragment has no ports -> drop
        (ldxb_msh, 0, 0, 14),  # 8: x = IP header length
        (ldh_ind, 0, 0, 16),  # 9: destination port
        (jeq, 0, 1, port),  # 10
        (ret, 0, 0, 0x40000),  # 11: accept the whole frame
        (ret, 0, 0, 0),  # 12: drop
    ]


def run_bpf(program: list[tuple[int, int, int, int]], frame: bytes) -> bool:
    """A tiny interpreter for the instructions ``bpf_program`` uses, so the filter can be
    tested without a kernel."""
    a = x = pc = 0

    def load(off: int, size: int) -> int:
        if off + size > len(frame):
            raise IndexError
        return int.from_bytes(frame[off : off + size], "big")

    try:
        while True:
            code, jt, jf, k = program[pc]
            pc += 1
            if code == 0x28:
                a = load(k, 2)
            elif code == 0x20:
                a = load(k, 4)
            elif code == 0x30:
                a = load(k, 1)
            elif code == 0xB1:
                x = (load(k, 1) & 0x0F) * 4
            elif code == 0x48:
                a = load(x + k, 2)
            elif code == 0x15:
                pc += jt if a == k else jf
            elif code == 0x45:
                pc += jt if a & k else jf
            elif code == 0x06:
                return k != 0
    except IndexError:
        return False  # the kernel drops a frame the filter reads past


# -- connection sync ---------------------------------------------------------------------
SYNC_VERSION = 1


@dataclass(frozen=True)
class SyncConn:
    flow: Flow
    dest: tuple[IPv4Address, int]
    state: ConnState
    timeout: float  # seconds left


def encode_sync(sync_id: int, conns: list[SyncConn]) -> bytes:
    """One sync datagram (JSON; lablb talks to lablb, not to the kernel's IPVS)."""
    return json.dumps(
        {
            "v": SYNC_VERSION,
            "id": sync_id,
            "conns": [
                [
                    c.flow.proto,
                    str(c.flow.client),
                    c.flow.cport,
                    str(c.flow.vip),
                    c.flow.vport,
                    str(c.dest[0]),
                    c.dest[1],
                    c.state.value,
                    round(c.timeout, 3),
                ]
                for c in conns
            ],
        },
        separators=(",", ":"),
    ).encode()


MAX_SYNC_TIMEOUT = 2678400.0  # the longest IPVS keeps anything (persistence_timeout max)


def _int(x: object, lo: int, hi: int) -> int:
    if not isinstance(x, int) or isinstance(x, bool) or not lo <= x <= hi:
        raise ValueError(f"{x!r} is not an integer in {lo}..{hi}")
    return x


def _timeout(x: object) -> float:
    """Seconds left: a finite number in 0..MAX_SYNC_TIMEOUT (NaN would never expire)."""
    if isinstance(x, bool) or not isinstance(x, int | float) or not 0 <= x <= MAX_SYNC_TIMEOUT:
        raise ValueError(f"timeout {x!r} is not in 0..{MAX_SYNC_TIMEOUT:g} s")
    return float(x)


def decode_sync(data: bytes, sync_id: int) -> list[SyncConn]:
    """PacketError, and nothing else, for anything that is not a well-formed sync
    message of ``sync_id``: every field is checked for type and range (a datagram from
    the LAN is untrusted input)."""
    try:
        msg = json.loads(data)
        if not isinstance(msg, dict) or not isinstance(msg.get("conns"), list):
            raise ValueError("not a sync message")
        if msg.get("v") != SYNC_VERSION or msg.get("id") != sync_id:
            raise PacketError("sync message of another version or sync id")
        out = []
        for row in msg["conns"]:
            if not isinstance(row, list) or len(row) != 9:
                raise ValueError("a connection is a list of 9 fields")
            p, c, cp, v, vp, d, dp, st, t = row
            if not all(isinstance(a, str) for a in (c, v, d, st)):
                raise ValueError("addresses and state are strings")
            flow = Flow(_int(p, 0, 255), IPv4Address(c), _int(cp, 0, 65535), IPv4Address(v),
                        _int(vp, 0, 65535))  # fmt: skip
            dest = (IPv4Address(d), _int(dp, 0, 65535))
            out.append(SyncConn(flow, dest, ConnState(st), _timeout(t)))
        return out
    except (ValueError, KeyError, TypeError, RecursionError, OverflowError) as exc:
        raise PacketError("bad sync message", str(exc)[:200]) from None


# -- LVS-NAT and LVS-TUN: addresses rewritten, or the frame tunnelled (IPIP) ------------
VNET_F_NEEDS_CSUM = 1  # the L4 checksum field holds the pseudo-header sum; offload ends it
IPPROTO_IPIP = 4
IPIP_OVERHEAD = 20  # the outer IPv4 header
TUN_TTL = 64  # the outer header's TTL (the route's default hop limit, as IPVS takes it)


@dataclass(frozen=True)
class Vnet:
    """``struct virtio_net_hdr`` (host byte order, as ``PACKET_VNET_HDR`` gives it)."""

    flags: int = 0
    gso_type: int = 0
    hdr_len: int = 0
    gso_size: int = 0
    csum_start: int = 0
    csum_offset: int = 0

    @classmethod
    def unpack(cls, raw: bytes) -> Vnet:
        return cls(*struct.unpack("=BBHHHH", raw[:VNET_HDR_LEN]))

    def pack(self) -> bytes:
        return struct.pack("=BBHHHH", self.flags, self.gso_type, self.hdr_len,
                           self.gso_size, self.csum_start, self.csum_offset)  # fmt: skip

    @property
    def partial(self) -> bool:
        return bool(self.flags & VNET_F_NEEDS_CSUM)


def _fold(s: int) -> int:
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def ones_sum(data: bytes) -> int:
    """The ones' complement sum of ``data`` as 16-bit words, folded: what lablb's one
    Internet checksum (``inet_checksum``, RFC 1071) complements."""
    return ~inet_checksum(data) & 0xFFFF


def ip_header_checksum(header: bytes) -> int:
    """The IPv4 header checksum of ``header`` with its checksum field zeroed."""
    return inet_checksum(header[:10] + b"\0\0" + header[12:])


def _adjusted(check: int, old: bytes, new: bytes, partial: bool) -> int:
    """A checksum field after ``old`` became ``new`` in what it covers (RFC 1624, eqn.
    3), incrementally: a checksum-partial field holds the uncomplemented sum."""
    s = check if partial else ~check & 0xFFFF
    s += ones_sum(bytes(~b & 0xFF for b in old)) + ones_sum(new)
    s = _fold(s)
    return s if partial else ~s & 0xFFFF


def nat(
    frame: bytes,
    vnet: Vnet,
    macs: tuple[bytes, bytes],
    src: tuple[IPv4Address, int] | None = None,
    dst: tuple[IPv4Address, int] | None = None,
) -> bytes:
    """LVS-NAT: ``frame`` (a TCP or UDP frame ``parse`` accepted) with its source or
    destination address and port replaced, Ethernet addresses ``macs`` (destination,
    source), IP and L4 checksums updated. A checksum-partial frame (``vnet.partial``,
    GSO ones included) keeps only the pseudo-header sum in its L4 field, so only the
    address change goes into it; the offload sums the ports with the rest. UDP without
    a checksum (0) stays without one. The vnet header is unchanged (no offset moves)."""
    out = bytearray(macs[0] + macs[1] + frame[12:])
    ip, ihl = ETH_HLEN, (frame[ETH_HLEN] & 0x0F) * 4
    l4 = ip + ihl
    check_at = l4 + (16 if frame[ip + 9] == 6 else 6)
    udp_none = frame[ip + 9] == 17 and frame[check_at : check_at + 2] == b"\0\0"
    check = int.from_bytes(frame[check_at : check_at + 2], "big")
    for change, addr_at, port_at in ((src, ip + 12, l4), (dst, ip + 16, l4 + 2)):
        if change is None:
            continue
        addr, port = change
        old_addr, new_addr = bytes(out[addr_at : addr_at + 4]), addr.packed
        old_port, new_port = bytes(out[port_at : port_at + 2]), struct.pack("!H", port)
        out[addr_at : addr_at + 4] = new_addr
        out[port_at : port_at + 2] = new_port
        if vnet.partial:
            check = _adjusted(check, old_addr, new_addr, True)
        else:
            check = _adjusted(check, old_addr + old_port, new_addr + new_port, False)
    if not udp_none:
        if not vnet.partial and frame[ip + 9] == 17 and check == 0:
            check = 0xFFFF  # UDP sends a computed 0 as all ones
        out[check_at : check_at + 2] = check.to_bytes(2, "big")
    out[ip + 10 : ip + 12] = ip_header_checksum(bytes(out[ip : ip + ihl])).to_bytes(2, "big")
    return bytes(out)


def l4_checksum(packet: bytes) -> int:
    """The TCP or UDP checksum of the IPv4 ``packet`` (its field counted as 0)."""
    ihl = (packet[0] & 0x0F) * 4
    total = struct.unpack_from("!H", packet, 2)[0]
    proto = packet[9]
    seg = bytearray(packet[ihl:total])
    at = 16 if proto == 6 else 6
    seg[at : at + 2] = b"\0\0"
    pseudo = packet[12:20] + struct.pack("!BBH", 0, proto, len(seg))
    c = inet_checksum(pseudo + bytes(seg))
    return 0xFFFF if proto == 17 and c == 0 else c


def ipip(
    frame: bytes,
    vnet: Vnet,
    macs: tuple[bytes, bytes],
    outer: tuple[IPv4Address, IPv4Address],
    ident: int,
) -> bytes:
    """LVS-TUN: the IP packet of ``frame`` inside an outer IPv4 header (protocol 4,
    ``outer`` = source, destination; TOS and DF copied from the inner header, as IPVS
    does), in a frame to ``macs`` (destination, source). A checksum-partial frame has
    its L4 checksum finished here (the frame goes out complete, so that the real
    server's decapsulation reads a packet it can hand to its stack as it is). A GSO
    frame cannot be tunnelled this way (virtio's header cannot say "IPIP"):
    PacketError. One that the outer header takes past the MTU fails at the send
    (IPVS would send "fragmentation needed")."""
    if vnet.gso_type:
        raise PacketError("GSO frame: cannot be tunnelled")
    ip = ETH_HLEN
    total = struct.unpack_from("!H", frame, ip + 2)[0]
    inner = bytearray(frame[ip : ip + total])
    if vnet.partial:
        at = vnet.csum_start - ETH_HLEN + vnet.csum_offset
        inner[at : at + 2] = l4_checksum(bytes(inner)).to_bytes(2, "big")
    header = bytearray(
        struct.pack(
            "!BBHHHBBH4s4s",
            0x45,
            inner[1],
            total + IPIP_OVERHEAD,
            ident & 0xFFFF,
            struct.unpack_from("!H", inner, 6)[0] & 0x4000,  # DF, no fragment offset
            TUN_TTL,
            IPPROTO_IPIP,
            0,
            outer[0].packed,
            outer[1].packed,
        )
    )
    header[10:12] = ip_header_checksum(bytes(header)).to_bytes(2, "big")
    return macs[0] + macs[1] + b"\x08\x00" + bytes(header) + bytes(inner)


def decapsulate(frame: bytes) -> bytes:
    """The inner IPv4 packet of an IPIP frame (what a real server's ``tunl0`` would
    receive); PacketError for anything else."""
    if len(frame) < ETH_HLEN + 40 or frame[12:14] != b"\x08\x00" or frame[ETH_HLEN] >> 4 != 4:
        raise PacketError("not IPv4")
    if frame[ETH_HLEN + 9] != IPPROTO_IPIP:
        raise PacketError("not IPIP")
    ihl = (frame[ETH_HLEN] & 0x0F) * 4
    total = struct.unpack_from("!H", frame, ETH_HLEN + 2)[0]
    inner = frame[ETH_HLEN + ihl : ETH_HLEN + total]
    if len(inner) < 20 or inner[0] >> 4 != 4:
        raise PacketError("IPIP without an IPv4 packet inside")
    return inner


def bpf_ip_proto(proto: int) -> list[tuple[int, int, int, int]]:
    """A classic BPF filter: IPv4 frames of protocol ``proto`` (``ip proto 4``)."""
    ldh, ldb, jeq, ret = 0x28, 0x30, 0x15, 0x06
    return [
        (ldh, 0, 0, 12),
        (jeq, 0, 3, ETH_P_IP),
        (ldb, 0, 0, 23),
        (jeq, 0, 1, proto),
        (ret, 0, 0, 0x40000),
        (ret, 0, 0, 0),
    ]


def bpf_reply_program(port: int, proto: int) -> list[tuple[int, int, int, int]]:
    """A classic BPF filter: IPv4 of protocol ``proto``, first fragment, *source* port
    ``port``: a real server's replies (LVS-NAT's return half)."""
    ldh, ldb, jeq, jset, ldxb_msh, ldh_ind, ret = 0x28, 0x30, 0x15, 0x45, 0xB1, 0x48, 0x06
    return [
        (ldh, 0, 0, 12),  # 0: ethertype
        (jeq, 0, 8, ETH_P_IP),  # 1: -> 10 drop
        (ldb, 0, 0, 23),  # 2: protocol
        (jeq, 0, 6, proto),  # 3
        (ldh, 0, 0, 20),  # 4: fragment offset
        (jset, 4, 0, 0x1FFF),  # 5
        (ldxb_msh, 0, 0, 14),  # 6
        (ldh_ind, 0, 0, 14),  # 7: source port
        (jeq, 0, 1, port),  # 8
        (ret, 0, 0, 0x40000),  # 9
        (ret, 0, 0, 0),  # 10
    ]
