"""Frames as the DR forwarder sees them, the kernel filter that selects them, and the
connection-sync messages. Pure: bytes in, bytes out.

With ``PACKET_VNET_HDR`` every frame read from or written to the packet socket starts
with a ``struct virtio_net_hdr`` (10 bytes: flags, gso_type, hdr_len, gso_size,
csum_start, csum_offset). It tells the kernel how to finish a checksum-partial or GSO
frame; Direct Routing only rewrites MAC addresses, so the header is passed on untouched.
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass
from ipaddress import IPv4Address

from lablb.errors import PacketError
from lablb.ipvs.service import ConnState, Flow

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


def control_address(run_dir: str) -> str:
    """The forwarder's control socket: an abstract UNIX address (no file, no 108-byte
    path limit), unique per run directory; abstract names live per network namespace,
    like the daemons that share them."""
    return "\0lablb-fwd-" + hashlib.sha1(run_dir.encode(), usedforsecurity=False).hexdigest()[:20]


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
