"""UDP_CHECK and PING_CHECK attempts against loopback, with keepalived's semantics:
a required reply must arrive, be long enough and start with the expected bytes; with
no reply required only a port unreachable fails; an echo request is answered."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from ipaddress import IPv4Address

import pytest

from lablb.checker.probes import echo_request, ping_check, smtp_check, udp_check
from lablb.config.model import Checker, RealServer, VirtualServer
from lablb.vrrp.packet import inet_checksum

LOOPBACK = IPv4Address("127.0.0.1")
TIMEOUT = 0.3


@pytest.fixture
def echo() -> Iterator[int]:
    """A UDP server on loopback that answers each datagram with b"ok" + the datagram."""
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
            s.sendto(b"ok" + data, peer)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield s.getsockname()[1]
    stop.set()
    t.join(timeout=2)
    s.close()


def check(port: int, **kw: object) -> tuple[bool, str]:
    c = Checker("UDP_CHECK", connect_port=port, connect_timeout=TIMEOUT, **kw)  # type: ignore[arg-type]
    ok, why, _ = udp_check(c, RealServer(LOOPBACK, port), VirtualServer(LOOPBACK, port))
    return ok, why


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_required_reply(echo: int) -> None:
    assert check(echo, payload=b"\x01", require_reply=b"ok")[0]
    assert check(echo, payload=b"\x01", require_reply=b"")[0]  # any reply
    ok, why = check(echo, payload=b"\x01", require_reply=b"no")
    assert not ok and "does not match" in why
    ok, why = check(echo, payload=b"\x01", require_reply=b"", max_reply_length=2)
    assert not ok and "3 bytes" in why


def test_no_listener_is_a_port_unreachable() -> None:
    ok, why = check(free_port(), payload=b"x")
    assert not ok and "refused" in why.lower()


def test_silence_is_up_unless_a_reply_is_required() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        assert check(port, payload=b"x") == (True, "no port unreachable")
        ok, why = check(port, payload=b"x", require_reply=b"")
        assert not ok and "no reply" in why


def test_echo_request_layout() -> None:
    packet = echo_request(0x1234, 1)
    assert packet[0] == 8 and packet[1] == 0 and packet[4:8] == b"\x12\x34\x00\x01"
    assert inet_checksum(packet) == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="a raw ICMP socket needs root")
def test_ping_loopback() -> None:
    c = Checker("PING_CHECK", connect_timeout=1.0)
    assert ping_check(c, RealServer(LOOPBACK), VirtualServer(LOOPBACK))[0]


@pytest.fixture
def smtp() -> Iterator[tuple[int, list[bytes]]]:
    """A one-connection-at-a-time SMTP server on loopback: 220, then 250 to HELO (which
    it records), 221 to QUIT."""
    srv = socket.create_server(("127.0.0.1", 0))
    srv.settimeout(0.1)
    heard: list[bytes] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except TimeoutError:
                continue
            with conn:
                conn.sendall(b"220-lab sink\r\n220 ready\r\n")
                f = conn.makefile("rb")
                for line in f:
                    heard.append(line.strip())
                    if line.startswith(b"HELO"):
                        conn.sendall(b"250 hello\r\n")
                    elif line.startswith(b"QUIT"):
                        conn.sendall(b"221 bye\r\n")
                        break

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield srv.getsockname()[1], heard
    stop.set()
    t.join(timeout=2)
    srv.close()


def test_smtp_greeting_helo_quit(smtp: tuple[int, list[bytes]]) -> None:
    port, heard = smtp
    c = Checker("SMTP_CHECK", connect_port=port, connect_timeout=1.0, helo_name="lb01")
    ok, why, _ = smtp_check(c, RealServer(LOOPBACK), VirtualServer(LOOPBACK, 25))
    assert ok, why
    assert heard[:1] == [b"HELO lb01"]


def test_smtp_nothing_listening() -> None:
    c = Checker("SMTP_CHECK", connect_port=free_tcp_port(), connect_timeout=0.5)
    ok, why, _ = smtp_check(c, RealServer(LOOPBACK), VirtualServer(LOOPBACK, 25))
    assert not ok and "refused" in why.lower()


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
