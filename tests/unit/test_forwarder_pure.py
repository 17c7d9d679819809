"""The forwarder's pure parts: frame parsing and MAC rewrite on frames scapy builds, the
kernel filter (run by a small interpreter), and the connection-sync codec."""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.l2 import ARP, Ether

from lablb.bpf import bpf_bytes
from lablb.errors import PacketError
from lablb.ipvs.frame import (
    SyncConn,
    bpf_program,
    decode_sync,
    encode_sync,
    parse,
    rewrite,
    run_bpf,
)
from lablb.ipvs.service import ConnState, Flow

VIP = IPv4Address("172.16.55.100")
CLIENT = "198.51.100.11"


def frame(pkt: object) -> bytes:
    return bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / pkt)  # type: ignore[operator]


def test_parse_tcp_syn() -> None:
    p = parse(frame(IP(src=CLIENT, dst=str(VIP)) / TCP(sport=40000, dport=80, flags="S")))
    assert p.flow == Flow(6, IPv4Address(CLIENT), 40000, VIP, 80)
    assert p.flags == 0x02 and p.length == 40


def test_parse_with_ip_options() -> None:
    pkt = IP(src=CLIENT, dst=str(VIP), options=b"\x01\x01\x01\x00") / UDP(sport=5, dport=53)
    assert parse(frame(pkt)).flow.vport == 53


@pytest.mark.parametrize(
    "pkt", [ARP(), IP(dst=str(VIP)) / ICMP(), b"\x00" * 10], ids=["arp", "icmp", "short"]
)
def test_parse_refuses_other_frames(pkt: object) -> None:
    with pytest.raises(PacketError):
        parse(frame(pkt) if not isinstance(pkt, bytes) else pkt)


def test_rewrite_changes_only_the_macs() -> None:
    raw = frame(IP(src=CLIENT, dst=str(VIP)) / TCP(dport=80) / b"GET /")
    out = Ether(rewrite(raw, bytes.fromhex("0a0000000023"), bytes.fromhex("0a0000000020")))
    assert (out.dst, out.src) == ("0a:00:00:00:00:23", "0a:00:00:00:00:20")
    assert bytes(out)[12:] == raw[12:]


PROG = bpf_program(VIP, 80, 6)
FILTER_CASES = [
    (IP(src=CLIENT, dst=str(VIP)) / TCP(dport=80), True),
    (IP(src=CLIENT, dst=str(VIP), options=b"\x01\x01\x01\x00") / TCP(dport=80), True),
    (IP(src=CLIENT, dst=str(VIP)) / TCP(dport=443), False),
    (IP(src=CLIENT, dst=str(VIP)) / UDP(dport=80), False),
    (IP(src=CLIENT, dst="172.30.0.22") / TCP(dport=80), False),
    (IP(src=CLIENT, dst=str(VIP), frag=10) / TCP(dport=80), False),
    (ARP(pdst=str(VIP)), False),
]


@pytest.mark.parametrize(("pkt", "passes"), FILTER_CASES)
def test_kernel_filter_selects_only_vip_port(pkt: object, passes: bool) -> None:
    assert run_bpf(PROG, frame(pkt)) is passes


def test_filter_bytes_are_sock_filter_structs() -> None:
    assert len(bpf_bytes(PROG)) == 8 * len(PROG)


def test_sync_round_trip_and_refusals() -> None:
    conn = SyncConn(
        Flow(6, IPv4Address(CLIENT), 40000, VIP, 80),
        (IPv4Address("172.30.0.23"), 80),
        ConnState.ESTABLISHED,
        899.5,
    )
    assert decode_sync(encode_sync(7, [conn]), 7) == [conn]
    with pytest.raises(PacketError):
        decode_sync(encode_sync(7, [conn]), 8)  # another sync id
    with pytest.raises(PacketError):
        decode_sync(b"\xff not json", 7)
