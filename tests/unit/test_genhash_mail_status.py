"""genhash on a file and on a page served on loopback; alert mail into the SMTP sink on
loopback; the status view. Loopback only: nothing leaves this machine."""

from __future__ import annotations

import http.server
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lablb.config.model import GlobalDefs, SmtpServer
from lablb.mail import send_alert
from lablb.status import read_node, render
from tests.conftest import DOCROOT, run_lablb

PAGE = DOCROOT / "testurl" / "test.jsp"
SEED_DIGEST = "7d3a1b2df0abe53bf1788199cda93d40"  # corrected seed config's HTTP_GET digest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_genhash_file_matches_the_seed_digest() -> None:
    res = run_lablb("genhash", "--file", str(PAGE))
    assert res.returncode == 0 and res.stdout.strip() == SEED_DIGEST


def test_genhash_url_on_loopback() -> None:
    handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=str(DOCROOT))  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/testurl/test.jsp"
        res = run_lablb("genhash", url)
        assert res.returncode == 0 and res.stdout.strip() == SEED_DIGEST
        missing = run_lablb("genhash", url.replace("test.jsp", "nope"))
        assert missing.returncode == 1 and "404" in missing.stderr
    finally:
        server.shutdown()


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lablb.mail",
            "--dir",
            str(tmp_path),
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
        ]
    )
    deadline = time.monotonic() + 5
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            assert time.monotonic() < deadline, "sink did not start"
            time.sleep(0.05)
    yield port, tmp_path
    proc.terminate()
    proc.wait(timeout=5)


def test_alert_mail_reaches_the_sink(sink: tuple[int, Path]) -> None:
    port, box = sink
    g = GlobalDefs(
        notification_email=("ops@lablb.test",),
        notification_email_from="lb01@lablb.test",
        smtp_server=SmtpServer("127.0.0.1", port),
        smtp_connect_timeout=5,
    )
    result = send_alert(
        g, "[172.16.55.100:80] Realserver 172.30.0.23:80 - DOWN", "connection refused"
    )
    assert result.startswith("sent")
    (mail,) = [p.read_text() for p in box.glob("*.eml")]
    assert "X-Envelope-To: <ops@lablb.test>" in mail and "172.30.0.23:80 - DOWN" in mail


@pytest.mark.parametrize("server", ["192.168.200.1", "203.0.113.9"])
def test_alert_mail_never_leaves_for_an_outside_server(server: str) -> None:
    """From the root namespace nothing but loopback is contacted (in a lab host, only a
    network of its own interfaces): the seed's 192.168.200.1 is never tried."""
    g = GlobalDefs(notification_email=("a@b",), smtp_server=SmtpServer(server, 25))
    assert "not contacted" in send_alert(g, "s", "b")


def test_status_renders_like_ipvsadm(tmp_path: Path) -> None:
    (tmp_path / "lablb.log").write_text(
        json.dumps({"event": "state", "instance": "VI_1", "to": "MASTER"}) + "\n"
    )
    (tmp_path / "forwarder.json").write_text(
        json.dumps(
            {
                "forwarding": True,
                "services": [
                    {
                        "vs": "172.16.55.100:80",
                        "scheduler": "rr",
                        "persistence": 50,
                        "conns": 3,
                        "dataplane": "kernel",
                        "kernel_forwarded": 12345,
                        "dests": [
                            {
                                "addr": "172.30.0.24",
                                "port": 80,
                                "weight": 1,
                                "active": 2,
                                "inactive": 1,
                            }
                        ],
                    }
                ],
            }
        )
    )
    (tmp_path / "checker.json").write_text(
        json.dumps(
            {
                "virtual_servers": [
                    {
                        "vs": "172.16.55.100:80",
                        "real_servers": [
                            {"rs": "172.30.0.23:80", "up": False},
                            {"rs": "172.30.0.24:80", "up": True},
                        ],
                    }
                ]
            }
        )
    )
    text = render([read_node(tmp_path, "lb01")])
    assert "lb01  [lablb]  VI_1 MASTER  (forwarding)" in text
    assert "rr persistent 50  (3 conns; kernel data plane, 12,345 packets)" in text
    assert "-> 172.30.0.24:80         Route         1           2          1  UP" in text
    assert "(removed) 172.30.0.23:80" in text and "DOWN" in text
