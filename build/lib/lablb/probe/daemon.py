"""The prober process: ``python -m lablb.probe.daemon``, run in a lab client. Edge only.

Every ``--interval`` seconds it sends one ICMP echo request (ICMPv6 for an IPv6
address) to ``--icmp ADDR`` and one
TCP SYN to ``--tcp ADDR:PORT`` from raw sockets, and records, per probe number, the send
instant and the receive instant of its answer. Receive instants are the kernel's
(``SO_TIMESTAMPNS``: stamped when the packet reached the socket layer, not when Python
got round to it); send instants are read with ``clock_gettime`` right after ``sendto``.
Both are CLOCK_REALTIME, the clock the kernel also stamps pcap files with, and the one
clock every lablb measurement is expressed on.

With ``--realtime`` it runs SCHED_FIFO: an instrument that loses its pace when the lab's
daemons are busy (a failover is exactly then) reads coarser than it should; it sleeps
between sends, so it takes a few percent of a CPU.

It prints ``ready`` once every probe has been answered, and on SIGINT, SIGTERM or after
``--for`` seconds writes everything to ``--out`` as JSON and exits. It only ever sends
to the addresses it was given, and refuses to run in the machine's own network
namespace: probes are for lab hosts.
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import struct
import sys
import time
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address, ip_address
from pathlib import Path

from lablb.loop import Loop, write_status
from lablb.mail import in_own_netns
from lablb.probe.packets import (
    SynProbe,
    echo6_reply_number,
    echo_reply_number,
    echo_request,
    echo_request6,
    run_ports,
)

MAX_SECONDS = 600.0  # no prober outlives this, whatever happens to its owner
MIN_INTERVAL = 0.0002
REALTIME_PRIORITY = 10  # above every SCHED_OTHER task, below the kernel's own threads
RECV_BUF = 4 << 20  # room for a burst of answers while the loop was descheduled
# Linux <asm-generic/socket.h>; Python 3.11 does not export it. The 64-bit timespec it
# delivers is two longs.
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)


@dataclass
class Record:
    """One probe's log: probe number -> send and receive instants (ns, CLOCK_REALTIME)."""

    target: str
    sent: dict[int, int] = field(default_factory=dict)
    answered: dict[int, int] = field(default_factory=dict)
    errors: int = 0

    def as_json(self) -> dict[str, object]:
        return {
            "target": self.target,
            "sent": sorted(self.sent.items()),
            "answered": sorted(self.answered.items()),
            "send_errors": self.errors,
        }


def _kernel_time(ancdata: list[tuple[int, int, bytes]]) -> int | None:
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
            sec, nsec = struct.unpack("@qq", data[:16])
            return int(sec) * 1_000_000_000 + int(nsec)
    return None


def _raw(proto: int, family: socket.AddressFamily = socket.AF_INET) -> socket.socket:
    s = socket.socket(family, socket.SOCK_RAW, proto)
    s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECV_BUF)
    s.setblocking(False)
    return s


def _local_address(target: IPv4Address, port: int) -> IPv4Address:
    """The source address the kernel would use towards ``target`` (a UDP connect sends
    nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect((str(target), port))
        return IPv4Address(s.getsockname()[0])


def _ephemeral_low() -> int:
    """The low end of this namespace's ephemeral ports (ip_local_port_range): the SYN
    probes' ports stay below it."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768
    return low if low > 2048 else 32768


def _send(
    kind: str,
    s: socket.socket,
    rec: Record,
    number: int,
    ident: int,
    icmp: IPv4Address | IPv6Address | None,
    syn: SynProbe | None,
) -> None:
    """Probe ``number`` of its kind, its send instant recorded (a failed send: an error,
    e.g. no route while a link is down, and a lost probe)."""
    # Read before the send: on veth the answer can be stamped by the kernel before
    # sendto even returns.
    t = time.time_ns()
    try:
        if kind == "icmp" and isinstance(icmp, IPv6Address):
            s.sendto(echo_request6(ident, number), (str(icmp), 0, 0, 0))
        elif kind == "icmp" and icmp is not None:
            s.sendto(echo_request(ident, number), (str(icmp), 0))
        elif syn is not None:
            s.sendto(syn.syn(number), (str(syn.target), 0))
        rec.sent[number] = t
    except OSError:
        rec.errors += 1


def _receive(
    kind: str,
    s: socket.socket,
    rec: Record,
    last: int,
    ident: int,
    icmp: IPv4Address | IPv6Address | None,
    syn: SynProbe | None,
) -> None:
    """Every answer queued on ``s``, each stamped by the kernel at its arrival (``last``:
    the newest probe sent)."""
    while True:
        try:
            data, anc, _flags, addr = s.recvmsg(2048, 64)
        except BlockingIOError:
            return
        t = _kernel_time(anc) or time.time_ns()
        if kind == "icmp" and isinstance(icmp, IPv6Address):
            source = ip_address(addr[0].split("%")[0])
            n = echo6_reply_number(data, ident) if source == icmp else None
        elif kind == "icmp" and isinstance(icmp, IPv4Address):
            n = echo_reply_number(data, ident, icmp)
        else:
            n = syn.answered(data, last) if syn is not None else None
        if n is not None and n in rec.sent and n not in rec.answered:
            rec.answered[n] = t


def run(
    interval: float,
    icmp: IPv4Address | IPv6Address | None,
    tcp: tuple[IPv4Address, int] | None,
    seconds: float,
) -> dict[str, object]:
    loop = Loop()
    ident = os.getpid() & 0xFFFF
    socks: dict[int, tuple[str, socket.socket]] = {}
    records: dict[str, Record] = {}
    syn: SynProbe | None = None
    six = isinstance(icmp, IPv6Address)
    if icmp is not None:
        s = _raw(socket.IPPROTO_ICMPV6, socket.AF_INET6) if six else _raw(socket.IPPROTO_ICMP)
        socks[s.fileno()] = ("icmp", s)
        records["icmp"] = Record(str(icmp))
    if tcp is not None:
        s = _raw(socket.IPPROTO_TCP)
        socks[s.fileno()] = ("tcp", s)
        records["tcp"] = Record(f"{tcp[0]}:{tcp[1]}")
        # A run's own ISN and ports: an earlier run's half-open connection (its RST
        # lost in the failover) neither answers nor swallows this run's probes.
        low, high = 1024, min(32768, _ephemeral_low())
        syn = SynProbe(_local_address(*tcp), tcp[0], tcp[1], low, high, secrets.randbits(32),
                       run_ports(time.time(), interval, high - low))  # fmt: skip
    ready = False
    started = time.monotonic()
    end = started + min(seconds, MAX_SECONDS)
    next_send, number = started, 0
    while not loop.stopping:
        now = time.monotonic()
        if now >= end:
            break
        if now >= next_send:
            for kind, s in socks.values():
                _send(kind, s, records[kind], number, ident, icmp, syn)
            number += 1
            # Never a burst to catch up: a late tick is a late probe, recorded as such.
            next_send = max(next_send + interval, now + interval / 2)
        readable = loop.wait(list(socks), next_send - time.monotonic())
        for fd in readable:
            kind, s = socks[fd]
            _receive(kind, s, records[kind], number - 1, ident, icmp, syn)
        if not ready and records and all(r.answered for r in records.values()):
            ready = True
            print("ready", flush=True)
    for _kind, s in socks.values():
        s.close()
    loop.close()
    return {
        "clock": "CLOCK_REALTIME",
        "interval": interval,
        "ident": ident,
        "probes": {k: r.as_json() for k, r in records.items()},
    }


def _address_port(text: str) -> tuple[IPv4Address, int]:
    host, _, port = text.rpartition(":")
    return IPv4Address(host), int(port)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="lablb-probe", description=__doc__.split("\n")[0])
    p.add_argument("--interval", type=float, default=0.001)
    p.add_argument("--icmp", type=ip_address, help="an IPv4 or IPv6 address")
    p.add_argument("--tcp", type=_address_port, help="ADDR:PORT")
    p.add_argument("--for", dest="seconds", type=float, default=300.0)
    p.add_argument("--out", required=True)
    p.add_argument("--realtime", action="store_true", help="run SCHED_FIFO (priority 10)")
    args = p.parse_args(argv)
    if args.interval < MIN_INTERVAL:
        p.error(f"--interval: at least {MIN_INTERVAL} s")
    if args.icmp is None and args.tcp is None:
        p.error("nothing to probe: give --icmp and/or --tcp")
    if not in_own_netns():
        print("lablb-probe: refusing to probe from the machine's own namespace", file=sys.stderr)
        return 2
    if args.realtime:
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(REALTIME_PRIORITY))
        except OSError as exc:
            print(f"lablb-probe: --realtime: {exc.strerror}", file=sys.stderr)
            return 2
    result = run(args.interval, args.icmp, args.tcp, args.seconds)
    write_status(Path(args.out), result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
