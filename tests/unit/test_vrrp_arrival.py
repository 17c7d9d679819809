"""The VRRP edge feeds the engine each advert at its kernel arrival, not when a busy
daemon got round to reading it (RFC 3768/5798 section 6.4.2 resets Master_Down_Timer on
receipt): a backup read late would take over late by the same amount."""

from __future__ import annotations

import socket
import struct
import time

import pytest

from lablb.vrrp import io


def test_arrival_carries_the_realtime_stamp_to_the_monotonic_clock() -> None:
    stamp = time.time() - 0.005
    sec = int(stamp)
    cmsg = (socket.SOL_SOCKET, io.SO_TIMESTAMPNS, struct.pack("@qq", sec, int((stamp - sec) * 1e9)))
    mono = time.monotonic()
    assert io.arrival([cmsg]) == pytest.approx(mono - 0.005, abs=0.0005)


def test_arrival_without_a_stamp_is_now_and_never_in_the_future() -> None:
    before = time.monotonic()
    assert before <= io.arrival([]) <= time.monotonic()
    future = time.time() + 10
    cmsg = (socket.SOL_SOCKET, io.SO_TIMESTAMPNS, struct.pack("@qq", int(future), 0))
    assert io.arrival([cmsg]) <= time.monotonic()


def _wait_for_receive_stamping(rx: socket.socket, tx: socket.socket) -> None:
    """The kernel turns stamping at receipt on through deferred work
    (net_enable_timestamp schedules it when the first socket asks); until it has run, a
    datagram is stamped when it is read. Probe until one is stamped before its read
    (bounded: 1 s), so the test measures the stamp and not the kernel's workqueue. The
    engine's socket lives for the whole run; only its first adverts can fall in that
    window, and they are stamped at the read, as without SO_TIMESTAMPNS."""
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        tx.sendto(b"probe", rx.getsockname())
        time.sleep(0.005)
        got = io._receive(rx)
        if got is not None and got[1] < time.monotonic() - 0.004:
            return
    pytest.fail("the kernel never stamped a datagram at receipt within 1 s")


def test_a_datagram_read_late_is_stamped_when_it_arrived() -> None:
    """On loopback (UDP: no root), read 30 ms after it was sent: its arrival is the send."""
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        rx.bind(("127.0.0.1", 0))
        rx.setsockopt(socket.SOL_SOCKET, io.SO_TIMESTAMPNS, 1)
        rx.setblocking(False)
        _wait_for_receive_stamping(rx, tx)
        sent = time.monotonic()
        tx.sendto(b"advert", rx.getsockname())
        time.sleep(0.03)
        got = io._receive(rx)
        assert got is not None
        data, at = got
        assert data == b"advert"
        assert sent - 0.001 <= at <= sent + 0.01  # the kernel's stamp, not the read 30 ms on
        assert io._receive(rx) is None
    finally:
        rx.close()
        tx.close()


def test_an_error_left_pending_on_a_socket_is_cleared_before_a_burst() -> None:
    """The kernel parks an asynchronous error on a socket (ENETDOWN on a packet socket
    whose link went down; here, on loopback without root, ECONNREFUSED from an ICMP
    port unreachable) and fails the next send with it. The GARP and NA senders read it
    off first, so their first burst after a link flap goes out whole."""
    import errno

    closed = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("127.0.0.1", port))
        s.send(b"x")
        time.sleep(0.05)  # the ICMP error comes back and is parked on the socket
        assert io.clear_pending_error(s) == errno.ECONNREFUSED
        assert io.clear_pending_error(s) == 0
        s.send(b"x")  # would have raised ConnectionRefusedError
    finally:
        s.close()
