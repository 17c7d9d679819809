"""The forwarder's side of the kernel data plane, against a stand-in for the kernel's
maps: which connections it hands over (past their handshake only), how the kernel's
last packet keeps a connection alive, how a forgotten connection leaves the kernel, and
what a backup puts there from connection sync; and how it follows its VIPs (rtnetlink's
address events, fed here through a socket pair). No BPF, no root."""

from __future__ import annotations

import io
import socket
from ipaddress import IPv4Address, IPv4Interface
from pathlib import Path

from lablb.config.load import load_lenient
from lablb.config.model import VirtualAddress
from lablb.eventlog import EventLog
from lablb.ipvs.forwarder import AddressWatch, Forwarder, ServicePath
from lablb.ipvs.kmaps import KernelConn
from lablb.ipvs.service import ACK, RST, SYN, TCP, TIMEOUTS, ConnState, Flow, Service
from lablb.vrrp import netlink
from tests.conftest import SEED

VIP, RIP = IPv4Address("172.16.55.100"), IPv4Address("172.30.0.23")
FLOW = Flow(TCP, IPv4Address("172.16.0.10"), 40001, VIP, 80)
MAC, OWN = b"\x02\x00\x00\x00\x00\x23", b"\x02\x00\x00\x00\x00\x20"


class FakeKernel:
    """The maps as dicts; ``last_ns`` set by the test as the kernel would."""

    def __init__(self) -> None:
        self.conns: dict[Flow, KernelConn] = {}
        self.services: dict[tuple[IPv4Address, int, int], bool] = {}

    def install(self, flow: Flow, conn: KernelConn) -> None:
        self.conns[flow] = conn

    def remove(self, flow: Flow) -> None:
        self.conns.pop(flow, None)

    def lookup(self, flow: Flow) -> KernelConn | None:
        return self.conns.get(flow)

    def set_service(self, vip: IPv4Address, port: int, proto: int, forwarding: bool) -> None:
        self.services[(vip, port, proto)] = forwarding


def forwarder(tmp_path: Path) -> tuple[Forwarder, ServicePath, FakeKernel]:
    cfg = load_lenient(str(SEED / "lb01.conf"))
    kernel = FakeKernel()
    fwd = Forwarder(cfg, tmp_path, EventLog(io.StringIO()), kernel=kernel)  # type: ignore[arg-type]
    fwd.ns_offset = 0.0  # the stand-in's ns are on the test's clock
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    d = ServicePath(cfg.virtual_servers[0], Service(VIP, 80, TCP, "rr"), "eth0", sock, OWN,
                    "eth0", sock, OWN)  # fmt: skip
    d.kernel, d.out_ifindex = True, 7
    d.service.set_dest(RIP, 80, 1)
    fwd.services.append(d)
    return fwd, d, kernel


def test_a_connection_goes_to_the_kernel_once_past_its_handshake(tmp_path: Path) -> None:
    fwd, d, kernel = forwarder(tmp_path)
    d.service.packet(0.0, FLOW, SYN)
    fwd._install(d, FLOW, MAC)  # the SYN: the table must see it become established
    assert kernel.conns == {} and d.installed == set()
    d.service.packet(0.001, FLOW, ACK)
    fwd._install(d, FLOW, MAC)
    assert kernel.conns == {FLOW: KernelConn(MAC, OWN, 7)} and d.installed == {FLOW}
    assert d.service.conns[FLOW].state is ConnState.ESTABLISHED


def test_the_kernels_last_packet_keeps_the_connection_and_its_count_is_reported(
    tmp_path: Path,
) -> None:
    fwd, d, kernel = forwarder(tmp_path)
    d.service.packet(0.0, FLOW, SYN)
    d.service.packet(0.001, FLOW, ACK)
    fwd._install(d, FLOW, MAC)
    timeout = TIMEOUTS[ConnState.ESTABLISHED]
    # Python saw nothing after 0.001 s; the kernel forwarded until 800 s.
    kernel.conns[FLOW] = KernelConn(MAC, OWN, 7, last_ns=800 * 10**9, packets=5000)
    fwd.refresh(d, timeout + 1.0)
    assert FLOW in d.service.conns and FLOW in kernel.conns
    assert d.service.conns[FLOW].expires == 800.0 + timeout
    assert d.kernel_forwarded == 5000
    # Silent since: the table forgets it, and so does the kernel; its packets stay counted.
    fwd.refresh(d, 800.0 + timeout + 0.5)
    assert d.service.conns == {} and kernel.conns == {} and d.installed == set()
    assert d.kernel_forwarded == 5000
    assert d.service.dests[(RIP, 80)].active == 0


def test_a_synced_connection_enters_the_backups_kernel_when_its_server_is_known(
    tmp_path: Path,
) -> None:
    fwd, d, kernel = forwarder(tmp_path)
    d.service.adopt(0.0, FLOW, (RIP, 80), ConnState.ESTABLISHED, 900.0)
    fwd.adopted(d, FLOW)
    assert kernel.conns == {}  # MAC not known yet: its first packet here installs it
    fwd.macs[RIP] = MAC
    fwd.adopted(d, FLOW)
    assert kernel.conns == {FLOW: KernelConn(MAC, OWN, 7)}


def test_the_kernel_forwards_for_the_services_whose_vip_is_here(tmp_path: Path) -> None:
    fwd, _, kernel = forwarder(tmp_path)
    fwd.set_forwarding([True])
    assert kernel.services == {(VIP, 80, TCP): True}
    fwd.set_forwarding([False])
    assert kernel.services == {(VIP, 80, TCP): False}


def test_a_probe_that_never_carries_data_stays_out_of_the_kernel(tmp_path: Path) -> None:
    """A SYN prober's connection (SYN, then the client's RST) never reaches the kernel's
    table: a thousand a second would fill it, and each status turn reads it back."""
    fwd, d, kernel = forwarder(tmp_path)
    d.service.packet(0.0, FLOW, SYN)
    d.service.packet(0.001, FLOW, RST)
    fwd._install(d, FLOW, MAC)
    assert d.service.conns[FLOW].state is ConnState.CLOSE
    assert kernel.conns == {} and d.installed == set()


def test_the_forwarder_takes_an_address_event_at_its_word() -> None:
    # The kernel announces a new address before its local route exists (a bind() right
    # after can fail) and a removed one before the route goes: the event decides, bind()
    # only for an address no event has named. 192.0.2.77 is on no interface here, and
    # 127.0.0.1 on lo in every namespace.
    watch = AddressWatch()
    watch.sock.close()
    watch.sock, kernel = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    watch.sock.setblocking(False)
    vip = VirtualAddress(IPv4Interface("192.0.2.77/24"), dev="eth0")
    lo = IPv4Address("127.0.0.1")
    assert not watch.here(vip.interface.ip) and watch.here(lo)
    kernel.send(netlink.address_message(vip, 2, add=True, seq=0))
    watch.read()
    assert watch.here(vip.interface.ip)
    kernel.send(netlink.address_message(vip, 2, add=False, seq=0))
    kernel.send(netlink.address_message(VirtualAddress(IPv4Interface("127.0.0.1/8")), 1,
                                        add=False, seq=0))  # fmt: skip
    watch.read()
    assert not watch.here(vip.interface.ip) and not watch.here(lo)
    watch.close()
    kernel.close()
