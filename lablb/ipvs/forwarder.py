"""The Direct Routing forwarder process: AF_PACKET in, MAC rewrite, AF_PACKET out. Edge.

For each DR ``virtual_server`` it opens a packet socket on the interface that reaches
the real servers, with a kernel BPF filter so Python only ever sees frames for VIP:port,
and ``PACKET_VNET_HDR`` so checksum-partial and GSO frames from veth pass through whole.
An nftables table keeps the balancer's own stack from answering those packets (it would
send RSTs: nothing listens on VIP:port here). It forwards only while the VIP is on this
node, that is while VRRP is MASTER for it: an address change wakes it through netlink.

It also listens for the checker process (real servers added, removed, re-weighted) on a
UNIX datagram socket, runs IPVS-style connection sync if ``lvs_sync_daemon`` is set, and
writes its state to ``forwarder.json`` in the run directory for ``lablb status``.
"""

from __future__ import annotations

import contextlib
import json
import select
import signal
import socket
import struct
import subprocess
import time
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from pathlib import Path

from lablb.bpf import attach
from lablb.checker.logic import Pool, SetWeight
from lablb.config.load import load_lenient
from lablb.config.model import KeepalivedConfig, VirtualServer, v4
from lablb.errors import ConfigError, PacketError
from lablb.eventlog import EventLog, child_main
from lablb.ipvs.frame import (
    VNET_HDR_LEN,
    SyncConn,
    bpf_program,
    control_address,
    decode_sync,
    encode_sync,
    parse,
    rewrite,
)
from lablb.ipvs.service import TCP, UDP, Conn, Service
from lablb.vrrp.io import mac_of

SOL_PACKET = 263
PACKET_VNET_HDR = 15
PACKET_IGNORE_OUTGOING = 23
ETH_P_ALL = 0x0003
RTMGRP_IPV4_IFADDR = 0x10
STATUS_EVERY = 0.5
SYNC_REFRESH = 1.0
NFT_TABLE = "lablb_dr"


def local_address(ip: IPv4Address) -> bool:
    """Is ``ip`` configured on this node right now? (Binding to it succeeds only then.)"""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind((str(ip), 0))
        except OSError:
            return False
    return True


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


def route_interface(ip: IPv4Address) -> str:
    out = subprocess.run(
        ["ip", "-j", "route", "get", str(ip)],
        capture_output=True,
        text=True,
        timeout=5,
        check=False,
    ).stdout
    try:
        return str(json.loads(out)[0]["dev"])
    except (ValueError, KeyError, IndexError):
        raise ConfigError(f"no route to real server {ip} on this node") from None


def nft(script: str) -> None:
    subprocess.run(
        ["nft", "-f", "-"], input=script, text=True, capture_output=True, timeout=5, check=False
    )


@dataclass
class DrService:
    vs: VirtualServer
    service: Service
    interface: str
    sock: socket.socket
    mac: bytes
    forwarded: int = 0
    dropped: dict[str, int] = field(default_factory=dict)


@dataclass
class Forwarder:
    config: KeepalivedConfig
    run_dir: Path
    log: EventLog
    services: list[DrService] = field(default_factory=list)
    macs: dict[IPv4Address, bytes] = field(default_factory=dict)
    new_conns: list[Conn] = field(default_factory=list)  # to announce to the backup

    def setup(self) -> None:
        rules = []
        for vs in self.config.virtual_servers:
            if vs.address is None or vs.port is None:
                raise ConfigError(
                    f"virtual_server {vs.label}: lablb forwards IP:port services only"
                )
            if vs.lvs_method != "DR":
                raise ConfigError(
                    f"virtual_server {vs.label}: lvs_method {vs.lvs_method} is not implemented;"
                    " lablb forwards with DR (Direct Routing)"
                )
            proto = TCP if vs.protocol == "TCP" else UDP
            vip = v4(vs.address)
            svc = Service(
                vip,
                vs.port,
                proto,
                vs.lvs_sched,
                float(vs.persistence_timeout) if vs.persistence_timeout else None,
            )
            iface = route_interface(v4(vs.real_servers[0].address)) if vs.real_servers else "eth0"
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            s.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
            s.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
            attach(s, bpf_program(vip, vs.port, proto))
            s.bind((iface, ETH_P_ALL))
            s.setblocking(False)
            self.services.append(
                DrService(vs, svc, iface, s, bytes.fromhex(mac_of(iface).replace(":", "")))
            )
            rules.append(f"ip daddr {vs.address} {vs.protocol.lower()} dport {vs.port} drop")
        self._seed_pools()
        # The balancer's own stack must not answer what it forwards (it would RST).
        body = "".join(f"    {r}\n" for r in rules)
        nft(
            f"table ip {NFT_TABLE} {{\n  chain input {{\n"
            f"    type filter hook input priority -300; policy accept;\n{body}  }}\n}}\n"
        )
        self.log("forwarder-start", services=[d.vs.label for d in self.services])

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
        for d in self.services:
            d.sock.close()

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
    def on_frames(self, d: DrService, now: float, master: bool) -> None:
        for _ in range(256):  # bounded: timers and control get their turn
            try:
                buf = d.sock.recv(65536 + VNET_HDR_LEN)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. ENETDOWN while the interface is down
                self._drop(d, f"receive: {exc.strerror}")
                return
            vnet, frame = buf[:VNET_HDR_LEN], buf[VNET_HDR_LEN:]
            if not master:
                self._drop(d, "not master")
                continue
            try:
                p = parse(frame)
            except PacketError as exc:
                self._drop(d, str(exc.reason))
                continue
            decision = d.service.packet(now, p.flow, p.flags, p.length)
            if decision.dest is None:
                self._drop(d, decision.reason)
                continue
            mac = self.macs.get(decision.dest[0])
            if mac is None:
                self.macs.update(neighbours())
                mac = self.macs.get(decision.dest[0])
            if mac is None:
                nudge_arp(decision.dest[0])
                self._drop(d, "real server MAC unknown")
                continue
            try:
                d.sock.send(vnet + rewrite(frame, mac, d.mac))
                d.forwarded += 1
            except OSError as exc:
                self._drop(d, f"send: {exc.strerror}")
            if decision.new:
                self.new_conns.append(d.service.conns[p.flow])

    def _drop(self, d: DrService, reason: str) -> None:
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
                    "method": d.vs.lvs_method,
                    "interface": d.interface,
                    "persistence": d.service.persistence,
                    "forwarded": d.forwarded,
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


def _forwarding(services: list[DrService]) -> list[bool]:
    """Per service: is its VIP on this node (the node is its VRRP master)? Each service
    forwards on its own: in an active-active pair a node masters one VIP, not both."""
    return [d.vs.address is not None and local_address(v4(d.vs.address)) for d in services]


def _sync_master(cfg: KeepalivedConfig, forwarding: list[bool]) -> bool:
    """The connection-sync role follows the VRRP instance ``lvs_sync_daemon`` names, as
    keepalived's does: master while that instance's VIPs are here, else backup (which
    receives). Without such an instance: master while any service forwards."""
    sd = cfg.global_defs.lvs_sync_daemon
    inst = cfg.instance(sd.instance) if sd is not None else None
    if inst is None or not inst.vips:
        return any(forwarding)
    return any(local_address(v4(v)) for v in inst.vips)


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
    tmp = run_dir / "forwarder.json.tmp"
    tmp.write_text(json.dumps(status))
    tmp.replace(run_dir / "forwarder.json")


def run(config_path: str, run_dir: Path, log: EventLog, run_for: float | None = None) -> int:
    cfg = load_lenient(config_path)
    fwd = Forwarder(cfg, run_dir, log)
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    signal.signal(signal.SIGINT, lambda *_: stop.update(now=True))
    # SIGHUP reloads VRRP and the checkers; the forwarder keeps its services (restart it
    # to change them) and hears the real servers' changes from the checker.
    signal.signal(
        signal.SIGHUP,
        lambda *_: log("reload-skipped", why="services are fixed at start; real servers "
                       "change through the checker"),
    )  # fmt: skip
    run_dir.mkdir(parents=True, exist_ok=True)
    ctl = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ctl.bind(control_address(str(run_dir.resolve())))
    ctl.setblocking(False)
    addr_watch = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    addr_watch.bind((0, RTMGRP_IPV4_IFADDR))
    addr_watch.setblocking(False)
    sync = _sync_socket(cfg)
    sd = cfg.global_defs.lvs_sync_daemon
    fwd.setup()
    try:
        # Ask for the real servers' MACs now; the answers are read when the first packet
        # for each needs them (a miss re-reads the ARP table), not waited for here: VRRP
        # starts once this process is ready, and a restarted master's start is a race.
        for d in fwd.services:
            for rs in d.vs.real_servers:
                nudge_arp(v4(rs.address))
        fwd.macs.update(neighbours())
        forwarding = _forwarding(fwd.services)
        master = any(forwarding)
        sync_master = _sync_master(cfg, forwarding)
        log("forwarding", on=master, services=forwarding)
        _write_status(run_dir, fwd.status(master))  # also "ready" to ``lablb daemon``
        start = last_status = last_sync = time.monotonic()
        by_fd = {d.sock.fileno(): d for d in fwd.services}
        while not stop["now"]:
            now = time.monotonic()
            if run_for is not None and now - start >= run_for:
                break
            fds = [*by_fd, ctl.fileno(), addr_watch.fileno()] + ([sync.fileno()] if sync else [])
            readable, _, _ = select.select(fds, [], [], STATUS_EVERY / 2)
            now = time.monotonic()
            # Addresses first: a frame read after the VIP left is not forwarded, even if
            # it was queued before (a frame's arrival cannot be ordered against the
            # address change here). Forwarding queued frames under the old addresses
            # was tried: a forwarder that ran late then forwarded requests that came
            # after the VIP had gone (a SYN answered 1.2 s late in the soak), which a
            # balancer without the VIP must never do.
            if addr_watch.fileno() in readable:
                with contextlib.suppress(BlockingIOError):
                    while addr_watch.recv(65536):
                        pass
                was, forwarding = forwarding, _forwarding(fwd.services)
                master, sync_master = any(forwarding), _sync_master(cfg, forwarding)
                if was != forwarding:
                    log("forwarding", on=master, services=forwarding)
            for fd in readable:
                if fd in by_fd:
                    d = by_fd[fd]
                    fwd.on_frames(d, now, forwarding[fwd.services.index(d)])
            if ctl.fileno() in readable:
                with contextlib.suppress(BlockingIOError):
                    while True:
                        data = ctl.recv(65536)
                        try:
                            fwd.control(json.loads(data))
                        except (ValueError, KeyError, TypeError) as exc:
                            log("control-error", error=str(exc))
            if sync is not None and sd is not None:
                if sync.fileno() in readable and not sync_master:
                    with contextlib.suppress(BlockingIOError):
                        while True:
                            data = sync.recv(65536)
                            try:
                                conns = decode_sync(data, sd.sync_id)
                            except PacketError:
                                continue
                            for c in conns:
                                for d in fwd.services:
                                    if d.vs.address == c.flow.vip and d.vs.port == c.flow.vport:
                                        d.service.adopt(now, c.flow, c.dest, c.state, c.timeout)
                elif sync.fileno() in readable:
                    with contextlib.suppress(BlockingIOError):
                        while sync.recv(65536):
                            pass
                if sync_master and (fwd.new_conns or now - last_sync >= SYNC_REFRESH):
                    full = now - last_sync >= SYNC_REFRESH
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
                    if full:
                        last_sync = now
            else:
                fwd.new_conns.clear()
            if now - last_status >= STATUS_EVERY:
                for d in fwd.services:
                    d.service.expire(now)
                _write_status(run_dir, fwd.status(master))
                last_status = now
    finally:
        _write_status(run_dir, fwd.status(False))
        fwd.teardown()
        ctl.close()
        addr_watch.close()
        if sync is not None:
            sync.close()
        log("forwarder-stop")
    return 0


def main(argv: list[str] | None = None) -> int:
    return child_main("lablb-forwarder", run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
