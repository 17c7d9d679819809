"""VRRPv3 over IPv6 without a lab: adverts byte-identical to scapy's both ways (IPv6
pseudo-header checksum, 16-byte addresses), what is refused (v2 over IPv6, another hop
limit, mixed families), IPv4 and IPv6 VRIDs kept apart by the engine, the unsolicited
NA as scapy decodes it, the rtnetlink request for an IPv6 VIP (IFA_F_NODAD), and the
prober's ICMPv6 echo."""

from __future__ import annotations

import random
import struct
from ipaddress import IPv4Address, IPv6Address, ip_interface

import pytest
from scapy.layers.inet6 import (
    ICMPv6ND_NA,
    ICMPv6NDOptDstLLAddr,
    IPv6,
)
from scapy.layers.vrrp import VRRPv3

from lablb.config.files import MemoryReader
from lablb.config.load import parse
from lablb.config.model import VirtualAddress
from lablb.errors import PacketError
from lablb.probe.packets import echo6_reply_number, echo_request6
from lablb.vrrp import netlink
from lablb.vrrp.engine import Engine
from lablb.vrrp.ndisc import unsolicited_na
from lablb.vrrp.packet import VRRP_GROUP6, Advert, Reject, decode_ipv6

SRC = IPv6Address("fe80::ac8a:d9ff:fe22:94a2")


def test_ipv6_adverts_match_scapy_both_ways() -> None:
    rng = random.Random(6)
    for _ in range(300):
        src = IPv6Address((0xFE80 << 112) | rng.getrandbits(64))
        addrs = tuple(IPv6Address(rng.getrandbits(128)) for _ in range(rng.randint(1, 6)))
        a = Advert(3, rng.randint(1, 255), rng.randint(0, 255), addrs, rng.randint(1, 4095))
        theirs = bytes(
            IPv6(src=str(src), dst=str(VRRP_GROUP6), hlim=255)
            / VRRPv3(
                vrid=a.vrid, priority=a.priority, ipcount=len(addrs), adv=a.interval_cs,
                addrlist=[str(x) for x in addrs],
            )
        )[40:]  # fmt: skip
        assert a.encode(src, VRRP_GROUP6) == theirs
        assert decode_ipv6(theirs, src, VRRP_GROUP6, 255)[2] == a


def test_what_ipv6_refuses() -> None:
    vip = IPv6Address("2001:db8:30::22")
    msg = Advert(3, 52, 100, (vip,), 100).encode(SRC, VRRP_GROUP6)
    with pytest.raises(PacketError) as caught:
        decode_ipv6(msg, SRC, VRRP_GROUP6, 64)
    assert caught.value.reason is Reject.BAD_TTL
    with pytest.raises(PacketError) as caught:
        decode_ipv6(msg, IPv6Address("fe80::99"), VRRP_GROUP6, 255)  # another source
    assert caught.value.reason is Reject.BAD_CHECKSUM
    v2ish = bytes([0x21]) + msg[1:]
    with pytest.raises(PacketError) as caught:
        decode_ipv6(v2ish, SRC, VRRP_GROUP6, 255)
    assert caught.value.reason is Reject.BAD_VERSION
    with pytest.raises(ValueError, match="IPv6 needs version 3"):
        Advert(2, 52, 100, (vip,), 100)
    with pytest.raises(ValueError, match="one address family"):
        Advert(3, 52, 100, (vip, IPv4Address("10.0.0.1")), 100)
    with pytest.raises(ValueError, match="IPv6 advert from an IPv4 source"):
        Advert(3, 52, 100, (vip,), 100).encode(IPv4Address("10.0.0.1"), IPv4Address("224.0.0.18"))


CONF = """
vrrp_instance V4 {
    interface eth0
    virtual_router_id 52
    priority 100
    virtual_ipaddress { 10.0.0.22/24 }
}
vrrp_instance V6 {
    interface eth0
    virtual_router_id 52
    priority 100
    version 2
    virtual_ipaddress { 2001:db8::22/64 }
    virtual_ipaddress_excluded { 10.0.0.100/24 }
}
"""


def test_the_engine_keeps_the_families_apart() -> None:
    parsed = parse("/k.conf", MemoryReader({"/k.conf": CONF}))
    assert not parsed.errors, parsed.errors
    config = parsed.config
    v6 = config.instance("V6")
    assert v6 is not None and config.version_of(v6) == 3  # an IPv6 instance is v3
    engine = Engine.from_config(config, {"eth0": IPv4Address("10.0.0.1")}, {"eth0": SRC})
    assert engine.families == {"V4": 4, "V6": 6}
    assert engine.instance_for("eth0", 52, 4) == "V4"
    assert engine.instance_for("eth0", 52, 6) == "V6"
    assert engine.routers["V6"].params.primary_ip == SRC
    with pytest.raises(Exception, match="no link-local IPv6 address"):
        Engine.from_config(config, {"eth0": IPv4Address("10.0.0.1")}, {})


def test_the_unsolicited_na_as_scapy_reads_it() -> None:
    target = IPv6Address("2001:db8:30::22")
    na = unsolicited_na("02:00:00:00:00:20", target)
    pkt = ICMPv6ND_NA(na)
    assert (pkt.type, pkt.R, pkt.S, pkt.O, pkt.tgt) == (136, 1, 0, 1, str(target))
    assert pkt[ICMPv6NDOptDstLLAddr].lladdr == "02:00:00:00:00:20"
    assert len(na) == 32


def test_the_rtnetlink_request_for_an_ipv6_vip() -> None:
    vip = VirtualAddress(ip_interface("2001:db8:30::22/64"))
    msg = netlink.address_message(vip, 7, True, 9)
    family, prefix, flags, scope, index = struct.unpack("=BBBBI", msg[16:24])
    assert (family, prefix, flags, scope, index) == (10, 64, netlink.IFA_F_NODAD, 0, 7)
    assert IPv6Address("2001:db8:30::22").packed in msg
    v4 = netlink.address_message(VirtualAddress(ip_interface("10.0.0.22/24")), 7, True, 9)
    assert v4[16:18] == bytes([2, 24])


def test_the_prober_s_icmpv6_echo() -> None:
    req = echo_request6(0x1234, 70000)
    assert req[0] == 128 and req[2:4] == b"\0\0"  # the kernel fills in the checksum
    reply = bytes([129]) + req[1:]
    assert echo6_reply_number(reply, 0x1234) == 70000
    assert echo6_reply_number(reply, 0x1235) is None
    assert echo6_reply_number(req, 0x1234) is None
