"""LVS-NAT and LVS-TUN frames (``lablb.ipvs.frame``): the rewrites give what a full
recomputation gives (scapy is the reference), for complete and checksum-partial frames;
IPIP in and out; the reply filter."""

from __future__ import annotations

from ipaddress import IPv4Address

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether

from lablb.errors import PacketError
from lablb.ipvs.frame import (
    VNET_F_NEEDS_CSUM,
    Vnet,
    bpf_ip_proto,
    bpf_reply_program,
    decapsulate,
    ipip,
    l4_checksum,
    nat,
    ones_sum,
    parse,
    run_bpf,
)

MACS = (b"\x02" * 6, b"\x04" * 6)
CLIENT, VIP, RIP = "198.51.100.2", "10.0.0.100", "192.168.10.11"


def frame(
    src: str, dst: str, sport: int, dport: int, udp: bool = False, payload: bytes = b"x" * 33
) -> bytes:
    l4 = UDP(sport=sport, dport=dport) if udp else TCP(sport=sport, dport=dport, flags="PA", seq=7)
    return bytes(
        Ether(dst="02:00:00:00:00:01", src="02:00:00:00:00:02")
        / IP(src=src, dst=dst, tos=0x10, flags="DF")
        / l4
        / payload
    )


def reference(raw: bytes) -> bytes:
    """scapy's own checksums for the same packet."""
    p = Ether(raw)
    del p[IP].chksum
    if TCP in p:
        del p[TCP].chksum
    else:
        del p[UDP].chksum
    return bytes(p)


def partial(raw: bytes) -> tuple[bytes, Vnet]:
    """``raw`` as a checksum-partial frame: the L4 field holds the pseudo-header sum."""
    p = Ether(raw)
    ip = bytes(p[IP])
    proto = ip[9]
    seg_len = len(ip) - 20
    pseudo = ip[12:20] + bytes([0, proto]) + seg_len.to_bytes(2, "big")
    at = 14 + 20 + (16 if proto == 6 else 6)
    out = bytearray(raw)
    out[at : at + 2] = ones_sum(pseudo).to_bytes(2, "big")
    return bytes(out), Vnet(VNET_F_NEEDS_CSUM, 0, 0, 0, 34, 16 if proto == 6 else 6)


@pytest.mark.parametrize("udp", [False, True])
def test_nat_to_the_real_server_is_what_a_recomputation_gives(udp: bool) -> None:
    raw = frame(CLIENT, VIP, 40000, 80, udp)
    out = nat(raw, Vnet(), MACS, dst=(IPv4Address(RIP), 8080))
    assert out[:12] == MACS[0] + MACS[1]
    assert out == reference(out)
    p = parse(out)
    assert (p.flow.vip, p.flow.vport, p.flow.client, p.flow.cport) == (
        IPv4Address(RIP),
        8080,
        IPv4Address(CLIENT),
        40000,
    )


def test_nat_reply_is_what_a_recomputation_gives() -> None:
    raw = frame(RIP, CLIENT, 8080, 40000)
    out = nat(raw, Vnet(), MACS, src=(IPv4Address(VIP), 80))
    assert out == reference(out)
    assert Ether(out)[IP].src == VIP and Ether(out)[TCP].sport == 80


@pytest.mark.parametrize("udp", [False, True])
def test_a_partial_frame_keeps_a_pseudo_header_sum_of_the_new_addresses(udp: bool) -> None:
    """The offload will sum the segment (ports included); the field must hold the new
    pseudo-header's sum, which is what a partial frame built for the new addresses has."""
    raw, vnet = partial(frame(RIP, CLIENT, 8080, 40000, udp))
    out = nat(raw, vnet, MACS, src=(IPv4Address(VIP), 80))
    want, _ = partial(frame(VIP, CLIENT, 80, 40000, udp))
    assert out[34:] == want[34:]  # L4 header and payload, checksum field included
    assert out == reference(out)[:34] + out[34:]  # the IP header as recomputed


def test_udp_without_a_checksum_stays_without() -> None:
    p = Ether(frame(CLIENT, VIP, 5000, 53, udp=True))
    p[UDP].chksum = 0
    out = nat(bytes(p), Vnet(), MACS, dst=(IPv4Address(RIP), 53))
    assert Ether(out)[UDP].chksum == 0
    assert Ether(out)[IP].chksum == Ether(reference(out))[IP].chksum


def test_ipip_wraps_the_packet_and_decapsulation_gives_it_back() -> None:
    raw = frame(CLIENT, VIP, 40000, 80)
    out = ipip(raw, Vnet(), MACS, (IPv4Address("10.0.0.2"), IPv4Address(RIP)), 7)
    outer = Ether(out)[IP]
    assert (outer.proto, outer.src, outer.dst, outer.tos, outer.flags.DF, outer.id) == (
        4,
        "10.0.0.2",
        RIP,
        0x10,
        True,
        7,
    )
    assert out[:34] == reference(out)[:34]  # outer header, its checksum as recomputed
    assert out[34:] == raw[14:]  # the packet inside, untouched
    assert decapsulate(out) == raw[14:]


def test_a_partial_frame_is_tunnelled_complete() -> None:
    raw, vnet = partial(frame(CLIENT, VIP, 40000, 80))
    inner = decapsulate(ipip(raw, vnet, MACS, (IPv4Address("10.0.0.2"), IPv4Address(RIP)), 1))
    assert inner == bytes(Ether(reference(frame(CLIENT, VIP, 40000, 80)))[IP])
    assert l4_checksum(inner) == int.from_bytes(inner[36:38], "big")


def test_gso_frames_and_non_ipip_are_refused() -> None:
    with pytest.raises(PacketError, match="GSO"):
        ipip(
            frame(CLIENT, VIP, 1, 80),
            Vnet(1, 1, 54, 1448, 34, 16),
            MACS,
            (IPv4Address(VIP), IPv4Address(RIP)),
            0,
        )
    with pytest.raises(PacketError, match="not IPIP"):
        decapsulate(frame(CLIENT, VIP, 1, 80))


def test_vnet_header_round_trips() -> None:
    v = Vnet(1, 1, 66, 1448, 34, 16)
    assert Vnet.unpack(v.pack()) == v and v.partial


def test_filters_select_replies_and_ipip() -> None:
    reply, request = frame(RIP, CLIENT, 80, 40000), frame(CLIENT, VIP, 40000, 80)
    assert run_bpf(bpf_reply_program(80, 6), reply)
    assert not run_bpf(bpf_reply_program(80, 6), request)
    assert not run_bpf(bpf_reply_program(80, 17), reply)
    tunnelled = ipip(request, Vnet(), MACS, (IPv4Address(VIP), IPv4Address(RIP)), 0)
    assert run_bpf(bpf_ip_proto(4), tunnelled) and not run_bpf(bpf_ip_proto(4), request)
