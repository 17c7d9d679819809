"""A packet capture on the server LAN, from the router's side of it. Lab layer.

tcpdump runs in the router host on its interface that faces the balancers, so the pcap
holds what the LAN carried: VRRP adverts (multicast is flooded), gratuitous ARPs and the
client-to-VIP half of the traffic. ``-s 128``: headers are enough for the timeline, and
a 150 MB stream would otherwise make a 150 MB pcap. Timestamps are the kernel's, in
nanoseconds, on CLOCK_REALTIME (the probes' clock); ``frames`` reads what has been
written so far, from where the last read stopped.

Unicast VRRP (``unicast_peer``) is not flooded: the switch carries lb01's adverts to
lb02's port alone, and the router never sees them. So each balancer's switch port is
captured too (root namespace, frames the balancer sends, VRRP that is not multicast:
nothing at all for a multicast pair), into ``capture-NODE-unicast.pcap``, and
``frames`` merges them in time order. That capture also keeps the SYNs the balancer
sends (a client's, forwarded to a real server, and its checkers' own): set beside the
router's, they show when the balancer's forwarder last passed one on
(``lablb.measure.disturbance.forwarder_held``).
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from pathlib import Path

from lablb.lab.net import INSTRUMENT_NICE, Lab
from lablb.lab.procs import stop_child
from lablb.measure.pcap import GLOBAL_HEADER, Frame, read_frames

SNAPLEN = 128
BUFFER_KIB = 8192  # probe traffic at 1 ms is ~5000 frames/s: room for a slow moment
FLUSH_S = 0.2  # tcpdump -U writes each frame as it is captured; give the last ones time
FILTER = "vrrp or arp or (tcp[tcpflags] & (tcp-syn|tcp-fin|tcp-rst) != 0) or icmp"
UNICAST_VRRP = "(ip proto 112 and not ip multicast) or (ip6 proto 112 and not ip6 multicast)"
SENT_SYN = "tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn"


def tcpdump_argv(iface: str, path: Path, bpf: str, inbound: bool = False) -> list[str]:
    # nice: the kernel stamps each frame on arrival, so a lower priority costs the
    # capture nothing but a deeper buffer, and the daemons under test lose no slice.
    return [
        "nice", "-n", str(INSTRUMENT_NICE), "tcpdump", "-n", "-i", iface,
        *(["-Q", "in"] if inbound else []),
        "-s", str(SNAPLEN), "-B", str(BUFFER_KIB), "--time-stamp-precision=nano",
        "--immediate-mode",  # else libpcap holds frames up to its 1 s block timeout
        "-U", "-w", str(path), bpf,
    ]  # fmt: skip


class PcapTail:
    """Reads a pcap as tcpdump writes it, from where the last read stopped."""

    def __init__(self, path: Path) -> None:
        self.path, self._offset = path, 0

    def new_frames(self) -> list[Frame]:
        try:
            with self.path.open("rb") as f:
                header = f.read(GLOBAL_HEADER)
                f.seek(max(self._offset, GLOBAL_HEADER))
                rest = f.read()
        except OSError:
            return []
        start = max(self._offset, GLOBAL_HEADER)
        new, used = read_frames(header + rest, GLOBAL_HEADER)
        self._offset = start + used - GLOBAL_HEADER
        return new


class Capture:
    """tcpdump on the router's server-LAN side (the lab's capture), or with ``host``
    on another host's interface, with its own BPF filter (``bpf``: e.g. one web node's
    port-80 handshakes)."""

    def __init__(
        self,
        lab: Lab,
        path: Path,
        host: str | None = None,
        iface: str = "eth0",
        bpf: str = FILTER,
    ) -> None:
        self.lab, self.path, self.iface, self.bpf = lab, path, iface, bpf
        self.proc: subprocess.Popen[bytes] | None = None
        self._tail = PcapTail(path)
        self._extra: list[tuple[subprocess.Popen[bytes], PcapTail]] = []
        self._frames: list[Frame] = []
        if host is None:
            routers = [h.name for h in lab.hosts if getattr(h, "role", "") == "router"]
            host = routers[0] if routers else None
        self.host = host

    def start(self) -> Capture:
        if self.host is None:
            return self
        argv = tcpdump_argv(self.iface, self.path, self.bpf)
        self.proc = self.lab.popen(self.host, argv, log=self.path.with_suffix(".log"))
        self.lab.on_teardown(self.stop)
        if self.bpf == FILTER:
            self._unicast_ports()
        return self

    def _unicast_ports(self) -> None:
        """A capture of the unicast VRRP and the SYNs each balancer sends, on its
        switch port."""
        for host in self.lab.hosts:
            if getattr(host, "role", "") != "balancer":
                continue
            for intf in host.intfList():
                link = getattr(intf, "link", None)
                if link is None:
                    continue
                port = (link.intf2 if link.intf1 is intf else link.intf1).name
                path = self.path.with_name(f"{self.path.stem}-{host.name}-unicast.pcap")
                log = open(path.with_suffix(".log"), "ab")  # noqa: SIM115 - the child's
                try:
                    proc = subprocess.Popen(  # the switch side: the root namespace
                        tcpdump_argv(port, path, f"{UNICAST_VRRP} or ({SENT_SYN})", inbound=True),
                        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    )  # fmt: skip
                finally:
                    log.close()
                self._extra.append((proc, PcapTail(path)))
                break  # its first link: the LAN its instance runs on

    def stop(self) -> None:
        stop_child(self.proc, signal.SIGINT)  # tcpdump flushes the pcap on SIGINT
        self.proc = None
        for proc, _ in self._extra:
            stop_child(proc, signal.SIGINT)

    def frames(self, since: float, until: float, flush: bool = True) -> list[Frame]:
        """The captured frames stamped in [since, until] (older ones are forgotten), in
        time order; ``flush`` first gives tcpdump time to write the last ones."""
        if flush and self.proc is not None:
            time.sleep(FLUSH_S)
        new = self._tail.new_frames()
        for _, tail in self._extra:
            new += tail.new_frames()
        kept = [f for f in self._frames if f.t >= since]
        self._frames = sorted(kept + new, key=lambda f: f.t)  # the pcaps interleave
        return [f for f in self._frames if since <= f.t <= until]

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class Counters:
    """Byte and packet counters of every host's first link, sampled from the switch side
    (root namespace files, no process per sample) every ``period`` seconds in a thread:
    per host, rows of [monotonic time, rx bytes, tx bytes, rx packets, tx packets]."""

    def __init__(self, lab: Lab, path: Path, period: float = 0.25) -> None:
        self.lab, self.path, self.period = lab, path, period
        self.samples: dict[str, list[list[float | None]]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.ports: dict[str, str] = {}
        for host in lab.hosts:
            for intf in host.intfList():
                link = getattr(intf, "link", None)
                if link is not None:
                    other = link.intf2 if link.intf1 is intf else link.intf1
                    self.ports.setdefault(host.name, other.name)

    def _read(self, port: str, name: str) -> int | None:
        """None for a counter that cannot be read (a port that is gone): never 0."""
        try:
            return int(Path(f"/sys/class/net/{port}/statistics/{name}").read_text())
        except (OSError, ValueError):
            return None

    def sample(self) -> None:
        t = time.monotonic()
        for host, port in self.ports.items():
            # The switch port sends what the host receives, and the other way round.
            rx, tx = self._read(port, "tx_bytes"), self._read(port, "rx_bytes")
            rxp, txp = self._read(port, "tx_packets"), self._read(port, "rx_packets")
            self.samples.setdefault(host, []).append([round(t, 3), rx, tx, rxp, txp])

    def _loop(self) -> None:
        while not self._stop.wait(self.period):
            self.sample()

    def start(self) -> Counters:
        self.sample()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        self.lab.on_teardown(self.stop)
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join(timeout=2)
            self._thread = None
            self.sample()
            self.path.write_text(json.dumps(self.samples))
