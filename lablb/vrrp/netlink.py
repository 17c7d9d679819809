"""rtnetlink messages that add and remove a virtual address, as keepalived sends them.
Pure: bytes in, bytes out.

A VIP must be on the interface within microseconds of the takeover advert: spawning
``ip addr`` costs 5-80 ms, during which the new master announces an address its kernel
does not answer for yet. So the daemon speaks rtnetlink itself (rtnetlink(7))::

    struct nlmsghdr  { u32 len; u16 type; u16 flags; u32 seq; u32 pid; }
    struct ifaddrmsg { u8 family; u8 prefixlen; u8 flags; u8 scope; u32 index; }
    struct rtattr    { u16 len; u16 type; }  payload padded to 4 bytes

RTM_NEWADDR / RTM_DELADDR carry IFA_LOCAL and IFA_ADDRESS (the address, as ``ip addr``
sets both), and optionally IFA_BROADCAST and IFA_LABEL. An IPv6 address is added with
IFA_F_NODAD, as keepalived adds its virtual addresses: duplicate address detection would
hold it tentative (unusable) for a second after the takeover. The kernel answers every
request with NLMSG_ERROR, whose error is 0 for success or a negative errno.

The same messages come to a subscriber of RTMGRP_IPV4_IFADDR when any address changes
(``address_events`` reads them): the forwarder follows its VIPs by them.
"""

from __future__ import annotations

import struct
from ipaddress import IPv4Address, IPv6Address, ip_address

from lablb.config.model import VirtualAddress
from lablb.errors import PacketError

RTM_NEWADDR, RTM_DELADDR = 20, 21
NLMSG_ERROR = 2
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400
IFA_ADDRESS, IFA_LOCAL, IFA_LABEL, IFA_BROADCAST = 1, 2, 3, 4
AF_INET, AF_INET6 = 2, 10
IFA_F_NODAD = 0x02
SCOPES = {"global": 0, "site": 200, "link": 253, "host": 254, "nowhere": 255}
IFNAMSIZ = 16


def _rta(kind: int, payload: bytes) -> bytes:
    head = struct.pack("=HH", 4 + len(payload), kind)
    pad = (4 - len(payload) % 4) % 4
    return head + payload + b"\0" * pad


def scope_number(scope: str | None) -> int:
    if scope is None:
        return 0
    if scope.isdigit() and 0 <= int(scope) <= 255:
        return int(scope)
    try:
        return SCOPES[scope]
    except KeyError:
        raise PacketError("bad scope", f"{scope!r}: one of {', '.join(SCOPES)} or 0-255") from None


def address_message(vip: VirtualAddress, index: int, add: bool, seq: int) -> bytes:
    """RTM_NEWADDR (``add``) or RTM_DELADDR for ``vip`` on interface ``index``."""
    six = vip.ip.version == 6
    family, flags = (AF_INET6, IFA_F_NODAD) if six else (AF_INET, 0)
    body = struct.pack(
        "=BBBBI", family, vip.interface.network.prefixlen, flags, scope_number(vip.scope), index
    )
    body += _rta(IFA_LOCAL, vip.ip.packed) + _rta(IFA_ADDRESS, vip.ip.packed)
    if add and vip.brd is not None:
        body += _rta(IFA_BROADCAST, vip.brd.packed)
    if add and vip.label is not None:
        body += _rta(IFA_LABEL, vip.label.encode()[: IFNAMSIZ - 1] + b"\0")
    kind = RTM_NEWADDR if add else RTM_DELADDR
    flags = NLM_F_REQUEST | NLM_F_ACK | ((NLM_F_CREATE | NLM_F_EXCL) if add else 0)
    return struct.pack("=IHHII", 16 + len(body), kind, flags, seq, 0) + body


def ack_errno(reply: bytes, seq: int) -> int | None:
    """The errno of the kernel's answer to request ``seq`` (0: done), None if ``reply``
    holds no answer to it."""
    pos = 0
    while pos + 16 <= len(reply):
        length, kind, _flags, rseq, _pid = struct.unpack("=IHHII", reply[pos : pos + 16])
        if length < 16:
            return None
        if kind == NLMSG_ERROR and rseq == seq and pos + 20 <= len(reply):
            return -int(struct.unpack("=i", reply[pos + 16 : pos + 20])[0])
        pos += (length + 3) & ~3
    return None


def address_events(data: bytes) -> list[tuple[bool, IPv4Address | IPv6Address]]:
    """What the RTM_NEWADDR (True: added) and RTM_DELADDR (False: removed) messages in one
    datagram of an address subscription say, in order: the address of each (IFA_LOCAL,
    else IFA_ADDRESS). Other messages, and a truncated tail, are skipped."""
    out: list[tuple[bool, IPv4Address | IPv6Address]] = []
    pos = 0
    while pos + 16 <= len(data):
        length, kind = struct.unpack("=IH", data[pos : pos + 6])
        if length < 16 or pos + length > len(data):
            break
        if kind in (RTM_NEWADDR, RTM_DELADDR) and length >= 24:
            family = data[pos + 16]
            size = {AF_INET: 4, AF_INET6: 16}.get(family)
            attrs: dict[int, bytes] = {}
            at = pos + 24
            while size is not None and at + 4 <= pos + length:
                alen, akind = struct.unpack("=HH", data[at : at + 4])
                if alen < 4 or at + alen > pos + length:
                    break
                attrs.setdefault(akind, data[at + 4 : at + alen])
                at += (alen + 3) & ~3
            raw = attrs.get(IFA_LOCAL, attrs.get(IFA_ADDRESS))
            if raw is not None and len(raw) == size:
                out.append((kind == RTM_NEWADDR, ip_address(raw)))
        pos += (length + 3) & ~3
    return out
