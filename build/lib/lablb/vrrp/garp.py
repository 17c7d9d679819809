"""Gratuitous ARP frames, the announcement a new master sends for each virtual address.
Pure: bytes in, bytes out.

A gratuitous ARP is an ARP request whose sender and target protocol addresses are both
the announced address (RFC 5227 section 3; RFC 3768 section 6.4.2 asks a new master to
"broadcast a gratuitous ARP request containing the virtual router MAC address" for each
address). lablb, like keepalived without ``use_vmac``, announces the interface's own MAC.
"""

from __future__ import annotations

import struct
from ipaddress import IPv4Address

ETH_P_ARP = 0x0806
ETH_P_IP = 0x0800
ARPHRD_ETHER = 1
ARPOP_REQUEST = 1
BROADCAST = b"\xff" * 6


def mac_bytes(mac: str) -> bytes:
    """``aa:bb:cc:dd:ee:ff`` -> 6 bytes; ValueError on anything else."""
    parts = mac.split(":")
    if len(parts) != 6:
        raise ValueError(f"not a MAC address: {mac!r}")
    return bytes(int(p, 16) for p in parts)


def garp_frame(mac: str, address: IPv4Address) -> bytes:
    """One Ethernet frame: broadcast ARP request announcing ``address`` at ``mac``."""
    src = mac_bytes(mac)
    arp = struct.pack(
        "!HHBBH6s4s6s4s",
        ARPHRD_ETHER,
        ETH_P_IP,
        6,
        4,
        ARPOP_REQUEST,
        src,
        address.packed,
        BROADCAST,
        address.packed,
    )
    return BROADCAST + src + struct.pack("!H", ETH_P_ARP) + arp
