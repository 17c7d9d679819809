"""VRRP codec: exact bytes, checked both ways against scapy's VRRP layer, and every
reject reason."""

from __future__ import annotations

import struct
from ipaddress import IPv4Address

import pytest
from scapy.layers.inet import IP
from scapy.layers.vrrp import VRRP, VRRPv3

from lablb.errors import PacketError
from lablb.vrrp.packet import (
    Advert,
    AuthType,
    Checksum,
    Reject,
    check,
    decode_ipv4,
    inet_checksum,
)

SRC, DST = IPv4Address("172.30.0.20"), IPv4Address("224.0.0.18")
VIPS = (IPv4Address("172.30.0.22"), IPv4Address("172.16.55.100"))

# The seed's instance as lb01 advertises it: VRRPv2, VRID 51, priority 100, PASS 1111.
SEED_V2 = Advert(2, 51, 100, VIPS, 100, AuthType.PASS, b"1111")
SEED_V2_BYTES = bytes.fromhex(
    "21 33 64 02 01 01 0000 ac1e0016 ac103764 3131313100000000".replace(" ", "")
)


def _with_checksum(raw: bytes) -> bytes:
    return raw[:6] + struct.pack("!H", inet_checksum(raw)) + raw[8:]


def test_v2_exact_bytes() -> None:
    assert SEED_V2.encode() == _with_checksum(SEED_V2_BYTES)
    assert inet_checksum(SEED_V2.encode()) == 0


def test_v2_lablb_to_scapy() -> None:
    pkt = VRRP(SEED_V2.encode())
    assert (pkt.version, pkt.type, pkt.vrid, pkt.priority, pkt.ipcount, pkt.authtype, pkt.adv) == (
        2,
        1,
        51,
        100,
        2,
        1,
        1,
    )
    assert pkt.addrlist == [str(a) for a in VIPS]
    assert struct.pack("!II", pkt.auth1, pkt.auth2) == b"1111\0\0\0\0"
    # scapy recomputes the checksum the same way
    assert bytes(VRRP(SEED_V2.encode(), chksum=None)) == SEED_V2.encode()


def test_v2_scapy_to_lablb() -> None:
    raw = bytes(VRRP(vrid=7, priority=200, addrlist=["10.0.0.1"], authtype=0, adv=3))
    assert Advert.decode(raw) == Advert(2, 7, 200, (IPv4Address("10.0.0.1"),), 300)


def test_v3_pseudo_header_checksum_matches_scapy_both_ways() -> None:
    ours = Advert(3, 51, 100, VIPS, 50)
    wire = ours.encode(SRC, DST)
    theirs = bytes(
        IP(src=str(SRC), dst=str(DST), ttl=255)
        / VRRPv3(vrid=51, priority=100, adv=50, addrlist=[str(a) for a in VIPS])
    )
    assert theirs[20:] == wire
    assert decode_ipv4(theirs) == (SRC, DST, ours)
    assert bytes(wire[:4]) == bytes([0x31, 51, 100, 2]) and wire[4:6] == b"\x00\x32"


def test_v3_v2_style_checksum_is_accepted_like_keepalived() -> None:
    ours = Advert(3, 51, 100, VIPS, 100)
    old = ours.encode(checksum=Checksum.V2_STYLE)
    assert old != ours.encode(SRC, DST)
    assert Advert.decode(old, SRC, DST) == ours


def test_priority_zero_round_trips() -> None:
    bye = Advert(2, 51, 0, VIPS, 100, AuthType.PASS, b"1111")
    assert Advert.decode(bye.encode()).priority == 0


def _ip(payload: bytes, ttl: int = 255, proto: int = 112) -> bytes:
    return bytes(IP(src=str(SRC), dst=str(DST), ttl=ttl, proto=proto) / payload)


GOOD = SEED_V2.encode()


@pytest.mark.parametrize(
    ("buf", "reason"),
    [
        (GOOD[:7], Reject.TOO_SHORT),
        (bytes([0x41]) + GOOD[1:], Reject.BAD_VERSION),
        (bytes([0x22]) + GOOD[1:], Reject.BAD_TYPE),
        (GOOD[:3] + bytes([9]) + GOOD[4:], Reject.BAD_LENGTH),
        (GOOD[:-1] + b"X", Reject.BAD_CHECKSUM),
        (_with_checksum(GOOD[:1] + b"\0" + GOOD[2:6] + b"\0\0" + GOOD[8:]), Reject.WRONG_VRID),
        (
            _with_checksum(GOOD[:4] + b"\x07" + GOOD[5:6] + b"\0\0" + GOOD[8:]),
            Reject.AUTH_TYPE_MISMATCH,
        ),
        (_with_checksum(GOOD[:5] + b"\0" + b"\0\0" + GOOD[8:]), Reject.BAD_INTERVAL),
    ],
)
def test_decode_rejects(buf: bytes, reason: Reject) -> None:
    with pytest.raises(PacketError) as info:
        Advert.decode(buf)
    assert info.value.reason is reason


@pytest.mark.parametrize(
    ("packet", "reason"),
    [
        (b"\x45" + b"\0" * 10, Reject.BAD_IP_HEADER),
        (_ip(GOOD, ttl=64), Reject.BAD_TTL),
        (_ip(GOOD, proto=17), Reject.NOT_VRRP),
    ],
)
def test_decode_ipv4_rejects(packet: bytes, reason: Reject) -> None:
    with pytest.raises(PacketError) as info:
        decode_ipv4(packet)
    assert info.value.reason is reason


def test_check_local_expectations() -> None:
    check(SEED_V2, 51, AuthType.PASS, b"1111", interval_cs=100)
    with pytest.raises(PacketError) as mismatch:
        check(SEED_V2, 51, AuthType.PASS, b"1111", interval_cs=200)
    assert mismatch.value.reason is Reject.INTERVAL_MISMATCH
    for args, reason in [
        ((52, AuthType.PASS, b"1111"), Reject.WRONG_VRID),
        ((51, AuthType.NONE, b""), Reject.AUTH_TYPE_MISMATCH),
        ((51, AuthType.PASS, b"2222"), Reject.AUTH_MISMATCH),
    ]:
        with pytest.raises(PacketError) as info:
            check(SEED_V2, *args)
        assert info.value.reason is reason
    # keepalived uses only the first 8 characters of auth_pass
    check(
        Advert(2, 51, 100, VIPS, 100, AuthType.PASS, b"12345678"), 51, AuthType.PASS, b"123456789"
    )


def test_decode_never_raises_anything_else() -> None:
    import random

    rng = random.Random(3768)
    for _ in range(3000):
        buf = bytes(rng.randrange(256) for _ in range(rng.randrange(40)))
        try:
            Advert.decode(buf)
            decode_ipv4(buf)
        except PacketError:
            pass
