"""The HTTP checker's reading of responses, hostile ones included: a Content-Length of
2^63 or past memory, a negative or absurd chunk size, a header that never ends, a
server that drips its answer; and the request refusing a CR-LF virtualhost while
sending a non-ASCII path as keepalived does. Only ``HttpError`` ever escapes the
parser (hypothesis, on random and mutated responses), and a dripping server fails the
check within its connect_timeout."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from ipaddress import IPv4Address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lablb.checker import http
from lablb.checker.probes import http_get, md5_hex
from lablb.config.model import Checker, RealServer, Url, VirtualServer
from tests.unit.fuzzing import FUZZ

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n"


def test_the_three_ways_a_body_ends() -> None:
    assert http.parse_response(OK, complete=False) == (200, b"hello")
    assert http.parse_response(CHUNKED, complete=False) == (200, b"hello")
    closed = b"HTTP/1.0 404 Not Found\r\nServer: x\r\n\r\nhello"
    assert http.parse_response(closed, complete=True) == (404, b"hello")
    with pytest.raises(http.Incomplete):
        http.parse_response(closed, complete=False)
    with pytest.raises(http.Incomplete):
        http.parse_response(OK[:-1], complete=False)


@pytest.mark.parametrize(
    "raw",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775808\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-3\r\nabc\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n",
        b"HTTP/1.1 abc OK\r\n\r\n",
        b"SMTP 220 hello\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 20000,
    ],
)
def test_hostile_responses_fail_the_check(raw: bytes) -> None:
    with pytest.raises(http.HttpError) as caught:
        http.parse_response(raw, complete=True)
    assert not isinstance(caught.value, http.Incomplete)


def test_the_request() -> None:
    assert http.request("/é", "web").startswith("GET /é HTTP/1.1\r\n".encode())
    assert b"Host: web\r\n" in http.request("/", "web")
    with pytest.raises(http.HttpError):
        http.request("/", "evil\r\nX-Injected: 1")
    with pytest.raises(http.HttpError):
        http.request("/a\nb", "web")


def _mutants() -> st.SearchStrategy[bytes]:
    seeds = st.sampled_from([OK, CHUNKED, b"HTTP/1.0 200 OK\r\n\r\nbody"])
    return st.tuples(seeds, st.integers(0, 200), st.binary(max_size=12)).map(
        lambda t: t[0][: t[1]] + t[2] + t[0][t[1] :]
    )


@FUZZ
@given(st.one_of(st.binary(max_size=300), _mutants()), st.booleans())
def test_only_http_errors_escape_the_parser(raw: bytes, complete: bool) -> None:
    try:
        status, body = http.parse_response(raw, complete)
    except http.HttpError:
        return
    assert 100 <= status <= 999 and len(body) <= http.MAX_RESPONSE


@pytest.fixture
def server() -> Iterator[tuple[int, list[bytes], list[float]]]:
    """A loopback HTTP server: answers with the first element of ``answers``, dripped
    one byte every ``drip[0]`` seconds when ``drip`` holds a delay."""
    answers: list[bytes] = [OK]
    drip: list[float] = []
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    s.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = s.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(1.0)
                try:
                    conn.recv(4096)
                    if not drip:
                        conn.sendall(answers[0])
                        continue
                    for b in answers[0]:
                        if stop.is_set():
                            break
                        conn.sendall(bytes([b]))
                        time.sleep(drip[0])
                except OSError:
                    continue

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield s.getsockname()[1], answers, drip
    stop.set()
    t.join(timeout=5)
    s.close()


def _check(port: int, digest: str | None, timeout: float = 0.5) -> tuple[bool, str]:
    loopback = IPv4Address("127.0.0.1")
    c = Checker("HTTP_GET", connect_timeout=timeout, urls=(Url("/", digest),))
    ok, why, _ = http_get(c, RealServer(loopback, port), VirtualServer(loopback, port))
    return ok, why


def test_http_get_on_loopback(server: tuple[int, list[bytes], list[float]]) -> None:
    port, answers, _ = server
    assert _check(port, md5_hex(b"hello")) == (True, "ok")
    ok, why = _check(port, md5_hex(b"other"))
    assert not ok and "digest" in why
    answers[0] = b"HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775808\r\n\r\n"
    ok, why = _check(port, None)
    assert not ok and "too large" in why


def test_a_dripping_server_fails_within_connect_timeout(
    server: tuple[int, list[bytes], list[float]],
) -> None:
    port, _, drip = server
    drip.append(0.1)  # the whole answer would take 4 s; each byte comes in 0.1 s
    t0 = time.monotonic()
    ok, why = _check(port, md5_hex(b"hello"), timeout=0.5)
    took = time.monotonic() - t0
    assert not ok and "no whole answer in 0.5 s" in why
    assert 0.5 <= took < 0.5 + 0.2, took
