"""IPsec AH around VRRPv2 (lablb.vrrp.ah) and the anti-replay counter in the state
machine: the layout keepalived builds, the ICV over the fields it covers, every
tampering caught, a replay rejected, the counter running on across a failover."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import struct
from dataclasses import replace
from ipaddress import IPv4Address

import pytest

from lablb.errors import PacketError
from lablb.vrrp import ah
from lablb.vrrp.fsm import AhSeen, Params, Rejected, Router, Send, State
from lablb.vrrp.packet import VRRP_TOS, Advert, AuthType, Reject

SRC, GROUP = IPv4Address("172.30.0.20"), IPv4Address("224.0.0.18")
VIPS = (IPv4Address("172.30.0.22"),)
ADVERT = Advert(2, 51, 150, VIPS, 100, AuthType.AH)
KEY = b"s3cret"


def datagram(**kw: object) -> bytes:
    args: dict[str, object] = dict(
        advert=ADVERT, src=SRC, dst=GROUP, key=KEY, seq=7, ident=1234, unicast=False
    )
    args.update(kw)
    return ah.encode(**args)  # type: ignore[arg-type]


def test_layout_as_keepalived_builds_it() -> None:
    d = datagram()
    assert d[0] == 0x45 and d[1] == VRRP_TOS and d[8] == 255 and d[9] == ah.IPPROTO_AH
    assert struct.unpack("!H", d[2:4])[0] == len(d) == 20 + 24 + 20
    assert struct.unpack("!H", d[4:6])[0] == 1234
    head = d[20:32]
    assert head[0] == 112 and head[1] == 4 and head[2:4] == b"\0\0"
    assert head[4:8] == SRC.packed and struct.unpack("!I", head[8:12])[0] == 7
    vrrp = d[44:]
    assert vrrp[4] == AuthType.AH and vrrp[-8:] == bytes(8)  # the VRRP auth field stays zero


def test_the_icv_is_hmac_md5_96_over_the_immutable_fields() -> None:
    d = bytearray(datagram())
    icv = bytes(d[32:44])
    covered = bytearray(d)
    covered[1] = 0
    covered[6:8] = b"\0\0"
    covered[10:12] = b"\0\0"
    covered[32:44] = bytes(12)
    mac = hmac.new(KEY.ljust(8, b"\0"), bytes(covered), hashlib.md5).digest()[:12]
    assert icv == mac


def test_round_trip_and_the_wrong_key() -> None:
    got = ah.decode(datagram())
    assert (got.src, got.dst, got.seq, got.spi, got.ttl) == (SRC, GROUP, 7, SRC, 255)
    assert got.advert == ADVERT
    assert got.authentic(KEY) and not got.authentic(b"other")
    assert got.authentic(b"s3cret\0\0")  # keepalived's key is the 8-byte padded auth_pass


def test_mutable_fields_may_change_and_the_rest_may_not() -> None:
    d = bytearray(datagram())
    d[1] = 0  # TOS rewritten by a router: not covered
    d[6] = 0x40  # DF set: not covered
    assert ah.decode(bytes(d)).authentic(KEY)
    for offset in (4, 8, 12, 16, 36, 44 + 2, len(d) - 12):  # id, TTL, addresses, ICV, VRRP
        t = bytearray(datagram())
        t[offset] ^= 0x01
        with contextlib.suppress(PacketError):  # else a VRRP checksum caught it first
            assert not ah.decode(bytes(t)).authentic(KEY), offset


def test_ttl_is_covered_except_between_unicast_peers() -> None:
    d = bytearray(datagram(unicast=True))
    d[8] = 64
    assert ah.decode(bytes(d)).authentic(KEY, unicast=True)
    assert not ah.decode(bytes(d)).authentic(KEY, unicast=False)


def test_a_foreign_spi_is_not_authentic() -> None:
    d = bytearray(datagram())
    d[24:28] = IPv4Address("10.0.0.1").packed
    assert not ah.decode(bytes(d)).authentic(KEY)


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (lambda d: d[:30], Reject.BAD_IP_HEADER),
        (lambda d: d[:9] + b"\x70" + d[10:], Reject.NOT_VRRP),
        (lambda d: d[:20] + b"\x06" + d[21:], Reject.NOT_VRRP),
        (lambda d: d[:21] + b"\x05" + d[22:], Reject.BAD_LENGTH),
    ],
)
def test_malformed_datagrams_are_typed_rejects(edit: object, reason: Reject) -> None:
    with pytest.raises(PacketError) as caught:
        ah.decode(edit(datagram()))  # type: ignore[operator]
    assert caught.value.reason is reason


PARAMS = Params(
    name="VI_1", vrid=51, priority=100, advert_int=1.0, primary_ip=SRC, vips=VIPS,
    auth_type=AuthType.AH, auth_pass=KEY,
)  # fmt: skip
PEER = IPv4Address("172.30.0.21")


def backup() -> Router:
    r = Router(PARAMS)
    r.start(0.0)
    assert r.state is State.BACKUP
    return r


def test_the_master_numbers_its_adverts_on_from_the_last_it_heard() -> None:
    r = backup()
    assert r.receive(1.0, PEER, ADVERT, AhSeen(41, True)) == []
    assert r.ah_seq == 41
    out = r.expire(10.0)  # the peer went silent: master
    sends = [a for a in out if isinstance(a, Send)]
    assert r.state is State.MASTER and [s.ah_seq for s in sends] == [42]
    assert sends[0].advert.auth_type is AuthType.AH and sends[0].advert.auth_data == b""


@pytest.mark.parametrize(
    ("seen", "reason"),
    [
        (AhSeen(5, False), Reject.AUTH_MISMATCH),
        (None, Reject.AUTH_TYPE_MISMATCH),
    ],
)
def test_forged_or_unprotected_adverts_are_rejected(seen: AhSeen | None, reason: Reject) -> None:
    r = backup()
    (rej,) = r.receive(1.0, PEER, ADVERT, seen)
    assert isinstance(rej, Rejected) and rej.reason is reason and r.ah_seq == 0


def test_a_replay_is_rejected_and_counted() -> None:
    r = backup()
    r.receive(1.0, PEER, ADVERT, AhSeen(10, True))
    (rej,) = r.receive(1.1, PEER, ADVERT, AhSeen(10, True))
    assert isinstance(rej, Rejected) and rej.reason is Reject.REPLAYED
    assert r.rejected == {Reject.REPLAYED: 1} and r.ah_seq == 10


def test_an_ah_header_on_a_pass_instance_is_a_type_mismatch() -> None:
    r = Router(replace(PARAMS, auth_type=AuthType.PASS))
    r.start(0.0)
    (rej,) = r.receive(1.0, PEER, replace(ADVERT, auth_type=AuthType.PASS), AhSeen(1, True))
    assert isinstance(rej, Rejected) and rej.reason is Reject.AUTH_TYPE_MISMATCH


# Two adverts keepalived 2.2.7 sent in the seed lab (auth_type AH, auth_pass 1111,
# priority 100, VIPs 172.30.0.22 and 172.16.55.100), captured on lb02 with tcpdump.
KEEPALIVED_AH = [
    "45c0004400010000ff332e81ac1e0014e000001270040000ac1e001400000001c9c142497770eba93d"
    "4346e1213364020201e91fac1e0016ac1037640000000000000000",
    "45c0004400020000ff332e80ac1e0014e000001270040000ac1e001400000002b5721b0b08618eae4b"
    "9309c7213364020201e91fac1e0016ac1037640000000000000000",
]


@pytest.mark.parametrize("n", [1, 2])
def test_byte_identical_to_keepalived(n: int) -> None:
    theirs = bytes.fromhex(KEEPALIVED_AH[n - 1])
    got = ah.decode(theirs)
    assert (got.seq, got.spi) == (n, SRC) and got.authentic(b"1111")
    assert not got.authentic(b"1112")
    advert = Advert(2, 51, 100, (IPv4Address("172.30.0.22"), IPv4Address("172.16.55.100")),
                    100, AuthType.AH)  # fmt: skip
    assert got.advert == advert
    # keepalived numbers the IP identification like the sequence: the same n here.
    assert ah.encode(advert, SRC, GROUP, b"1111", seq=n, ident=n) == theirs
