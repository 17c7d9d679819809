r"""VRRP advertisements on the wire: encode and decode, v2 and v3, v3 over IPv6 too. Pure.

VRRPv2, RFC 3768 section 5.1 (advert interval in seconds, authentication)::

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |Version| Type  | Virtual Rtr ID|   Priority    | Count IP Addrs|
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |   Auth Type   |   Adver Int   |          Checksum             |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                         IP Address (1)                        |
    |                            ...                                |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                     Authentication Data (1)                   |
    |                     Authentication Data (2)                   |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

VRRPv3, RFC 5798 section 5.1 (interval in centiseconds, no authentication)::

    |Version| Type  | Virtual Rtr ID|   Priority    |Count IPvX Addr|
    |(rsvd) |     Max Adver Int     |          Checksum             |
    |                       IPvX Address(es)                        |

The v2 checksum covers the VRRP message alone (RFC 3768 section 5.3.8). The v3 checksum
adds the IPv4 pseudo-header (RFC 5798 section 5.2.8), as keepalived does by default;
``Checksum.V2_STYLE`` is keepalived's ``old_unicast_checksum`` variant. Over IPv6 the
addresses are 16 bytes each and the pseudo-header is IPv6's (RFC 8200 section 8.1:
source, destination, upper-layer length as 32 bits, three zero bytes, next header 112);
an IPv6 advert goes to ff02::12 from the interface's link-local address with hop limit
255 (RFC 5798 sections 5.1.2 and 5.2.8).

``decode`` raises ``PacketError`` whose ``reason`` is a ``Reject``; ``check`` applies a
local instance's expectations (VRID, authentication). Neither ever raises anything else
on any input.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum, IntEnum
from ipaddress import IPv4Address, IPv6Address

from lablb.errors import PacketError

IPPROTO_VRRP = 112  # RFC 3768 section 5.2.4
VRRP_GROUP = IPv4Address("224.0.0.18")  # RFC 3768 section 5.2.2
VRRP_GROUP6 = IPv6Address("ff02::12")  # RFC 5798 section 5.1.2.2
VRRP_TTL = 255  # RFC 3768 section 5.2.3: a router MUST discard other TTLs
# IP precedence 6, "internetwork control" (RFC 791), DSCP CS6: how keepalived marks its
# adverts (IPTOS_PREC_INTERNETCONTROL), so a qdisc that prioritises control traffic
# keeps them ahead of a saturating stream.
VRRP_TOS = 0xC0
TYPE_ADVERTISEMENT = 1  # RFC 3768 section 5.3.2
MAX_V3_INTERVAL_CS = 0x0FFF  # 12 bits of centiseconds, RFC 5798 section 5.2.7
AUTH_DATA_LEN = 8


class AuthType(IntEnum):
    """RFC 3768 section 5.3.6 (kept from RFC 2338 for interoperability)."""

    NONE = 0
    PASS = 1  # "simple text password"
    AH = 2  # IP Authentication Header: the data is in the IP layer, not here


class Checksum(Enum):
    PSEUDO_HEADER = "pseudo-header"  # RFC 5798 section 5.2.8 (v3 default)
    V2_STYLE = "v2-style"  # the VRRP message alone


class Reject(Enum):
    """Why an advertisement was dropped; a daemon counts these."""

    TOO_SHORT = "too short"
    BAD_IP_HEADER = "bad IPv4 header"
    NOT_VRRP = "not protocol 112"
    BAD_TTL = "TTL not 255"
    BAD_VERSION = "unsupported version"
    BAD_TYPE = "not an advertisement"
    BAD_LENGTH = "address count does not match length"
    BAD_CHECKSUM = "bad checksum"
    WRONG_VRID = "wrong virtual router id"
    AUTH_TYPE_MISMATCH = "authentication type mismatch"
    AUTH_MISMATCH = "authentication failure"
    BAD_INTERVAL = "advertisement interval out of range"
    INTERVAL_MISMATCH = "advertisement interval mismatch"
    UNKNOWN_SOURCE = "source is not a unicast peer"  # check_unicast_src
    REPLAYED = "AH sequence number already seen"  # anti-replay, RFC 2402 section 3.4.3


def inet_checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071): one's complement of the one's complement sum."""
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


Address = IPv4Address | IPv6Address


def _pseudo_header(src: Address, dst: Address, length: int) -> bytes:
    if isinstance(src, IPv6Address) or isinstance(dst, IPv6Address):
        return src.packed + dst.packed + struct.pack("!I3xB", length, IPPROTO_VRRP)
    return src.packed + dst.packed + struct.pack("!BBH", 0, IPPROTO_VRRP, length)


@dataclass(frozen=True)
class Advert:
    """One VRRP advertisement. ``interval_cs`` is in centiseconds for both versions."""

    version: int
    vrid: int
    priority: int
    addresses: tuple[Address, ...]
    interval_cs: int = 100
    auth_type: AuthType = AuthType.NONE
    auth_data: bytes = b""

    def __post_init__(self) -> None:
        if self.version not in (2, 3):
            raise ValueError(f"VRRP version {self.version}")
        if not (1 <= self.vrid <= 255 and 0 <= self.priority <= 255):
            raise ValueError(f"vrid {self.vrid} / priority {self.priority} out of range")
        if len(self.addresses) > 255:
            raise ValueError("more than 255 addresses")
        if len({a.version for a in self.addresses}) > 1:
            raise ValueError("an advert carries one address family")
        if self.version == 2 and self.family == 6:
            raise ValueError("VRRPv2 is IPv4 only (RFC 3768); IPv6 needs version 3")
        if self.version == 2 and (self.interval_cs % 100 or not 100 <= self.interval_cs <= 25500):
            raise ValueError(f"VRRPv2 carries whole seconds 1..255, not {self.interval_cs} cs")
        if self.version == 3 and not 1 <= self.interval_cs <= MAX_V3_INTERVAL_CS:
            raise ValueError(f"VRRPv3 interval {self.interval_cs} cs out of 1..4095")
        if len(self.auth_data) > AUTH_DATA_LEN:
            raise ValueError("authentication data is at most 8 bytes")

    @property
    def family(self) -> int:
        """4 or 6: the family of the addresses it carries (4 when it carries none)."""
        return self.addresses[0].version if self.addresses else 4

    @property
    def interval(self) -> float:
        """Advertisement interval in seconds."""
        return self.interval_cs / 100

    def encode(
        self,
        src: Address | None = None,
        dst: Address | None = None,
        checksum: Checksum = Checksum.PSEUDO_HEADER,
    ) -> bytes:
        """The VRRP message (no IP header). v3 with the pseudo-header needs src and dst
        (IPv6 ones for an IPv6 advert)."""
        head = bytes(
            [
                (self.version << 4) | TYPE_ADVERTISEMENT,
                self.vrid,
                self.priority,
                len(self.addresses),
            ]
        )
        if self.version == 2:
            second = bytes([self.auth_type, self.interval_cs // 100])
            tail = self.auth_data.ljust(AUTH_DATA_LEN, b"\0")
        else:
            second = struct.pack("!H", self.interval_cs & MAX_V3_INTERVAL_CS)
            tail = b""
        body = b"".join(a.packed for a in self.addresses)
        msg = head + second + b"\0\0" + body + tail
        covered = msg
        if self.version == 3 and checksum is Checksum.PSEUDO_HEADER:
            if src is None or dst is None:
                raise ValueError("the v3 checksum needs the IP source and destination")
            if src.version != self.family and self.addresses:
                raise ValueError(f"an IPv{self.family} advert from an IPv{src.version} source")
            covered = _pseudo_header(src, dst, len(msg)) + msg
        return msg[:6] + struct.pack("!H", inet_checksum(covered)) + msg[8:]

    @classmethod
    def decode(cls, buf: bytes, src: Address | None = None, dst: Address | None = None) -> Advert:
        """Parse a VRRP message; v3's pseudo-header checksum needs src and dst (without
        them, or when it fails, the v2-style checksum is accepted over IPv4, as keepalived
        does). IPv6 sources mean 16-byte addresses and only the pseudo-header checksum."""
        if len(buf) < 8:
            raise PacketError(Reject.TOO_SHORT, f"{len(buf)} bytes")
        version, kind = buf[0] >> 4, buf[0] & 0x0F
        if version not in (2, 3):
            raise PacketError(Reject.BAD_VERSION, f"version {version}")
        if kind != TYPE_ADVERTISEMENT:
            raise PacketError(Reject.BAD_TYPE, f"type {kind}")
        vrid, priority, count = buf[1], buf[2], buf[3]
        six = isinstance(src, IPv6Address)
        if six and version != 3:
            raise PacketError(Reject.BAD_VERSION, f"version {version} over IPv6")
        size = 16 if six else 4
        tail = AUTH_DATA_LEN if version == 2 else 0
        want = 8 + size * count + tail
        if len(buf) < want:
            raise PacketError(
                Reject.BAD_LENGTH, f"{count} addresses need {want} bytes, got {len(buf)}"
            )
        msg = buf[:want]
        ok = not six and inet_checksum(msg) == 0
        if version == 3 and src is not None and dst is not None:
            ok = ok or inet_checksum(_pseudo_header(src, dst, len(msg)) + msg) == 0
        if not ok:
            raise PacketError(Reject.BAD_CHECKSUM, f"checksum 0x{buf[6] << 8 | buf[7]:04x}")
        kind6 = IPv6Address if six else IPv4Address
        addresses: tuple[Address, ...] = tuple(
            kind6(msg[8 + size * i : 8 + size * (i + 1)]) for i in range(count)
        )
        if vrid == 0:
            raise PacketError(Reject.WRONG_VRID, "vrid 0")
        try:
            if version == 2:
                try:
                    auth = AuthType(buf[4])
                except ValueError:
                    raise PacketError(Reject.AUTH_TYPE_MISMATCH, f"auth type {buf[4]}") from None
                return cls(
                    2,
                    vrid,
                    priority,
                    addresses,
                    buf[5] * 100,
                    auth,
                    bytes(msg[8 + 4 * count :]).rstrip(b"\0"),
                )
            return cls(3, vrid, priority, addresses, struct.unpack("!H", buf[4:6])[0] & 0x0FFF)
        except ValueError as exc:  # a field the dataclass refuses, e.g. interval 0
            raise PacketError(Reject.BAD_INTERVAL, str(exc)) from None


def decode_ipv6(
    msg: bytes, src: IPv6Address, dst: IPv6Address, hop_limit: int
) -> tuple[IPv6Address, IPv6Address, Advert]:
    """A VRRP message received over IPv6 (a raw socket gives no IPv6 header: the
    addresses and hop limit come from the socket's ancillary data)."""
    if hop_limit != VRRP_TTL:
        raise PacketError(Reject.BAD_TTL, f"hop limit {hop_limit}")
    return src, dst, _exact(Advert.decode(msg, src, dst), len(msg))


def _exact(advert: Advert, payload: int) -> Advert:
    """The IP payload must be the advert, no more (as keepalived checks): bytes past
    what the address count covers are no part of any advert."""
    size = 16 if advert.family == 6 else 4
    want = 8 + size * len(advert.addresses) + (AUTH_DATA_LEN if advert.version == 2 else 0)
    if payload != want:
        raise PacketError(Reject.BAD_LENGTH, f"{payload} bytes for an advert of {want}")
    return advert


def vrid_filter(vrids: Iterable[int]) -> list[tuple[int, int, int, int]]:
    """A classic BPF program for a raw IPv4 protocol-112 socket (it sees each datagram
    from its IP header): pass VRRP packets whose VRID is one of ``vrids``, and any too
    short to hold a VRID (the engine still sees, and counts, what is malformed); drop the
    rest, other clusters' adverts on the same LAN, in the kernel. On a LAN of many VRIDs
    each advert would otherwise wake every VRRP process there, to be decoded and
    ignored. (code, jt, jf, k) per instruction, as ``tcpdump -dd`` prints them."""
    wanted = sorted(set(vrids))
    ldx_iphl, ld_len, sub_x, jge, ldb_ind, jeq, ret = (
        0xB1, 0x80, 0x1C, 0x35, 0x50, 0x15, 0x06)  # fmt: skip
    n = len(wanted)
    accept = 5 + n + 1  # the index of the last instruction
    return [
        (ldx_iphl, 0, 0, 0),  # 0: x = IP header length
        (ld_len, 0, 0, 0),  # 1: a = datagram length
        (sub_x, 0, 0, 0),  # 2: a = VRRP message length
        (jge, 0, accept - 3 - 1, 2),  # 3: shorter than version/type + VRID: pass it on
        (ldb_ind, 0, 0, 1),  # 4: a = VRID
        *[(jeq, accept - (5 + i) - 1, 0, v) for i, v in enumerate(wanted)],  # 5..
        (ret, 0, 0, 0),  # another cluster's: drop
        (ret, 0, 0, 0x40000),  # accept the whole datagram
    ]


def decode_ipv4(packet: bytes) -> tuple[IPv4Address, IPv4Address, Advert]:
    """An IPv4 datagram carrying VRRP: check the IP header (TTL 255, protocol 112) and
    return (source, destination, advert)."""
    if len(packet) < 20 or packet[0] >> 4 != 4:
        raise PacketError(Reject.BAD_IP_HEADER, "not IPv4")
    ihl = (packet[0] & 0x0F) * 4
    total = struct.unpack("!H", packet[2:4])[0]
    if ihl < 20 or len(packet) < ihl or total > len(packet):
        raise PacketError(Reject.BAD_IP_HEADER, f"header {ihl} bytes, total {total}")
    if packet[9] != IPPROTO_VRRP:
        raise PacketError(Reject.NOT_VRRP, f"protocol {packet[9]}")
    if packet[8] != VRRP_TTL:
        raise PacketError(Reject.BAD_TTL, f"TTL {packet[8]}")
    src, dst = IPv4Address(packet[12:16]), IPv4Address(packet[16:20])
    return src, dst, _exact(Advert.decode(packet[ihl:total], src, dst), total - ihl)


def check(
    advert: Advert,
    vrid: int,
    auth_type: AuthType = AuthType.NONE,
    auth_data: bytes = b"",
    interval_cs: int | None = None,
) -> None:
    """A local instance's expectations (RFC 3768 section 7.1): same VRID, and for v2 the
    same authentication and advertisement interval (v3 learns the master's interval
    instead, RFC 5798 section 6.4.2). Raises ``PacketError`` with the reason."""
    if advert.vrid != vrid:
        raise PacketError(Reject.WRONG_VRID, f"vrid {advert.vrid}, expected {vrid}")
    if advert.version == 2:
        if interval_cs is not None and advert.interval_cs != interval_cs:
            raise PacketError(
                Reject.INTERVAL_MISMATCH, f"{advert.interval:g} s, expected {interval_cs / 100:g} s"
            )
        if advert.auth_type != auth_type:
            raise PacketError(
                Reject.AUTH_TYPE_MISMATCH, f"{advert.auth_type.name}, expected {auth_type.name}"
            )
        if auth_type is AuthType.PASS and advert.auth_data != auth_data[:AUTH_DATA_LEN]:
            raise PacketError(Reject.AUTH_MISMATCH, "password differs")
