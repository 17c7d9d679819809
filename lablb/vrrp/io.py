"""The VRRP daemon's contact with the kernel: sockets, addresses, links. Edge only.

Everything that touches the OS for VRRP lives here, so the daemon loop reads as protocol:
a raw IPv4 socket for protocol 112 per interface (multicast group joined, TTL 255, no
loopback of our own adverts), an AF_PACKET socket for gratuitous ARP, ``ip addr`` for
the virtual addresses (the same command an operator would type), and a netlink socket
that wakes the loop when a link changes.
"""

from __future__ import annotations

import contextlib
import fcntl
import socket
import struct
import subprocess
from ipaddress import IPv4Address
from pathlib import Path

from lablb.config.model import VirtualAddress
from lablb.errors import LabError
from lablb.vrrp.garp import ETH_P_ARP, garp_frame
from lablb.vrrp.packet import IPPROTO_VRRP, VRRP_TTL

SIOCGIFADDR = 0x8915
RTMGRP_LINK = 1
IP_CMD_TIMEOUT = 5.0


def primary_ipv4(interface: str) -> IPv4Address | None:
    """The interface's primary IPv4 address (the one the kernel reports first)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            req = struct.pack("256s", interface.encode()[:15])
            return IPv4Address(fcntl.ioctl(s.fileno(), SIOCGIFADDR, req)[20:24])
        except OSError:
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
    """Protocol 112 on one interface: receive from the group and unicast, send to the
    group (or to unicast peers)."""

    def __init__(self, interface: str, source: IPv4Address, group: IPv4Address) -> None:
        self.interface, self.source, self.group = interface, source, group
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, IPPROTO_VRRP)
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, interface.encode())
            index = socket.if_nametoindex(interface)
            mreqn = group.packed + source.packed + struct.pack("@i", index)
            s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreqn)
            s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, mreqn)
            s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, VRRP_TTL)
            s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
            s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, VRRP_TTL)
            s.setblocking(False)
        except OSError as exc:
            s.close()
            raise LabError(f"cannot open VRRP socket on {interface}: {exc}") from exc
        self.sock = s

    def fileno(self) -> int:
        return self.sock.fileno()

    def send(self, message: bytes, peers: tuple[IPv4Address, ...] = ()) -> None:
        for dst in peers or (self.group,):
            # A link that is down fails the send; the FAULT logic reacts to the link itself.
            with contextlib.suppress(OSError):
                self.sock.sendto(message, (str(dst), 0))

    def receive(self) -> bytes | None:
        try:
            return self.sock.recv(65535)
        except (BlockingIOError, InterruptedError):
            return None

    def close(self) -> None:
        self.sock.close()


class GarpSender:
    """Gratuitous ARP on one interface (AF_PACKET, so no ARP state is needed)."""

    def __init__(self, interface: str) -> None:
        self.interface = interface
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
        self.sock.bind((interface, ETH_P_ARP))

    def send(self, address: IPv4Address, count: int) -> int:
        frame = garp_frame(mac_of(self.interface), address)
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
        try:
            while self.sock.recv(65535):
                pass
        except (BlockingIOError, InterruptedError):
            return

    def close(self) -> None:
        self.sock.close()


def _ip(args: list[str]) -> tuple[int, str]:
    proc = subprocess.run(
        ["ip", *args], capture_output=True, text=True, timeout=IP_CMD_TIMEOUT, check=False
    )
    return proc.returncode, proc.stderr.strip()


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


def add_vip(vip: VirtualAddress, default_dev: str) -> str | None:
    """Add the address; None on success (or already there), else the error."""
    code, err = _ip(["addr", "add", *vip_argv(vip, default_dev)])
    return None if code == 0 or "File exists" in err else err


def del_vip(vip: VirtualAddress, default_dev: str) -> str | None:
    argv = vip_argv(vip, default_dev)[:3]  # address and dev identify it
    code, err = _ip(["addr", "del", *argv])
    return None if code == 0 or "Cannot assign" in err else err
