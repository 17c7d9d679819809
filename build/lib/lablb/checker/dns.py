"""DNS_CHECK's query and its verdict on a reply, as keepalived's check_dns.c makes and
judges them. Pure: bytes in, bytes out.

The query (RFC 1035 section 4.1): a 12-byte header (the ID, RD set, one question), the
name as labels, the type, class IN. A reply counts when its ID is the query's and QR is
set; then RCODE 0 is up and any other RCODE is down. Anything else (too short, another
ID, a query) is not the answer and the checker keeps waiting, within connect_timeout.
"""

from __future__ import annotations

import struct

from lablb.errors import PacketError

DNS_PORT = 53
HEADER = struct.Struct("!HHHHHH")  # id, flags, qdcount, ancount, nscount, arcount
FLAG_QR, FLAG_AA, FLAG_RD = 0x8000, 0x0400, 0x0100
CLASS_IN = 1
TYPES = {
    "A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28,
    "SRV": 33, "CAA": 257,
}  # fmt: skip
RCODE_NOERROR, RCODE_FORMERR = 0, 1


def encode_name(name: str) -> bytes:
    """``www.example.com`` (a trailing dot or not; ``.`` is the root) as DNS labels."""
    out = b""
    for label in name.rstrip(".").split(".") if name.strip(".") else []:
        raw = label.encode()
        if not 0 < len(raw) < 64:
            raise ValueError(f"DNS label {label!r} in {name!r}: 1-63 bytes")
        out += bytes([len(raw)]) + raw
    return out + b"\0"


def query(ident: int, name: str, kind: str) -> bytes:
    """One question for ``name`` of type ``kind``, recursion desired."""
    return (
        HEADER.pack(ident, FLAG_RD, 1, 0, 0, 0)
        + encode_name(name)
        + struct.pack("!HH", TYPES[kind], CLASS_IN)
    )


def verdict(ident: int, reply: bytes) -> int | None:
    """The reply's RCODE if it answers query ``ident``; None if it is not the answer."""
    if len(reply) < HEADER.size:
        return None
    rid, flags = int.from_bytes(reply[:2], "big"), int.from_bytes(reply[2:4], "big")
    if rid != ident or not flags & FLAG_QR:
        return None
    return flags & 0x000F


def question_end(message: bytes) -> int:
    """Where the first question of ``message`` ends (its name, type, class)."""
    pos = HEADER.size
    while True:
        if pos >= len(message):
            raise PacketError("truncated", "the question's name runs past the message")
        length = message[pos]
        if length == 0:
            pos += 1
            break
        if length >= 64:
            raise PacketError("bad name", f"label length {length}")
        pos += 1 + length
    if pos + 4 > len(message):
        raise PacketError("truncated", "no type and class")
    return pos + 4


def answer(message: bytes) -> bytes:
    """What the lab's DNS server sends back: the question, QR and AA set, RD copied, and
    NOERROR with no records (NODATA); FORMERR for a query it cannot read."""
    if len(message) < HEADER.size:
        raise PacketError("truncated", f"{len(message)} bytes")
    ident, flags, qdcount = struct.unpack("!HHH", message[:6])
    if flags & FLAG_QR:
        raise PacketError("not a query", "QR set")
    out_flags = FLAG_QR | FLAG_AA | (flags & FLAG_RD)
    try:
        end = question_end(message) if qdcount == 1 else 0
    except PacketError:
        end = 0
    if not end:
        return HEADER.pack(ident, out_flags | RCODE_FORMERR, 0, 0, 0, 0)
    return HEADER.pack(ident, out_flags | RCODE_NOERROR, 1, 0, 0, 0) + message[HEADER.size : end]
