r"""IPsec AH around a VRRPv2 advertisement, as keepalived builds and checks it
(``auth_type AH``; RFC 2338 section 5.3.6.3, RFC 2402, HMAC-MD5-96 of RFC 2403). Pure.

The datagram (no Security Association: the key is the auth_pass, the SPI the sender's
address, as keepalived's ``vrrp_build_ipsecah`` chooses them)::

    +------------------------+  IPv4 header, protocol 51 (AH), TOS 0xc0, TTL 255,
    | IPv4 header (20 bytes) |  an identification the sender sets (never 0, or the
    +------------------------+  kernel would change it under the ICV)
    | Next Header = 112 | Payload Len = 4 | Reserved = 0      |
    | Security Parameters Index = the IPv4 source address     |
    | Sequence Number                                          |
    | ICV: the first 96 bits of HMAC-MD5                       |  (12 bytes)
    +------------------------+
    | VRRPv2 message         |  auth type 2, authentication data all zero
    +------------------------+

The ICV is HMAC-MD5 keyed with the auth_pass zero-padded to 8 bytes, over the IP header
with TOS, fragment offset and checksum zeroed (and TTL zeroed between unicast peers),
the AH header with its ICV zeroed, and the VRRP message.

The sequence number defends against replay: keepalived keeps one counter per instance
that a backup sets from every advert it accepts and a master increments for every
advert it sends, so the sequence runs on across failovers (``Router.ah_seq``).
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass
from ipaddress import IPv4Address

from lablb.errors import PacketError
from lablb.vrrp.packet import IPPROTO_VRRP, VRRP_TOS, VRRP_TTL, Advert, Reject, inet_checksum

IPPROTO_AH = 51
IP_HEADER_LEN = 20
AH_LEN = 24  # 12 fixed bytes + a 96-bit ICV
AH_PAYLOAD_LEN = AH_LEN // 4 - 2  # RFC 2402 section 2.2: 32-bit words, minus 2
ICV_LEN = 12  # HMAC-MD5-96, RFC 2403
KEY_LEN = 8  # keepalived keys the HMAC with its 8-byte auth_data


def key_of(auth_pass: bytes) -> bytes:
    return auth_pass[:KEY_LEN].ljust(KEY_LEN, b"\0")


def _icv(ip_header: bytes, ah_header: bytes, vrrp: bytes, key: bytes, unicast: bool) -> bytes:
    """HMAC-MD5-96 over the datagram with the mutable fields and the ICV zeroed."""
    ip = bytearray(ip_header)
    ip[1] = 0  # TOS
    ip[6:8] = b"\0\0"  # flags and fragment offset
    ip[10:12] = b"\0\0"  # header checksum
    if unicast:
        ip[8] = 0  # TTL: keepalived zeroes it between unicast peers only
    ah = bytearray(ah_header)
    ah[12:AH_LEN] = bytes(ICV_LEN)
    mac = hmac.new(key_of(key), bytes(ip) + bytes(ah) + vrrp, hashlib.md5)
    return mac.digest()[:ICV_LEN]


def encode(
    advert: Advert,
    src: IPv4Address,
    dst: IPv4Address,
    key: bytes,
    seq: int,
    ident: int,
    *,
    unicast: bool = False,
) -> bytes:
    """The whole IPv4 datagram (for an IP_HDRINCL socket) carrying ``advert`` under AH."""
    if advert.version != 2:
        raise ValueError("AH authenticates VRRPv2 only")
    if not 1 <= ident <= 0xFFFF or not 0 <= seq <= 0xFFFFFFFF:
        raise ValueError(f"identification {ident} / sequence {seq} out of range")
    vrrp = advert.encode(src, dst)
    total = IP_HEADER_LEN + AH_LEN + len(vrrp)
    ip = struct.pack(
        "!BBHHHBBH4s4s", 0x45, VRRP_TOS, total, ident, 0, VRRP_TTL, IPPROTO_AH, 0,
        src.packed, dst.packed,
    )  # fmt: skip
    ip = ip[:10] + struct.pack("!H", inet_checksum(ip)) + ip[12:]
    ah = struct.pack("!BBH4sI", IPPROTO_VRRP, AH_PAYLOAD_LEN, 0, src.packed, seq) + bytes(ICV_LEN)
    icv = _icv(ip, ah, vrrp, key, unicast)
    return ip + ah[:12] + icv + vrrp


@dataclass(frozen=True)
class AhAdvert:
    """An AH-protected advert as received, before its instance judges it."""

    src: IPv4Address
    dst: IPv4Address
    ttl: int
    spi: IPv4Address
    seq: int
    advert: Advert
    _ip: bytes
    _ah: bytes
    _vrrp: bytes

    def authentic(self, key: bytes, *, unicast: bool = False) -> bool:
        """Does the ICV check out with ``key`` (and the SPI name the source)?"""
        icv = _icv(self._ip, self._ah, self._vrrp, key, unicast)
        return hmac.compare_digest(icv, self._ah[12:AH_LEN]) and self.spi == self.src


def decode(datagram: bytes) -> AhAdvert:
    """Parse an IPv4 datagram of protocol 51 carrying VRRP; ``PacketError`` with a
    ``Reject`` reason otherwise. The ICV is checked by ``AhAdvert.authentic`` once the
    receiving instance (and so the key) is known from the VRID."""
    if len(datagram) < IP_HEADER_LEN or datagram[0] >> 4 != 4:
        raise PacketError(Reject.BAD_IP_HEADER, "not IPv4")
    ihl = (datagram[0] & 0x0F) * 4
    total = struct.unpack("!H", datagram[2:4])[0]
    if ihl < IP_HEADER_LEN or total > len(datagram) or total < ihl + AH_LEN:
        raise PacketError(Reject.BAD_IP_HEADER, f"header {ihl} bytes, total {total}")
    if datagram[9] != IPPROTO_AH:
        raise PacketError(Reject.NOT_VRRP, f"protocol {datagram[9]}")
    ah = datagram[ihl : ihl + AH_LEN]
    if ah[0] != IPPROTO_VRRP:
        raise PacketError(Reject.NOT_VRRP, f"AH next header {ah[0]}")
    if ah[1] != AH_PAYLOAD_LEN:
        raise PacketError(Reject.BAD_LENGTH, f"AH payload length {ah[1]}")
    src, dst = IPv4Address(datagram[12:16]), IPv4Address(datagram[16:20])
    vrrp = datagram[ihl + AH_LEN : total]
    advert = Advert.decode(vrrp, src, dst)
    spi, seq = struct.unpack("!4sI", ah[4:12])
    return AhAdvert(src, dst, datagram[8], IPv4Address(spi), seq, advert, datagram[:ihl], ah, vrrp)
