"""Unsolicited neighbour advertisements, IPv6's gratuitous ARP: what a new master sends
for each IPv6 virtual address. Pure: bytes in, bytes out.

RFC 5798 section 6.4.1 asks a new IPv6 master to send, for each address, an unsolicited
Neighbor Advertisement with the Router flag set (the virtual router is a router) and the
Override flag set, so that neighbours replace the old master's link-layer address
(RFC 4861 sections 4.4 and 7.2.6). Like keepalived without ``use_vmac``, lablb
announces the interface's own MAC in the target link-layer address option.

The ICMPv6 message (a raw ICMPv6 socket: the kernel fills in the checksum, and sends
it to ff02::1 from the link-local address with hop limit 255, which receivers check)::

    type 136, code 0, checksum | R S O reserved (32 bits) | target address (128 bits)
    option: type 2 (target link-layer address), length 1 (8 bytes), MAC
"""

from __future__ import annotations

import struct
from ipaddress import IPv6Address

from lablb.vrrp.garp import mac_bytes

ICMPV6_NA = 136
FLAG_ROUTER, FLAG_SOLICITED, FLAG_OVERRIDE = 0x80000000, 0x40000000, 0x20000000
OPT_TARGET_LLADDR = 2
ALL_NODES = IPv6Address("ff02::1")
HOP_LIMIT = 255  # RFC 4861 section 7.1.2: receivers drop NAs with another hop limit


def unsolicited_na(mac: str, target: IPv6Address, router: bool = True) -> bytes:
    """The ICMPv6 part of an unsolicited NA for ``target`` at ``mac`` (checksum 0: the
    kernel computes it over the pseudo-header it alone knows for sure)."""
    flags = FLAG_OVERRIDE | (FLAG_ROUTER if router else 0)
    head = struct.pack("!BBHI", ICMPV6_NA, 0, 0, flags) + target.packed
    return head + struct.pack("!BB", OPT_TARGET_LLADDR, 1) + mac_bytes(mac)
