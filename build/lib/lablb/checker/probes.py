"""One attempt of each checker kind against a real server. Edge: sockets and processes.

Each function makes exactly one attempt bounded by the checker's ``connect_timeout`` and
returns (ok, why, dynamic weight or None). The timing between attempts (retry,
delay_before_retry, delay_loop) is ``lablb.checker.logic``'s business, not this module's.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import shlex
import socket
import ssl
import struct
import subprocess
import threading
import time
from typing import BinaryIO

from lablb.checker import dns, http
from lablb.config.model import Checker, RealServer, VirtualServer
from lablb.config.track_files import TrackFile, file_status, parse_value
from lablb.vrrp.packet import inet_checksum

Result = tuple[bool, str, int | None]
SMTP_PORT = 25
SMTP_LINE_MAX = 1000  # RFC 5321 section 4.5.3.1.5: a reply line, CRLF included


def target(c: Checker, rs: RealServer, vs: VirtualServer) -> tuple[str, int]:
    """Where the checker connects: connect_ip/connect_port, else the real server."""
    default = {"SSL_GET": 443, "DNS_CHECK": dns.DNS_PORT}.get(c.kind, 80)
    port = c.connect_port or rs.port or vs.port or default
    return str(c.connect_ip or rs.address), port


def md5_hex(body: bytes) -> str:
    """The digest keepalived's HTTP_GET compares: MD5 of the body, 32 lowercase hex."""
    return hashlib.md5(body, usedforsecurity=False).hexdigest()


def http_get(c: Checker, rs: RealServer, vs: VirtualServer) -> Result:
    """keepalived's HTTP_GET/SSL_GET: each url fetched, its status in ``status_code``
    and, with ``digest``, the MD5 of its body equal. Each url's whole exchange
    (connect, TLS, request, response) is bounded by connect_timeout, so a server that
    drips its answer a byte at a time fails the check instead of holding it."""
    host, port = target(c, rs, vs)
    for url in c.urls or ():
        try:
            head = http.request(url.path, url.virtualhost or vs.virtualhost or host)
            status, body = _fetch(c, host, port, head)
        except (OSError, http.HttpError) as exc:
            why = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            return False, f"GET {url.path}: {why}", None
        if not any(lo <= status <= hi for lo, hi in url.status_code):
            return False, f"GET {url.path}: status {status}", None
        if url.digest is not None and md5_hex(body) != url.digest.lower():
            return False, f"GET {url.path}: digest {md5_hex(body)} != {url.digest}", None
    return True, "ok", None


def _fetch(c: Checker, host: str, port: int, head: bytes) -> tuple[int, bytes]:
    """One request, its response read to the end within connect_timeout in all."""
    deadline = time.monotonic() + c.connect_timeout

    def left() -> float:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"no whole answer in {c.connect_timeout:g} s")
        return remaining

    source = (str(c.bindto), c.bind_port or 0) if c.bindto is not None else None
    raw = socket.create_connection((host, port), timeout=left(), source_address=source)
    sock: socket.socket = raw
    try:
        if c.kind == "SSL_GET":  # keepalived verifies no certificate without a CA
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            raw.settimeout(left())
            sock = ctx.wrap_socket(raw, server_hostname=host)
        sock.settimeout(left())
        sock.sendall(head)
        data = b""
        while True:
            sock.settimeout(left())
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                raise TimeoutError(f"no whole answer in {c.connect_timeout:g} s") from None
            data += chunk
            with contextlib.suppress(http.Incomplete):  # (never once the server closed)
                return http.parse_response(data, complete=not chunk)
    finally:
        sock.close()


def tcp_check(c: Checker, rs: RealServer, vs: VirtualServer) -> Result:
    host, port = target(c, rs, vs)
    try:
        with socket.create_connection(
            (host, port),
            timeout=c.connect_timeout,
            source_address=(str(c.bindto), c.bind_port or 0) if c.bindto else None,
        ):
            return True, "ok", None
    except OSError as exc:
        return False, f"connect {host}:{port}: {exc.strerror or exc}", None


def misc_check(c: Checker, rs: RealServer, vs: VirtualServer) -> Result:
    """Exit 0: up. With ``misc_dynamic``, exit 2..255 is up with weight code - 2, and 1
    is down (keepalived.conf(5), MISC_CHECK)."""
    if c.misc_path is None:
        return False, "MISC_CHECK without misc_path", None
    timeout = c.misc_timeout or c.connect_timeout
    try:
        proc = subprocess.run(
            shlex.split(c.misc_path.command),
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return False, f"misc_path timed out after {timeout:g} s", None
    except OSError as exc:
        return False, f"misc_path: {exc}", None
    code = proc.returncode
    if c.misc_dynamic and code >= 2:
        return True, f"exit {code}", code - 2
    return code == 0, f"exit {code}", None


def udp_check(c: Checker, rs: RealServer, vs: VirtualServer) -> Result:
    """keepalived's UDP_CHECK: send ``payload`` from a connected socket. With
    ``require_reply``: up when a reply of min..max_reply_length bytes, starting with the
    given bytes, arrives within connect_timeout. Without: up unless the server answers
    port unreachable (ICMP, seen as ECONNREFUSED) within connect_timeout."""
    host, port = target(c, rs, vs)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(c.connect_timeout)
        try:
            if c.bindto is not None:
                s.bind((str(c.bindto), c.bind_port or 0))
            s.connect((host, port))
            s.send(c.payload or b"")
            reply = s.recv(65535)
        except TimeoutError:
            if c.require_reply is None:
                return True, "no port unreachable", None
            return False, f"no reply from {host}:{port} in {c.connect_timeout:g} s", None
        except OSError as exc:
            return False, f"udp {host}:{port}: {exc.strerror or exc}", None
    if c.require_reply is None:
        return True, "reply", None
    if not c.min_reply_length <= len(reply) <= c.max_reply_length:
        return False, f"reply of {len(reply)} bytes", None
    if not reply.startswith(c.require_reply[: len(reply)]):
        return False, f"reply {reply[:16].hex()} does not match", None
    return True, "reply", None


def ping_check(c: Checker, rs: RealServer, vs: VirtualServer) -> Result:
    """keepalived's PING_CHECK: an ICMP echo request; up on its reply within
    connect_timeout. A raw socket (the checker runs as root, as keepalived's does)."""
    host = str(c.connect_ip or rs.address)
    ident = threading.get_ident() & 0xFFFF
    packet = echo_request(ident, 1)
    deadline = time.monotonic() + c.connect_timeout
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP) as s:
        try:
            s.connect((host, 0))
            s.send(packet)
            while (left := deadline - time.monotonic()) > 0:
                s.settimeout(left)
                data = s.recv(2048)
                ihl = (data[0] & 0x0F) * 4
                icmp = data[ihl : ihl + 8]
                if len(icmp) == 8 and icmp[0] == 0 and icmp[4:6] == packet[4:6]:
                    return True, "echo reply", None
        except TimeoutError:
            pass
        except OSError as exc:
            return False, f"ping {host}: {exc.strerror or exc}", None
    return False, f"no echo reply from {host} in {c.connect_timeout:g} s", None


def smtp_check(c: Checker, rs: RealServer, vs: VirtualServer) -> Result:
    """keepalived's SMTP_CHECK: connect (port 25 by default), a 220 greeting, HELO
    answered 250, then QUIT; the whole exchange bounded by connect_timeout."""
    host = str(c.connect_ip or rs.address)
    port = c.connect_port or SMTP_PORT
    helo = c.helo_name or socket.gethostname()
    source = (str(c.bindto), c.bind_port or 0) if c.bindto is not None else None
    try:
        with socket.create_connection(
            (host, port), timeout=c.connect_timeout, source_address=source
        ) as s:
            f = s.makefile("rb")
            greeting = _smtp_reply(f)
            if not greeting.startswith(b"220"):
                return False, f"SMTP greeting {greeting[:40]!r}", None
            s.sendall(f"HELO {helo}\r\n".encode())
            answer = _smtp_reply(f)
            if not answer.startswith(b"250"):
                return False, f"HELO answered {answer[:40]!r}", None
            s.sendall(b"QUIT\r\n")
            return True, "250 to HELO", None
    except OSError as exc:
        return False, f"smtp {host}:{port}: {exc.strerror or exc}", None


def _smtp_reply(f: BinaryIO) -> bytes:
    """One SMTP reply, its continuation lines ("250-...") read through (RFC 5321 4.2)."""
    line = f.readline(SMTP_LINE_MAX)
    while len(line) >= 4 and line[3:4] == b"-":
        line = f.readline(SMTP_LINE_MAX)
    return line


def dns_check(c: Checker, rs: RealServer, vs: VirtualServer) -> Result:
    """keepalived's DNS_CHECK: one query (``type`` for ``name``) over UDP from a
    connected socket; up on a reply with the query's ID, QR set and RCODE 0, down on
    another RCODE or no answer within connect_timeout."""
    host, port = target(c, rs, vs)
    ident = random.getrandbits(16)
    deadline = time.monotonic() + c.connect_timeout
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            if c.bindto is not None:
                s.bind((str(c.bindto), c.bind_port or 0))
            s.connect((host, port))
            s.send(dns.query(ident, c.dns_name, c.dns_type))
            while (left := deadline - time.monotonic()) > 0:
                s.settimeout(left)
                rcode = dns.verdict(ident, s.recv(65535))
                if rcode is None:
                    continue  # not the answer (keepalived keeps reading too)
                if rcode != dns.RCODE_NOERROR:
                    return False, f"DNS {c.dns_type} {c.dns_name}: rcode {rcode}", None
                return True, f"DNS {c.dns_type} {c.dns_name}: NOERROR", None
        except TimeoutError:
            pass
        except OSError as exc:
            return False, f"dns {host}:{port}: {exc.strerror or exc}", None
    return False, f"no DNS answer from {host}:{port} in {c.connect_timeout:g} s", None


def file_check(c: Checker, tracked: TrackFile, rs: RealServer) -> Result:
    """keepalived's FILE_CHECK: the number in the tracked file decides (an absent or
    unreadable file reads as 0). The checker's own weight, else the track_file's."""
    weight, reverse = (
        (c.file_weight, c.file_reverse) if c.file_weight else (tracked.weight, tracked.reverse)
    )
    try:
        with open(tracked.path, encoding="ascii", errors="replace") as fh:
            text = fh.read(64)
    except OSError:
        text = ""
    value = parse_value(text)
    status = file_status(value, weight, reverse)
    if status is None:
        return False, f"{tracked.path} holds {value}", None
    return True, f"{tracked.path} holds {value}", (max(0, rs.weight + status) if weight else None)


def echo_request(ident: int, seq: int) -> bytes:
    """An ICMP echo request (RFC 792) with its checksum."""
    head = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
    payload = b"lablb PING_CHECK"
    csum = inet_checksum(head + payload)
    return head[:2] + struct.pack("!H", csum) + head[4:] + payload


PROBES = {
    "HTTP_GET": http_get,
    "SSL_GET": http_get,
    "TCP_CHECK": tcp_check,
    "MISC_CHECK": misc_check,
    "UDP_CHECK": udp_check,
    "PING_CHECK": ping_check,
    "SMTP_CHECK": smtp_check,
    "DNS_CHECK": dns_check,
}  # FILE_CHECK reads a file the daemon names (file_check), no connection
