"""One attempt of each checker kind against a real server. Edge: sockets and processes.

Each function makes exactly one attempt bounded by the checker's ``connect_timeout`` and
returns (ok, why, dynamic weight or None). The timing between attempts (retry,
delay_before_retry, delay_loop) is ``lablb.checker.logic``'s business, not this module's.
"""

from __future__ import annotations

import hashlib
import http.client
import shlex
import socket
import ssl
import subprocess

from lablb.config.model import Checker, RealServer, VirtualServer

Result = tuple[bool, str, int | None]


def target(c: Checker, rs: RealServer, vs: VirtualServer) -> tuple[str, int]:
    """Where the checker connects: connect_ip/connect_port, else the real server."""
    port = c.connect_port or rs.port or vs.port or (443 if c.kind == "SSL_GET" else 80)
    return str(c.connect_ip or rs.address), port


def md5_hex(body: bytes) -> str:
    """The digest keepalived's HTTP_GET compares: MD5 of the body, 32 lowercase hex."""
    return hashlib.md5(body, usedforsecurity=False).hexdigest()


def http_get(c: Checker, rs: RealServer, vs: VirtualServer) -> Result:
    host, port = target(c, rs, vs)
    for url in c.urls or ():
        conn: http.client.HTTPConnection
        source = (str(c.bindto), c.bind_port or 0) if c.bindto is not None else None
        if c.kind == "SSL_GET":
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            conn = http.client.HTTPSConnection(
                host, port, timeout=c.connect_timeout, source_address=source, context=ctx
            )
        else:
            conn = http.client.HTTPConnection(
                host, port, timeout=c.connect_timeout, source_address=source
            )
        try:
            headers = {"Host": url.virtualhost or vs.virtualhost or host}
            conn.request("GET", url.path, headers=headers)
            resp = conn.getresponse()
            body = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            return False, f"GET {url.path}: {exc or type(exc).__name__}", None
        finally:
            conn.close()
        if not any(lo <= resp.status <= hi for lo, hi in url.status_code):
            return False, f"GET {url.path}: status {resp.status}", None
        if url.digest is not None and md5_hex(body) != url.digest.lower():
            return False, f"GET {url.path}: digest {md5_hex(body)} != {url.digest}", None
    return True, "ok", None


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


PROBES = {
    "HTTP_GET": http_get,
    "SSL_GET": http_get,
    "TCP_CHECK": tcp_check,
    "MISC_CHECK": misc_check,
}
