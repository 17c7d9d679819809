"""The LVS forwarder process: AF_PACKET in, rewrite, AF_PACKET out. Edge.

For each ``virtual_server`` it opens a packet socket where requests for VIP:port arrive,
with a kernel BPF filter so Python only ever sees those frames, and ``PACKET_VNET_HDR``
so checksum-partial and GSO frames from veth pass through whole. Each request goes to
the real server the service picks (``lablb.ipvs.service``), as ``lvs_method`` says:

- ``DR``: only the Ethernet addresses change; the real server (on the same LAN, the
  VIP on its ``lo``) answers the client itself;
- ``NAT``: the destination becomes RIP:port; the real servers route through the
  balancer, whose second socket reads their replies and sends them on from VIP:port
  (both checksums updated incrementally, GSO frames included);
- ``TUN``: the packet goes inside IPIP to the real server, wherever it is routed; the
  real server decapsulates (``lablb.lab.decap`` in the lab) and answers the client.

An nftables table keeps the balancer's own stack from answering those packets (it would
send RSTs: nothing listens on VIP:port here). It forwards only while the VIP is on this
node, that is while VRRP is MASTER for it: an address change wakes it through netlink.

It also listens for the checker process (real servers added, removed, re-weighted) on a
UNIX datagram socket, runs IPVS-style connection sync if ``lvs_sync_daemon`` is set, and
writes its state to ``forwarder.json`` in the run directory for ``lablb status``.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import struct
import subprocess
import time
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from pathlib import Path

from lablb.bpf import attach
from lablb.checker.logic import Pool, SetWeight, control_address
from lablb.config.load import load_lenient
from lablb.config.model import KeepalivedConfig, SyncDaemon, VirtualServer, v4
from lablb.errors import ConfigError, PacketError
from lablb.eventlog import EventLog, child_main
from lablb.ipvs.frame import (
    VNET_HDR_LEN,
    SyncConn,
    Vnet,
    bpf_program,
    bpf_reply_program,
    decode_sync,
    encode_sync,
    ipip,
    nat,
    parse,
    rewrite,
)
from lablb.ipvs.kernel import (
    DATAPLANE_ENV,
    DATAPLANES,
    DataplaneError,
    KernelPath,
    monotonic_ns_offset,
)
from lablb.ipvs.kmaps import KernelConn
from lablb.ipvs.route import Route, next_hop, routes_of
from lablb.ipvs.service import TCP, TIMEOUTS, UDP, Conn, ConnState, Flow, Service
from lablb.loop import Loop, drain, write_status
from lablb.vrrp.io import mac_of
from lablb.vrrp.netlink import address_events
from lablb.vrrp.sched import SHORT_SLICE_NS, short_slice

SOL_PACKET = 263
PACKET_VNET_HDR = 15
PACKET_IGNORE_OUTGOING = 23
ETH_P_ALL = 0x0003
RTMGRP_IPV4_IFADDR = 0x10
STATUS_EVERY = 0.5
SYNC_REFRESH = 1.0
NFT_TABLE = "lablb_dr"
# What the kernel takes: a connection that carries data. One that never got past its
# handshake, or is closing, stays in Python: a SYN prober's 1,000 connections a second
# (SYN, then RST: CLOSE for 10 s) would otherwise fill the kernel's table, and reading
# 10,000 of them back every status turn held the forwarder for tens of milliseconds.
KERNEL_STATES = (ConnState.ESTABLISHED, ConnState.UDP)


def local_address(ip: IPv4Address) -> bool:
    """Is ``ip`` configured on this node right now? (Binding to it succeeds only then.)"""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind((str(ip), 0))
        except OSError:
            return False
    return True


class AddressWatch:
    """Which IPv4 addresses are this node's, as rtnetlink's address events tell it.

    The kernel sends RTM_NEWADDR *before* it adds the address's local route (devinet.c,
    ``__inet_insert_ifa``: "Send message first, then call notifier"), and RTM_DELADDR
    before it removes it, so a ``bind`` right after the event can still fail for an
    address just added, or succeed for one just removed: a forwarder woken by keepalived's
    "setting VIPs" once stayed a backup for good (no answer through the VIP in CI). The
    event's own word is taken; ``local_address`` only for an address no event has named
    yet, or after the socket lost events (ENOBUFS)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        self.sock.bind((0, RTMGRP_IPV4_IFADDR))
        self.sock.setblocking(False)
        self._said: dict[IPv4Address, bool] = {}

    def read(self) -> None:
        """Every queued event taken in, in order."""
        while True:
            try:
                data = self.sock.recv(65536)
            except BlockingIOError:
                return
            except OSError as exc:  # ENOBUFS (reported once): events were lost
                if exc.errno != errno.ENOBUFS:
                    raise
                self._said.clear()  # so bind() decides again
                continue
            if not data:
                return
            for added, ip in address_events(data):
                if isinstance(ip, IPv4Address):
                    self._said[ip] = added

    def here(self, ip: IPv4Address) -> bool:
        said = self._said.get(ip)
        return local_address(ip) if said is None else said

    def close(self) -> None:
        self.sock.close()


def neighbours() -> dict[IPv4Address, bytes]:
    """The kernel's ARP table: address -> MAC, complete entries only."""
    out = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/net/arp").read_text().splitlines()[1:]:
            parts = line.split()
            if len(parts) >= 4 and parts[2] != "0x0" and parts[3] != "00:00:00:00:00:00":
                out[IPv4Address(parts[0])] = bytes.fromhex(parts[3].replace(":", ""))
    return out


def nudge_arp(ip: IPv4Address) -> None:
    """Make the kernel resolve ``ip``: one datagram to the discard port."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s, contextlib.suppress(OSError):
        s.sendto(b"", (str(ip), 9))


def nft(script: str) -> None:
    subprocess.run(
        ["nft", "-f", "-"], input=script, text=True, capture_output=True, timeout=5, check=False
    )


@dataclass
class ServicePath:
    """One virtual server's forwarding: where its requests arrive (``sock`` on
    ``interface``), where they leave for the real servers (``out`` on ``out_interface``:
    the same socket on one LAN), and for LVS-NAT where the real servers' replies come
    back (``reply``, on ``out_interface``)."""

    vs: VirtualServer
    service: Service
    interface: str
    sock: socket.socket
    mac: bytes
    out_interface: str
    out: socket.socket
    out_mac: bytes
    reply: socket.socket | None = None
    forwarded: int = 0
    replied: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    kernel: bool = False  # its established connections are the kernel's to forward
    installed: set[Flow] = field(default_factory=set)  # ... these, in the kernel's table
    kernel_forwarded: int = 0  # packets the kernel forwarded (as of the last refresh)
    kernel_retired: int = 0  # ... of connections since gone from its table
    out_ifindex: int = 0

    @property
    def method(self) -> str:
        return self.vs.lvs_method


def _packet_socket(iface: str, program: list[tuple[int, int, int, int]]) -> socket.socket:
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
    s.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
    attach(s, program)
    s.bind((iface, ETH_P_ALL))
    s.setblocking(False)
    return s


def _mac(iface: str) -> bytes:
    return bytes.fromhex(mac_of(iface).replace(":", ""))


def vip_interface(cfg: KeepalivedConfig, vip: IPv4Address) -> str | None:
    """The interface a VRRP instance puts ``vip`` on (its ``dev``, else the instance's
    interface): where requests for it arrive. None if no instance holds it."""
    for inst in cfg.vrrp_instances:
        for a in (*inst.virtual_ipaddress, *inst.virtual_ipaddress_excluded):
            if a.interface.ip == vip:
                return a.dev or inst.interface
    return None


def read_routes() -> list[Route]:
    out = subprocess.run(
        ["ip", "-j", "-4", "route", "show", "table", "main"],
        capture_output=True, text=True, timeout=5, check=False,
    ).stdout  # fmt: skip
    try:
        return routes_of(json.loads(out or "[]"))
    except ValueError:
        return []


def first_address(iface: str) -> IPv4Address | None:
    out = subprocess.run(
        ["ip", "-j", "-4", "addr", "show", "dev", iface],
        capture_output=True, text=True, timeout=5, check=False,
    ).stdout  # fmt: skip
    with contextlib.suppress(ValueError, KeyError, IndexError, TypeError):
        for a in json.loads(out)[0]["addr_info"]:
            return IPv4Address(a["local"])
    return None


NOTHING = [(0x06, 0, 0, 0)]  # a filter that takes no frame: a socket that only sends


@dataclass
class Forwarder:
    config: KeepalivedConfig
    run_dir: Path
    log: EventLog
    services: list[ServicePath] = field(default_factory=list)
    macs: dict[IPv4Address, bytes] = field(default_factory=dict)
    new_conns: list[Conn] = field(default_factory=list)  # to announce to the backup
    routes: list[Route] = field(default_factory=list)
    tun_src: dict[str, IPv4Address] = field(default_factory=dict)  # interface -> address
    ident: int = 0  # the outer IPv4 header's identification, LVS-TUN
    kernel: KernelPath | None = None  # the kernel data plane, for DR services
    ns_offset: float = field(default_factory=monotonic_ns_offset)  # bpf_ktime -> monotonic

    def setup(self) -> None:
        rules, forward = [], []
        hooked: set[str] = set()
        self.routes = read_routes()
        for vs in self.config.virtual_servers:
            if vs.address is None or vs.port is None:
                raise ConfigError(
                    f"virtual_server {vs.label}: lablb forwards IP:port services only"
                )
            proto = TCP if vs.protocol == "TCP" else UDP
            vip = v4(vs.address)
            svc = Service(
                vip,
                vs.port,
                proto,
                vs.lvs_sched,
                float(vs.persistence_timeout) if vs.persistence_timeout else None,
                answered=vs.lvs_method == "NAT",
            )
            out_if = (
                next_hop(self.routes, v4(vs.real_servers[0].address)).dev
                if vs.real_servers
                else "eth0"
            )
            # Direct Routing's real servers are on the LAN the requests arrive on.
            in_if = out_if if vs.lvs_method == "DR" else vip_interface(self.config, vip) or out_if
            sock = _packet_socket(in_if, bpf_program(vip, vs.port, proto))
            out = sock if out_if == in_if else _packet_socket(out_if, NOTHING)
            in_kernel = self.kernel is not None and vs.lvs_method == "DR"
            if in_kernel:
                assert self.kernel is not None
                self.kernel.tap(sock)
                if in_if not in hooked:
                    self.kernel.attach(in_if)
                    hooked.add(in_if)
            reply = None
            if vs.lvs_method == "NAT":
                # One port: ``lablb.config.runnable`` refuses NAT to real servers on two.
                port = next((rs.port for rs in vs.real_servers if rs.port), vs.port)
                reply = _packet_socket(out_if, bpf_reply_program(port, proto))
                forward += [f"ip saddr {rs.address} {vs.protocol.lower()} sport {port} drop"
                            for rs in vs.real_servers]  # fmt: skip
            if vs.lvs_method == "TUN" and out_if not in self.tun_src:
                first = vs.real_servers[0].address if vs.real_servers else None
                src = next_hop(self.routes, v4(first)).src if first is not None else None
                addr = src or first_address(out_if)
                if addr is None:
                    raise ConfigError(
                        f"virtual_server {vs.label}: {out_if} has no address to tunnel from"
                    )
                self.tun_src[out_if] = addr
            path = ServicePath(vs, svc, in_if, sock, _mac(in_if), out_if, out, _mac(out_if), reply)
            path.kernel, path.out_ifindex = in_kernel, socket.if_nametoindex(out_if)
            self.services.append(path)
            rules.append(f"ip daddr {vs.address} {vs.protocol.lower()} dport {vs.port} drop")
        self._seed_pools()
        # The balancer's own stack must not answer what it forwards (it would RST), nor
        # route LVS-NAT's replies on unrewritten (the client would RST them).
        body = "".join(f"    {r}\n" for r in rules)
        fwd = "".join(f"    {r}\n" for r in forward)
        forward_chain = (
            f"  chain forward {{\n    type filter hook forward priority -300; policy accept;\n"
            f"{fwd}  }}\n"
            if forward
            else ""
        )
        nft(
            f"table ip {NFT_TABLE} {{\n  chain input {{\n"
            f"    type filter hook input priority -300; policy accept;\n{body}  }}\n"
            f"{forward_chain}}}\n"
        )
        self.log(
            "forwarder-start",
            services=[d.vs.label for d in self.services],
            methods=[d.method for d in self.services],
        )

    def _seed_pools(self) -> None:
        """Start with the real servers the checker starts with (every one up unless
        ``alpha``, as keepalived's IPVS table starts), so a node that takes the VIP
        before the checker's first report still forwards; that report sets the same."""
        for d in self.services:
            for action in Pool(d.vs).initial():
                if isinstance(action, SetWeight):
                    d.service.set_dest(action.addr, action.port, action.weight)

    def teardown(self) -> None:
        nft(f"delete table ip {NFT_TABLE}\n")
        if self.kernel is not None:
            self.kernel.close()
        for d in self.services:
            for s in {d.sock, d.out, d.reply} - {None}:
                assert s is not None
                s.close()

    # -- control from the checker -----------------------------------------------------
    def control(self, msg: dict[str, object]) -> None:
        for d in self.services:
            if d.vs.label != msg.get("vs"):
                continue
            addr, port = IPv4Address(str(msg["addr"])), int(str(msg["port"]))
            if msg.get("op") == "remove":
                d.service.remove_dest(addr, port)
            else:
                d.service.set_dest(addr, port, int(str(msg["weight"])))
                if addr not in self.macs:
                    nudge_arp(addr)
            self.log(
                "dest",
                vs=d.vs.label,
                op=msg.get("op"),
                addr=addr,
                port=port,
                weight=msg.get("weight"),
            )

    # -- packets ---------------------------------------------------------------------------
    def _read(self, d: ServicePath, sock: socket.socket) -> list[tuple[Vnet, bytes]]:
        """Up to 256 frames (bounded: timers and control get their turn)."""
        frames = []
        for _ in range(256):
            try:
                buf = sock.recv(65536 + VNET_HDR_LEN)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:  # e.g. ENETDOWN while the interface is down
                self._drop(d, f"receive: {exc.strerror}")
                break
            frames.append((Vnet.unpack(buf), buf[VNET_HDR_LEN:]))
        return frames

    def _mac_of(self, ip: IPv4Address) -> bytes | None:
        """The MAC of next hop ``ip``, from the ARP table; None (and a nudge, so the
        kernel asks) while unknown."""
        mac = self.macs.get(ip)
        if mac is None:
            self.macs.update(neighbours())
            mac = self.macs.get(ip)
        if mac is None:
            nudge_arp(ip)
        return mac

    def _send(self, d: ServicePath, sock: socket.socket, vnet: Vnet, frame: bytes) -> bool:
        try:
            sock.send(vnet.pack() + frame)
        except OSError as exc:
            self._drop(d, f"send: {exc.strerror}")
            return False
        return True

    def on_frames(self, d: ServicePath, now: float, master: bool) -> None:
        """Requests for VIP:port: to the real server the service picks, by the virtual
        server's method (DR: new MACs; NAT: new destination; TUN: inside IPIP)."""
        for vnet, frame in self._read(d, d.sock):
            try:
                p = parse(frame)
            except PacketError as exc:
                self._drop(d, str(exc.reason) if master else "not master")
                continue
            if d.kernel and not d.service.serves(p.flow):
                continue  # another DR service's, on the same interface: its socket has it
            if not master:
                self._drop(d, "not master")
                continue
            decision = d.service.packet(now, p.flow, p.flags, p.length)
            if decision.new and p.flow in d.installed:
                self._uninstall(d, p.flow)  # the same ports again: a new connection
            if decision.dest is None:
                self._drop(d, decision.reason)
                continue
            rip = decision.dest[0]
            try:
                hop = next_hop(self.routes, rip) if d.method != "DR" else None
            except ConfigError:
                self._drop(d, "no route to the real server")
                continue
            mac = self._mac_of(hop.via if hop is not None else rip)
            if mac is None:
                self._drop(d, "real server MAC unknown")
                continue
            try:
                if d.method == "NAT":
                    out = nat(frame, vnet, (mac, d.out_mac), dst=decision.dest)
                elif d.method == "TUN":
                    self.ident += 1
                    outer = (self.tun_src[d.out_interface], rip)
                    out = ipip(frame, vnet, (mac, d.out_mac), outer, self.ident)
                else:
                    out = rewrite(frame, mac, d.mac)
            except PacketError as exc:
                self._drop(d, str(exc.reason))
                continue
            # A tunnelled frame leaves complete (``ipip``): no offload left to do.
            if self._send(d, d.out, Vnet() if d.method == "TUN" else vnet, out):
                d.forwarded += 1
                if d.kernel and p.flow not in d.installed:
                    self._install(d, p.flow, mac)
            if decision.new:
                self.new_conns.append(d.service.conns[p.flow])

    def on_replies(self, d: ServicePath, now: float, master: bool) -> None:
        """LVS-NAT's return half: a real server's packet of a known connection leaves
        from VIP:port, towards the client's next hop. A packet of no connection (a
        health check's answer) is the balancer's own: its stack has it."""
        for vnet, frame in self._read(d, d.reply) if d.reply is not None else ():
            try:
                p = parse(frame)
            except PacketError:
                continue
            f = p.flow  # as parsed: client = the real server, vip = the client
            conn = d.service.reply(now, f.proto, (f.client, f.cport), (f.vip, f.vport))
            if conn is None:
                continue
            if not master:
                self._drop(d, "reply while not master")
                continue
            try:
                hop = next_hop(self.routes, f.vip)
            except ConfigError:
                self._drop(d, "no route to the client")
                continue
            # Out of the interface the requests came in on (or the real servers' side):
            # the service's own sockets, whose MACs were read at start.
            if hop.dev == d.interface:
                sock, own = d.sock, d.mac
            elif hop.dev == d.out_interface:
                sock, own = d.out, d.out_mac
            else:
                self._drop(d, f"the client is routed out of {hop.dev}")
                continue
            mac = self._mac_of(hop.via)
            if mac is None:
                self._drop(d, "client next hop MAC unknown")
                continue
            out = nat(frame, vnet, (mac, own), src=(conn.flow.vip, conn.flow.vport))
            if self._send(d, sock, vnet, out):
                d.replied += 1

    # -- the kernel data plane ------------------------------------------------------------
    def _install(self, d: ServicePath, flow: Flow, mac: bytes) -> None:
        """Hand an established connection (or a UDP flow) to the kernel, which forwards
        its packets from now on; a connection still in its handshake stays here, so the
        table sees it become established."""
        conn = d.service.conns.get(flow)
        if self.kernel is None or conn is None or conn.state not in KERNEL_STATES:
            return
        try:
            self.kernel.install(flow, KernelConn(mac, d.out_mac, d.out_ifindex))
        except DataplaneError as exc:
            self._drop(d, f"kernel table: {exc}")  # forwarded here instead, as before
            return
        d.installed.add(flow)

    def _uninstall(self, d: ServicePath, flow: Flow, packets: int | None = None) -> None:
        """Out of the kernel's table, its packets counted (``packets``: as just read)."""
        if self.kernel is not None:
            if packets is None:
                k = self.kernel.lookup(flow)
                packets = k.packets if k is not None else 0
            d.kernel_retired += packets
            self.kernel.remove(flow)
        d.installed.discard(flow)

    def adopted(self, d: ServicePath, flow: Flow) -> None:
        """A connection the master synced: into the kernel's table too, when its real
        server's MAC is known (else its first packet here installs it), so a takeover
        forwards it without Python."""
        if d.kernel:
            conn = d.service.conns[flow]
            mac = self.macs.get(conn.dest[0])
            if mac is not None:
                self._install(d, flow, mac)

    def set_forwarding(self, forwarding: list[bool]) -> None:
        """Which services the kernel forwards for: those whose VIP is here."""
        for d, on in zip(self.services, forwarding, strict=True):
            if d.kernel and self.kernel is not None:
                s = d.service
                self.kernel.set_service(s.vip, s.port, s.proto, on)

    def refresh(self, d: ServicePath, now: float) -> None:
        """Expire the table as IPVS does, counting the kernel's packets as seen: an
        installed connection's timer runs from the last packet the kernel forwarded
        for it. A connection the table forgets leaves the kernel's."""
        packets: dict[Flow, int] = {}  # per installed connection, read once
        if self.kernel is not None and d.kernel:
            for flow in list(d.installed):
                k = self.kernel.lookup(flow)
                conn = d.service.conns.get(flow)
                if k is None:
                    d.installed.discard(flow)
                    continue
                packets[flow] = k.packets
                if conn is not None and k.last_ns:
                    seen = k.last_ns / 1e9 + self.ns_offset
                    conn.expires = max(conn.expires, seen + TIMEOUTS[conn.state])
            d.kernel_forwarded = d.kernel_retired + sum(packets.values())
        d.service.expire(now)
        for flow in [f for f in d.installed if f not in d.service.conns]:
            self._uninstall(d, flow, packets.get(flow))

    def _drop(self, d: ServicePath, reason: str) -> None:
        d.dropped[reason] = d.dropped.get(reason, 0) + 1

    # -- status --------------------------------------------------------------------------
    def status(self, master: bool) -> dict[str, object]:
        return {
            "ts": time.monotonic(),
            "forwarding": master,
            "services": [
                {
                    "vs": d.vs.label,
                    "scheduler": d.vs.lvs_sched,
                    "method": d.method,
                    "interface": d.interface,
                    "out_interface": d.out_interface,
                    "replied": d.replied,
                    "persistence": d.service.persistence,
                    "forwarded": d.forwarded,
                    "dataplane": "kernel" if d.kernel else "python",
                    "kernel_forwarded": d.kernel_forwarded,
                    "dropped": d.dropped,
                    "conns": len(d.service.conns),
                    "dests": [
                        {
                            "addr": str(x.addr),
                            "port": x.port,
                            "weight": x.weight,
                            "active": x.active,
                            "inactive": x.inactive,
                        }
                        for x in d.service.dests.values()
                    ],
                }
                for d in self.services
            ],
        }


def _forwarding(services: list[ServicePath], addrs: AddressWatch) -> list[bool]:
    """Per service: is its VIP on this node (the node is its VRRP master)? Each service
    forwards on its own: in an active-active pair a node masters one VIP, not both."""
    return [d.vs.address is not None and addrs.here(v4(d.vs.address)) for d in services]


def _sync_master(cfg: KeepalivedConfig, forwarding: list[bool], addrs: AddressWatch) -> bool:
    """The connection-sync role follows the VRRP instance ``lvs_sync_daemon`` names, as
    keepalived's does: master while that instance's VIPs are here, else backup (which
    receives). Without such an instance: master while any service forwards."""
    sd = cfg.global_defs.lvs_sync_daemon
    inst = cfg.instance(sd.instance) if sd is not None else None
    if inst is None or not inst.vips:
        return any(forwarding)
    return any(addrs.here(v4(v)) for v in inst.vips)


def _sync_socket(cfg: KeepalivedConfig) -> socket.socket | None:
    sd = cfg.global_defs.lvs_sync_daemon
    if sd is None:
        return None
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, sd.interface.encode())
    s.bind(("", sd.port))
    ifindex = socket.if_nametoindex(sd.interface)
    mreqn = sd.group.packed + bytes(4) + struct.pack("@i", ifindex)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreqn)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, mreqn)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
    s.setblocking(False)
    return s


def _write_status(run_dir: Path, status: dict[str, object]) -> None:
    write_status(run_dir / "forwarder.json", status)


def _ask_macs(fwd: Forwarder) -> None:
    """Ask for the real servers' MACs now; the answers are read when the first packet
    for each needs them (a miss re-reads the ARP table), not waited for here: VRRP
    starts once this process is ready, and a restarted master's start is a race."""
    for d in fwd.services:
        for rs in d.vs.real_servers:
            nudge_arp(v4(rs.address))
    if any(d.method == "NAT" for d in fwd.services):  # the clients' next hops
        for gw in {r.gateway for r in fwd.routes if r.gateway is not None}:
            nudge_arp(gw)
    fwd.macs.update(neighbours())


def _on_control(ctl: socket.socket, fwd: Forwarder, log: EventLog) -> None:
    """The checker's changes to the real servers, as they are queued."""
    with contextlib.suppress(BlockingIOError):
        while True:
            data = ctl.recv(65536)
            try:
                fwd.control(json.loads(data))
            except (ValueError, KeyError, TypeError) as exc:
                log("control-error", error=str(exc))


def _adopt_synced(sync: socket.socket, sd: SyncDaemon, fwd: Forwarder, now: float) -> None:
    """The master's connections, as its sync daemon sent them: each adopted by its
    service (a datagram that does not decode is dropped)."""
    with contextlib.suppress(BlockingIOError):
        while True:
            data = sync.recv(65536)
            try:
                conns = decode_sync(data, sd.sync_id)
            except PacketError:
                continue
            for c in conns:
                for d in fwd.services:
                    if d.service.serves(c.flow):
                        d.service.adopt(now, c.flow, c.dest, c.state, c.timeout)
                        fwd.adopted(d, c.flow)


def _send_sync(
    sync: socket.socket, sd: SyncDaemon, fwd: Forwarder, now: float, full: bool
) -> None:
    """The new connections to the backups (``full``: every connection, the periodic
    refresh), 40 to a datagram."""
    send = (
        [c for d in fwd.services for c in d.service.conns.values()]
        if full
        else list(fwd.new_conns)
    )
    fwd.new_conns.clear()
    for i in range(0, len(send), 40):
        batch = [
            SyncConn(c.flow, c.dest, c.state, max(0.0, c.expires - now))
            for c in send[i : i + 40]
        ]
        with contextlib.suppress(OSError):
            sync.sendto(encode_sync(sd.sync_id, batch), (str(sd.group), sd.port))


def _sync_turn(
    sync: socket.socket | None,
    sd: SyncDaemon | None,
    fwd: Forwarder,
    now: float,
    heard: bool,
    master: bool,
    last_sync: float,
) -> float:
    """One turn of connection sync: a backup adopts what the master sent (``heard``:
    something is queued); the master sends its new connections, and all of them every
    ``SYNC_REFRESH``. Returns when the last full refresh went."""
    if sync is None or sd is None:
        fwd.new_conns.clear()
        return last_sync
    if heard and not master:
        _adopt_synced(sync, sd, fwd, now)
    elif heard:
        drain(sync)
    if master and (fwd.new_conns or now - last_sync >= SYNC_REFRESH):
        full = now - last_sync >= SYNC_REFRESH
        _send_sync(sync, sd, fwd, now, full)
        if full:
            return now
    return last_sync


def _kernel(cfg: KeepalivedConfig, log: EventLog) -> KernelPath | None:
    """The kernel data plane, if the configuration has a DR service, ``LABLB_DATAPLANE``
    does not say ``python``, and the program loads; else None, and the log says why."""
    wanted = os.environ.get(DATAPLANE_ENV) or "kernel"
    if wanted not in DATAPLANES:
        raise ConfigError(f"{DATAPLANE_ENV}={wanted}: the data plane is one of "
                          f"{', '.join(DATAPLANES)}")  # fmt: skip
    if not any(vs.lvs_method == "DR" for vs in cfg.virtual_servers):
        return None
    if wanted == "python":
        log("dataplane", path="python", why=f"{DATAPLANE_ENV}=python")
        return None
    try:
        kernel = KernelPath.open()
    except DataplaneError as exc:
        log("dataplane", path="python", why=str(exc))
        return None
    log("dataplane", path="kernel")
    return kernel


def _set_up(cfg: KeepalivedConfig, run_dir: Path, log: EventLog) -> Forwarder:
    """The forwarder's services, on the kernel data plane where it runs, else (or if it
    will not attach) on the AF_PACKET path alone."""
    fwd = Forwarder(cfg, run_dir, log, kernel=_kernel(cfg, log))
    try:
        fwd.setup()
    except DataplaneError as exc:
        fwd.teardown()
        log("dataplane", path="python", why=str(exc))
        fwd = Forwarder(cfg, run_dir, log)
        fwd.setup()
    return fwd


def run(config_path: str, run_dir: Path, log: EventLog, run_for: float | None = None) -> int:
    cfg = load_lenient(config_path)
    loop = Loop()
    run_dir.mkdir(parents=True, exist_ok=True)
    # IPVS forwards in softirq context, ahead of every task; its stand-in here is a
    # timesharing process, so it asks for the short slice: a frame's wake-up preempts
    # the running task instead of waiting out its slice (lablb.vrrp.sched.short_slice).
    why = short_slice()
    log("sched", policy="other", slice_us=SHORT_SLICE_NS // 1000 if why is None else None,
        **({} if why is None else {"slice": why}))  # fmt: skip
    ctl = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ctl.bind(control_address(str(run_dir.resolve())))
    ctl.setblocking(False)
    addrs = AddressWatch()
    sync = _sync_socket(cfg)
    sd = cfg.global_defs.lvs_sync_daemon
    fwd = _set_up(cfg, run_dir, log)
    try:
        _ask_macs(fwd)
        forwarding = _forwarding(fwd.services, addrs)
        fwd.set_forwarding(forwarding)
        master = any(forwarding)
        sync_master = _sync_master(cfg, forwarding, addrs)
        log("forwarding", on=master, services=forwarding)
        _write_status(run_dir, fwd.status(master))  # also "ready" to ``lablb daemon``
        start = last_status = last_sync = time.monotonic()
        by_fd = {d.sock.fileno(): d for d in fwd.services}
        replies = {d.reply.fileno(): d for d in fwd.services if d.reply is not None}
        while not loop.stopping:
            now = time.monotonic()
            if run_for is not None and now - start >= run_for:
                break
            fds = [*by_fd, *replies, ctl.fileno(), addrs.sock.fileno()]
            fds += [sync.fileno()] if sync else []
            readable = loop.wait(fds, STATUS_EVERY / 2)
            now = time.monotonic()
            if loop.take_reload():
                # SIGHUP reloads VRRP and the checkers; the forwarder keeps its services
                # (restart it to change them) and hears the real servers' changes from
                # the checker.
                log("reload-skipped", why="services are fixed at start; real servers "
                    "change through the checker")  # fmt: skip
            # Addresses first: a frame read after the VIP left is not forwarded, even if
            # it was queued before (a frame's arrival cannot be ordered against the
            # address change here). Forwarding queued frames under the old addresses
            # was tried: a forwarder that ran late then forwarded requests that came
            # after the VIP had gone (a SYN answered 1.2 s late in the soak), which a
            # balancer without the VIP must never do.
            if addrs.sock.fileno() in readable:
                addrs.read()
                was, forwarding = forwarding, _forwarding(fwd.services, addrs)
                master, sync_master = any(forwarding), _sync_master(cfg, forwarding, addrs)
                if was != forwarding:
                    fwd.set_forwarding(forwarding)
                    log("forwarding", on=master, services=forwarding)
            for fd in readable:
                if fd in by_fd:
                    d = by_fd[fd]
                    fwd.on_frames(d, now, forwarding[fwd.services.index(d)])
                elif fd in replies:
                    d = replies[fd]
                    fwd.on_replies(d, now, forwarding[fwd.services.index(d)])
            if ctl.fileno() in readable:
                _on_control(ctl, fwd, log)
            heard = sync is not None and sync.fileno() in readable
            last_sync = _sync_turn(sync, sd, fwd, now, heard, sync_master, last_sync)
            if now - last_status >= STATUS_EVERY:
                for d in fwd.services:
                    fwd.refresh(d, now)
                _write_status(run_dir, fwd.status(master))
                last_status = now
    finally:
        _write_status(run_dir, fwd.status(False))
        fwd.teardown()
        ctl.close()
        addrs.close()
        if sync is not None:
            sync.close()
        loop.close()
        log("forwarder-stop")
    return 0


def main(argv: list[str] | None = None) -> int:
    return child_main("lablb-forwarder", run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
