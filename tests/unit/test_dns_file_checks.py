"""DNS_CHECK and FILE_CHECK with keepalived's semantics, no lab: the query's bytes, which
reply counts, the lab DNS server's answer, a DNS_CHECK against it on loopback, and what
a tracked file's value means for a real server (weight 0, a weight, reverse)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from lablb.checker import dns
from lablb.checker.daemon import init_files
from lablb.checker.logic import Pool, SetWeight, Timing, detection_bound
from lablb.checker.probes import dns_check, file_check
from lablb.config.model import Checker, RealServer, VirtualServer
from lablb.config.track_files import WEIGHT_FAULT, TrackFile, file_status, parse_value
from lablb.errors import PacketError

LOOPBACK = IPv4Address("127.0.0.1")


def test_the_query_is_rfc_1035_with_recursion_desired() -> None:
    q = dns.query(0x1234, "www.lab.test", "A")
    assert q[:12] == bytes.fromhex("1234 0100 0001 0000 0000 0000")
    assert q[12:] == b"\x03www\x03lab\x04test\x00" + bytes.fromhex("0001 0001")
    assert dns.query(1, ".", "SOA")[12:] == b"\x00" + bytes.fromhex("0006 0001")
    assert dns.query(1, "lab.test.", "AAAA")[12:] == b"\x03lab\x04test\x00\x00\x1c\x00\x01"


def test_which_reply_counts() -> None:
    q = dns.query(7, "lab.test", "A")
    a = dns.answer(q)
    assert dns.verdict(7, a) == dns.RCODE_NOERROR
    assert dns.verdict(8, a) is None  # another ID: not the answer
    assert dns.verdict(7, q) is None  # a query (QR clear) is not the answer
    assert dns.verdict(7, a[:11]) is None
    refused = a[:3] + bytes([a[3] | 5]) + a[4:]
    assert dns.verdict(7, refused) == 5


def test_the_lab_server_answers_with_the_question() -> None:
    q = dns.query(9, "www.lab.test", "MX")
    a = dns.answer(q)
    assert a[:2] == q[:2] and a[2] & 0x84 == 0x84  # QR, AA
    assert a[12:] == q[12:] and a[4:6] == b"\x00\x01"
    assert dns.verdict(9, dns.answer(q[:14])) == dns.RCODE_FORMERR  # a cut question
    with pytest.raises(PacketError):
        dns.answer(a)  # an answer is not answered
    with pytest.raises(PacketError):
        dns.answer(b"\x00" * 5)


@pytest.fixture
def dns_server() -> Iterator[int]:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = s.recvfrom(2048)
            except TimeoutError:
                continue
            s.sendto(dns.answer(data), peer)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield s.getsockname()[1]
    stop.set()
    t.join(timeout=2)
    s.close()


def _dns(port: int) -> tuple[bool, str]:
    c = Checker("DNS_CHECK", connect_port=port, connect_timeout=0.3, dns_type="A")
    ok, why, _ = dns_check(c, RealServer(LOOPBACK, port), VirtualServer(LOOPBACK, port))
    return ok, why


def test_dns_check_against_a_server_and_against_nothing(dns_server: int) -> None:
    assert _dns(dns_server) == (True, "DNS A .: NOERROR")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        silent = s.getsockname()[1]
        ok, why = _dns(silent)  # bound, never answers
    assert not ok and "no DNS answer" in why


@pytest.mark.parametrize(
    ("value", "weight", "reverse", "status"),
    [
        (0, 0, False, 0),
        (1, 0, False, None),
        (-3, 0, False, None),
        (0, 0, True, None),
        (5, 0, True, 0),
        (3, 2, False, 6),
        (3, 2, True, -6),
        (-(2**31), 1, False, None),  # keepalived's fault weight
        (2**30, 4, True, None),
    ],
)
def test_what_a_tracked_value_means(
    value: int, weight: int, reverse: bool, status: int | None
) -> None:
    assert file_status(value, weight, reverse) == status
    assert WEIGHT_FAULT == -(2**31)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0\n", 0),
        ("  12 \n", 12),
        ("-4", -4),
        ("+7x", 7),
        ("", 0),
        ("abc", 0),
        ("9" * 20, 2**31 - 1),
    ],
)
def test_the_file_holds_a_number_as_strtol_reads_it(text: str, value: int) -> None:
    assert parse_value(text) == value


def test_file_check_follows_the_file(tmp_path: Path) -> None:
    path = tmp_path / "rs"
    tf = TrackFile("rs", str(path), weight=0, init_value=0, overwrite=True)
    path.write_text("1\n")
    assert init_files({"rs": tf}) == [] and path.read_text() == "0\n"  # overwrite
    rs = RealServer(LOOPBACK, 80, weight=5)
    c = Checker("FILE_CHECK", track_file="rs")
    assert file_check(c, tf, rs)[0]
    path.write_text("1\n")
    assert not file_check(c, tf, rs)[0]
    path.unlink()
    assert file_check(c, tf, rs)[0]  # absent: 0
    # A weight adds value x weight to the server's own (the checker's weight first).
    path.write_text("3\n")
    weighted = Checker("FILE_CHECK", track_file="rs", file_weight=2)
    assert file_check(weighted, tf, rs) == (True, f"{path} holds 3", 11)
    # No timings: the verdict follows the file, within the daemon's loop.
    assert detection_bound(Timing.of(c)) == (0.0, 0.0)
    assert init_files({"x": TrackFile("x", str(tmp_path / "no" / "f"), init_value=0)})


def test_the_same_dynamic_weight_again_changes_nothing() -> None:
    rs = RealServer(LOOPBACK, 80, weight=5)
    pool = Pool(VirtualServer(LOOPBACK, 80, real_servers=(rs,)))
    first = pool.change(rs, True, "file", 11)
    assert SetWeight(pool.vs.label, LOOPBACK, 80, 11) in first
    assert pool.change(rs, True, "file", 11) == []
