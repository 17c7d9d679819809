"""The VRRP daemon's contact with the kernel: sockets, addresses, links. Edge only.

Everything that touches the OS for VRRP lives here, so the daemon loop reads as protocol:
a raw IPv4 socket for protocol 112 per interface (multicast group joined, TTL 255, TOS
0xc0 as keepalived marks adverts, no loopback of our own adverts), and for IPv6
instances a raw IPv6 one (ff02::12 joined, bound to the link-local address, hop limit
255, traffic class 0xc0; hop limit and destination read from ancillary data), an
AF_PACKET socket for gratuitous ARP and a raw ICMPv6 one for unsolicited neighbour
advertisements, rtnetlink for the virtual addresses (``lablb.vrrp.netlink``: what ``ip
addr`` would send, without a process per address), and a netlink socket that wakes the
loop when a link changes.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket
import struct
import time
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path

from lablb.bpf import attach
from lablb.config.model import VirtualAddress
from lablb.errors import LabError
from lablb.loop import drain
from lablb.vrrp import netlink
from lablb.vrrp.ah import IPPROTO_AH
from lablb.vrrp.garp import ETH_P_ARP, garp_frame
from lablb.vrrp.ndisc import ALL_NODES, HOP_LIMIT, unsolicited_na
from lablb.vrrp.packet import IPPROTO_VRRP, VRRP_GROUP6, VRRP_TOS, VRRP_TTL, vrid_filter

SIOCGIFADDR = 0x8915
RTMGRP_LINK = 1
IP_CMD_TIMEOUT = 5.0
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # asm-generic/socket.h
STAMP_SPACE = socket.CMSG_SPACE(16)  # struct timespec


def arrival(ancillary: list[tuple[int, int, bytes]]) -> float:
    """When the kernel received a datagram, on the monotonic clock the engine's timers
    run on. The kernel stamps it in CLOCK_REALTIME (SO_TIMESTAMPNS); the two clocks are
    read back to back to carry it over. Without a stamp: now.

    RFC 3768/5798 section 6.4.2 resets the Master_Down_Timer when an advert is
    received: the kernel's receipt, not the moment a busy daemon got round to reading
    it. A backup woken late (another task on its CPU) would otherwise start its timer
    late and take over late by the same amount."""
    mono, real = time.monotonic(), time.time()
    for level, kind, value in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(value) >= 16:
            sec, nsec = struct.unpack("@qq", value[:16])
            stamped: float = sec + nsec / 1e9
            return min(mono, mono - (real - stamped))
    return mono


def primary_ipv4(interface: str) -> IPv4Address | None:
    """The interface's primary IPv4 address (the one the kernel reports first)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            req = struct.pack("256s", interface.encode()[:15])
            return IPv4Address(fcntl.ioctl(s.fileno(), SIOCGIFADDR, req)[20:24])
        except OSError:
            return None


IF_INET6 = Path("/proc/net/if_inet6")
SCOPE_LINK = 0x20
IFA_F_TENTATIVE, IFA_F_DADFAILED = 0x40, 0x08


def link_local(interface: str) -> IPv6Address | None:
    """The interface's usable link-local IPv6 address (not tentative), if any: the
    source of IPv6 adverts (RFC 5798 section 5.1.2.1)."""
    try:
        rows = IF_INET6.read_text().splitlines()
    except OSError:
        return None
    for row in rows:
        f = row.split()
        if len(f) != 6 or f[5] != interface:
            continue
        scope, flags = int(f[3], 16), int(f[4], 16)
        if scope == SCOPE_LINK and not flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED):
            return IPv6Address(int(f[0], 16))
    return None


def link_up(interface: str) -> bool:
    """Administratively up and with carrier (operstate up; loopback says unknown)."""
    try:
        state = Path(f"/sys/class/net/{interface}/operstate").read_text().strip()
    except OSError:
        return False
    return state in ("up", "unknown")


def mac_of(interface: str) -> str:
    return Path(f"/sys/class/net/{interface}/address").read_text().strip()


class VrrpSocket:
    """Protocol 112 over IPv4 on one interface: receive from the group and unicast, send to the
    group (or to unicast peers). With ``ah``, also protocol 51 (IPsec AH around VRRPv2),
    whose datagrams lablb builds whole (IP_HDRINCL: the ICV covers the IP header)."""

    def __init__(
        self, interface: str, source: IPv4Address, group: IPv4Address, ah: bool = False
    ) -> None:
        self.interface, self.source, self.group = interface, source, group
        self.family = 4
        self.sock = self._open(IPPROTO_VRRP)
        self.ah_sock = self._open(IPPROTO_AH, hdrincl=True) if ah else None
        self._ident = 0

    def _open(self, protocol: int, hdrincl: bool = False) -> socket.socket:
        interface, source, group = self.interface, self.source, self.group
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, protocol)
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, interface.encode())
            index = socket.if_nametoindex(interface)
            mreqn = group.packed + source.packed + struct.pack("@i", index)
            s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreqn)
            s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, mreqn)
            s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, VRRP_TTL)
            s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
            s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, VRRP_TTL)
            s.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, VRRP_TOS)
            s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            if hdrincl:
                s.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
            s.setblocking(False)
        except OSError as exc:
            s.close()
            raise LabError(f"cannot open VRRP socket on {interface}: {exc}") from exc
        return s

    def fds(self) -> list[int]:
        return [s.fileno() for s in (self.sock, self.ah_sock) if s is not None]

    def only_vrids(self, vrids: set[int]) -> None:
        """Have the kernel drop protocol-112 datagrams of any other VRID (a new set
        replaces the old: a reload may change them). AH datagrams are not filtered: their
        VRID is behind the AH header."""
        attach(self.sock, vrid_filter(vrids))

    def send(self, message: bytes, dst: IPv4Address) -> None:
        # A link that is down fails the send; the FAULT logic reacts to the link itself.
        with contextlib.suppress(OSError):
            self.sock.sendto(message, (str(dst), 0))

    def next_ident(self) -> int:
        """An IP identification for an AH datagram: never 0, which the kernel would
        replace (and so break the ICV, which covers it)."""
        self._ident = self._ident % 0xFFFF + 1
        return self._ident

    def send_ah(self, datagram: bytes, dst: IPv4Address) -> None:
        assert self.ah_sock is not None
        with contextlib.suppress(OSError):
            self.ah_sock.sendto(datagram, (str(dst), 0))

    def receive(self) -> tuple[bytes, float] | None:
        """The next protocol 112 datagram (with its IP header) and its arrival, or None."""
        return _receive(self.sock)

    def receive_ah(self) -> tuple[bytes, float] | None:
        """The next protocol 51 datagram (with its IP header) and its arrival, or None."""
        return _receive(self.ah_sock) if self.ah_sock is not None else None

    def close(self) -> None:
        self.sock.close()
        if self.ah_sock is not None:
            self.ah_sock.close()


def _receive(sock: socket.socket) -> tuple[bytes, float] | None:
    try:
        data, ancillary, _flags, _addr = sock.recvmsg(65535, STAMP_SPACE)
    except (BlockingIOError, InterruptedError):
        return None
    return data, arrival(ancillary)


class VrrpSocket6:
    """Protocol 112 over IPv6 on one interface: ff02::12 joined, sent from the
    link-local address with hop limit 255. The kernel hands a raw IPv6 socket the
    payload alone, so the source comes from recvmsg and the destination and hop limit
    from ancillary data (RFC 3542)."""

    family = 6

    def __init__(self, interface: str, source: IPv6Address) -> None:
        self.interface, self.source, self.group = interface, source, VRRP_GROUP6
        self.index = socket.if_nametoindex(interface)
        s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, IPPROTO_VRRP)
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, interface.encode())
            mreq = self.group.packed + struct.pack("@I", self.index)
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, self.index)
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, VRRP_TTL)
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, VRRP_TTL)
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_TCLASS, VRRP_TOS)
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVHOPLIMIT, 1)
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
            s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            s.bind((str(source), 0, 0, self.index))
            s.setblocking(False)
        except OSError as exc:
            s.close()
            raise LabError(f"cannot open IPv6 VRRP socket on {interface}: {exc}") from exc
        self.sock = s
        # in6_pktinfo, hop limit, receive stamp
        self.space = socket.CMSG_SPACE(20) + socket.CMSG_SPACE(4) + STAMP_SPACE

    def fds(self) -> list[int]:
        return [self.sock.fileno()]

    def send(self, message: bytes, dst: IPv6Address) -> None:
        with contextlib.suppress(OSError):
            self.sock.sendto(message, (str(dst), 0, 0, self.index))

    def receive(self) -> tuple[bytes, IPv6Address, IPv6Address, int, float] | None:
        """The next VRRP message with (source, destination, hop limit, arrival), or None."""
        try:
            data, ancillary, _flags, addr = self.sock.recvmsg(65535, self.space)
        except (BlockingIOError, InterruptedError):
            return None
        dst, hops = self.group, -1
        for level, kind, value in ancillary:
            if level == socket.IPPROTO_IPV6 and kind == socket.IPV6_PKTINFO and len(value) >= 16:
                dst = IPv6Address(value[:16])
            elif level == socket.IPPROTO_IPV6 and kind == socket.IPV6_HOPLIMIT and len(value) >= 4:
                hops = struct.unpack("@i", value[:4])[0]
        return data, IPv6Address(addr[0].split("%")[0]), dst, hops, arrival(ancillary)

    def close(self) -> None:
        self.sock.close()


class NaSender:
    """Unsolicited neighbour advertisements on one interface (a raw ICMPv6 socket, from
    the link-local address, hop limit 255, to ff02::1)."""

    def __init__(self, interface: str) -> None:
        self.interface = interface
        self.index = socket.if_nametoindex(interface)
        s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, interface.encode())
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, self.index)
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, HOP_LIMIT)
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
        except OSError as exc:
            s.close()
            raise LabError(f"cannot open an ICMPv6 socket on {interface}: {exc}") from exc
        self.sock = s

    def send(self, address: IPv6Address, count: int) -> int:
        message = unsolicited_na(mac_of(self.interface), address)
        clear_pending_error(self.sock)
        sent = 0
        for _ in range(count):
            try:
                self.sock.sendto(message, (str(ALL_NODES), 0, 0, self.index))
                sent += 1
            except OSError:
                break
        return sent

    def close(self) -> None:
        self.sock.close()


def clear_pending_error(sock: socket.socket) -> int:
    """Read (and so clear) an error the kernel left pending on ``sock``; 0 if none.

    When a link goes down the kernel marks the packet sockets bound to it with ENETDOWN
    (``packet_notifier``), and the next send returns that error instead of sending,
    however long ago the link came back: the first gratuitous ARP burst after an
    interface flap was lost (seen in the soak: count 0 for the cluster VIP)."""
    return sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)


class GarpSender:
    """Gratuitous ARP on one interface (AF_PACKET, so no ARP state is needed)."""

    def __init__(self, interface: str) -> None:
        self.interface = interface
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
        self.sock.bind((interface, ETH_P_ARP))

    def send(self, address: IPv4Address, count: int) -> int:
        frame = garp_frame(mac_of(self.interface), address)
        clear_pending_error(self.sock)
        sent = 0
        for _ in range(count):
            try:
                self.sock.send(frame)
                sent += 1
            except OSError:
                break
        return sent

    def close(self) -> None:
        self.sock.close()


class LinkWatch:
    """A netlink socket that becomes readable when any link changes."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        self.sock.bind((0, RTMGRP_LINK))
        self.sock.setblocking(False)

    def fileno(self) -> int:
        return self.sock.fileno()

    def drain(self) -> None:
        drain(self.sock)

    def close(self) -> None:
        self.sock.close()


def vip_argv(vip: VirtualAddress, default_dev: str) -> list[str]:
    """``ip addr`` arguments for one virtual_ipaddress line (keepalived's default /32)."""
    argv = [f"{vip.interface.ip}/{vip.interface.network.prefixlen}", "dev", vip.dev or default_dev]
    if vip.brd is not None:
        argv += ["broadcast", str(vip.brd)]
    if vip.scope is not None:
        argv += ["scope", vip.scope]
    if vip.label is not None:
        argv += ["label", vip.label]
    return argv


class AddressSocket:
    """rtnetlink requests for the virtual addresses (``lablb.vrrp.netlink``): one
    socket, an answer awaited per request, microseconds instead of an ``ip`` process."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        self.sock.bind((0, 0))
        self.sock.settimeout(IP_CMD_TIMEOUT)
        self.seq = 0

    def request(self, vip: VirtualAddress, default_dev: str, add: bool) -> int:
        """The errno of adding (or removing) ``vip``; 0 when done."""
        dev = vip.dev or default_dev
        try:
            index = socket.if_nametoindex(dev)
        except OSError:
            return errno.ENODEV
        self.seq += 1
        self.sock.send(netlink.address_message(vip, index, add, self.seq))
        while True:
            try:
                reply = self.sock.recv(65536)
            except TimeoutError:
                return errno.ETIMEDOUT
            code = netlink.ack_errno(reply, self.seq)
            if code is not None:
                return code

    def close(self) -> None:
        self.sock.close()


_ADDRESSES: list[AddressSocket] = []  # one socket per process, opened on first use


def _address(vip: VirtualAddress, default_dev: str, add: bool) -> int:
    if not _ADDRESSES:
        _ADDRESSES.append(AddressSocket())
    return _ADDRESSES[0].request(vip, default_dev, add)


def add_vip(vip: VirtualAddress, default_dev: str) -> str | None:
    """Add the address; None on success (or already there), else the error."""
    code = _address(vip, default_dev, add=True)
    return None if code in (0, errno.EEXIST) else f"{vip.interface}: {os.strerror(code)}"


def del_vip(vip: VirtualAddress, default_dev: str) -> str | None:
    code = _address(vip, default_dev, add=False)
    return None if code in (0, errno.EADDRNOTAVAIL) else f"{vip.interface}: {os.strerror(code)}"
