"""Every decoder of untrusted input, on random and mutated input (hypothesis): only
``PacketError`` escapes, with a reason to count it by. The VRRP decoders (IPv4, IPv6,
AH), the forwarder's frame parser, the connection-sync codec (numbers past a float,
NaN, JSON nested a thousand deep) and the DNS checker's reply reader. Examples per
test: ``LABLB_FUZZ`` (300 in the suite)."""

from __future__ import annotations

import json
import struct
from ipaddress import IPv4Address, IPv6Address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lablb.checker import dns
from lablb.errors import PacketError
from lablb.ipvs.frame import SyncConn, decode_sync, encode_sync, parse
from lablb.ipvs.service import ConnState, Flow
from lablb.vrrp import ah
from lablb.vrrp.packet import VRRP_GROUP6, Advert, AuthType, decode_ipv4, decode_ipv6
from tests.unit.fuzzing import FUZZ

SRC4, DST4 = IPv4Address("172.30.0.20"), IPv4Address("224.0.0.18")
SRC6 = IPv6Address("fe80::1")
ADVERT4 = Advert(3, 51, 100, (IPv4Address("172.30.0.22"),), 100)
IP4 = bytes.fromhex("45c0002c00004000ff70") + b"\0\0" + SRC4.packed + DST4.packed
WIRE4 = IP4 + ADVERT4.encode(SRC4, DST4)
WIRE6 = Advert(3, 52, 100, (IPv6Address("2001:db8::22"),), 100).encode(SRC6, VRRP_GROUP6)
FRAME = (
    b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00"
    + bytes.fromhex("4500002800010000400600000a0000010a000002")
    + struct.pack("!HHIIBBHHH", 40000, 80, 1, 0, 0x50, 0x02, 1024, 0, 0)
)  # fmt: skip
CONN = SyncConn(
    Flow(6, IPv4Address("198.51.100.11"), 40000, IPv4Address("172.16.55.100"), 80),
    (IPv4Address("172.30.0.23"), 80),
    ConnState.ESTABLISHED,
    899.5,
)
SYNC = encode_sync(7, [CONN])


def mutated(seed: bytes) -> st.SearchStrategy[bytes]:
    """``seed`` with a span replaced by random bytes, or cut."""
    return st.tuples(st.integers(0, len(seed)), st.integers(0, 8), st.binary(max_size=8)).map(
        lambda t: seed[: t[0]] + t[2] + seed[t[0] + t[1] :]
    )


def inputs(seed: bytes) -> st.SearchStrategy[bytes]:
    return st.one_of(st.binary(max_size=200), mutated(seed))


def only_packet_errors(decode: object, *args: object) -> None:
    try:
        decode(*args)  # type: ignore[operator]
    except PacketError as exc:
        assert exc.reason is not None and str(exc)


@FUZZ
@given(inputs(WIRE4))
def test_vrrp_over_ipv4(buf: bytes) -> None:
    only_packet_errors(decode_ipv4, buf)
    only_packet_errors(Advert.decode, buf[20:], SRC4, DST4)


@FUZZ
@given(inputs(WIRE6), st.integers(0, 255))
def test_vrrp_over_ipv6(buf: bytes, hops: int) -> None:
    only_packet_errors(decode_ipv6, buf, SRC6, VRRP_GROUP6, hops)


AH_WIRE = ah.encode(
    Advert(2, 51, 100, (IPv4Address("172.30.0.22"),), 100, AuthType.AH), SRC4, DST4,
    b"1111", 1, 1,
)  # fmt: skip


@FUZZ
@given(inputs(AH_WIRE))
def test_ah(buf: bytes) -> None:
    only_packet_errors(ah.decode, buf)


@FUZZ
@given(inputs(FRAME))
def test_frame_parser(buf: bytes) -> None:
    try:
        p = parse(buf)
    except PacketError:
        return
    # What it accepts is IPv4 with a sane header: ports come from the TCP/UDP header.
    assert buf[14] >> 4 == 4 and (buf[14] & 0x0F) >= 5 and p.flow.proto in (6, 17)


@pytest.mark.parametrize("bad_header", [bytes([0x05]), bytes([0x43]), bytes([0x65])])
def test_frame_parser_refuses_other_versions_and_short_headers(bad_header: bytes) -> None:
    with pytest.raises(PacketError):
        parse(FRAME[:14] + bad_header + FRAME[15:])


SYNC_ATTACKS = [
    b'{"v":1,"id":7,"conns":[[6,"1.1.1.1",1e999,"2.2.2.2",80,"3.3.3.3",80,"ESTABLISHED",1]]}',
    b'{"v":1,"id":7,"conns":[[6,"1.1.1.1",1,"2.2.2.2",80,"3.3.3.3",80,"ESTABLISHED",1e999]]}',
    b'{"v":1,"id":7,"conns":[[6,"1.1.1.1",1,"2.2.2.2",80,"3.3.3.3",80,"ESTABLISHED",NaN]]}',
    b'{"v":1,"id":7,"conns":[[6,"1.1.1.1",1,"2.2.2.2",80,"3.3.3.3",80,"ESTABLISHED",-1]]}',
    b'{"v":1,"id":7,"conns":[[6,"1.1.1.1",70000,"2.2.2.2",80,"3.3.3.3",80,"ESTABLISHED",1]]}',
    b'{"v":1,"id":7,"conns":[[true,"1.1.1.1",1,"2.2.2.2",80,"3.3.3.3",80,"ESTABLISHED",1]]}',
    b'{"v":1,"id":7,"conns":[[6,1,1,"2.2.2.2",80,"3.3.3.3",80,"ESTABLISHED",1]]}',
    b'{"v":1,"id":7,"conns":{}}',
    b"[" * 1000 + b"]" * 1000,
    b'{"v":1,"id":7,"conns":' + b"[" * 5000 + b"]" * 5000 + b"}",
]


@pytest.mark.parametrize("datagram", SYNC_ATTACKS)
def test_sync_attacks_are_packet_errors(datagram: bytes) -> None:
    with pytest.raises(PacketError):
        decode_sync(datagram, 7)


def _json_mutants() -> st.SearchStrategy[bytes]:
    values = st.one_of(
        st.integers(), st.floats(allow_nan=True), st.text(max_size=8), st.booleans(), st.none()
    )
    row = st.lists(values, max_size=10)
    return st.builds(
        lambda rows: json.dumps({"v": 1, "id": 7, "conns": rows}).encode(), st.lists(row)
    )


@FUZZ
@given(st.one_of(inputs(SYNC), _json_mutants()))
def test_sync_decoder(buf: bytes) -> None:
    try:
        conns = decode_sync(buf, 7)
    except PacketError:
        return
    for c in conns:
        assert 0 <= c.timeout <= 2678400 and 0 <= c.flow.cport <= 65535


@FUZZ
@given(inputs(dns.query(5, "www.lab.test", "A")))
def test_dns_reader_and_server(buf: bytes) -> None:
    assert dns.verdict(5, buf) in (None, *range(16))
    only_packet_errors(dns.answer, buf)
