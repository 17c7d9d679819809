"""``lablb daemon`` needs no lab: two plain network namespaces joined by a veth pair, as
an operator would make them with ``ip netns``, lablb's daemon in one and the real
keepalived in the other. They elect, the VIP moves on a graceful stop, and nothing of
either is left afterwards."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from lablb.config.load import load
from lablb.vrrp.engine import params_of
from lablb.vrrp.fsm import Router
from tests.conftest import wait_for
from tests.lab.leftovers import Snapshot, snapshot

NS = ("lablbt-a", "lablbt-b")
ADDR = {"lablbt-a": "10.99.0.1", "lablbt-b": "10.99.0.2"}
VIP = "10.99.0.50"
POLL_SLACK = 0.3  # each poll is an `ip netns exec`; the precise bounds are in test_vrrp_lab
CONF = """vrrp_instance VI_T {{
    state {state}
    interface eth0
    virtual_router_id 77
    priority {prio}
    advert_int 1
    authentication {{
        auth_type PASS
        auth_pass s3cret
    }}
    virtual_ipaddress {{
        {vip}/24
    }}
}}
"""


def sh(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)


def in_ns(ns: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return sh("ip", "netns", "exec", ns, *argv)


def holds(ns: str) -> bool:
    out = in_ns(ns, "ip", "-j", "-4", "addr", "show", "dev", "eth0").stdout
    return any(a.get("local") == VIP for link in json.loads(out or "[]") for a in link["addr_info"])


@pytest.fixture
def pair(before: Snapshot) -> Iterator[None]:
    try:
        for ns in NS:
            assert sh("ip", "netns", "add", ns).returncode == 0
        sh("ip", "link", "add", "lablbt-va", "type", "veth", "peer", "name", "lablbt-vb")
        for ns, end in zip(NS, ("lablbt-va", "lablbt-vb"), strict=True):
            sh("ip", "link", "set", end, "netns", ns)
            in_ns(ns, "ip", "link", "set", end, "name", "eth0")
            in_ns(ns, "ip", "addr", "add", f"{ADDR[ns]}/24", "dev", "eth0")
            in_ns(ns, "ip", "link", "set", "eth0", "up")
            in_ns(ns, "ip", "link", "set", "lo", "up")
        yield
    finally:
        for ns in NS:
            for pid in sh("ip", "netns", "pids", ns).stdout.split():
                sh("kill", "-9", pid)
            sh("ip", "netns", "delete", ns)
    after = snapshot()
    assert after.netns == before.netns and after.links == before.links


def test_lablb_daemon_and_keepalived_by_hand(pair: None, tmp_path: Path) -> None:
    a, b = tmp_path / "a.conf", tmp_path / "b.conf"
    a.write_text(CONF.format(state="MASTER", prio=150, vip=VIP))
    b.write_text(CONF.format(state="BACKUP", prio=100, vip=VIP))
    cfg = load(str(b))
    backup = Router(params_of(cfg, cfg.vrrp_instances[0], IPv4Address(ADDR["lablbt-b"])))
    ka = subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            "lablbt-b",
            "keepalived",
            "-n",
            "-l",
            "-G",
            "-P",
            "-f",
            str(b),
            "-p",
            str(tmp_path / "ka.pid"),
            "-r",
            str(tmp_path / "ka-vrrp.pid"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    ours = subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            "lablbt-a",
            sys.executable,
            "-m",
            "lablb",
            "daemon",
            "-f",
            str(a),
            "-p",
            str(tmp_path / "lablb.pid"),
            "--log",
            str(tmp_path / "lablb.log"),
        ],
    )
    try:
        wait_for("lablb master", lambda: holds("lablbt-a"), backup.master_down_interval() + 2)
        time.sleep(1.5)
        assert not holds("lablbt-b"), "keepalived took the VIP beside a higher-priority lablb"
        ours.send_signal(signal.SIGTERM)
        t0 = time.monotonic()
        wait_for(
            "keepalived takes over", lambda: holds("lablbt-b"), backup.skew_time() + POLL_SLACK
        )
        assert time.monotonic() - t0 <= backup.skew_time() + POLL_SLACK
        # lablb lingers one advert interval after its goodbye before it exits.
        assert ours.wait(timeout=5) == 0
        assert not holds("lablbt-a"), "the stopped daemon left its VIP behind"
        events = [json.loads(line)["event"] for line in (tmp_path / "lablb.log").open()]
        assert events[-1] == "stop"
    finally:
        for proc in (ours, ka):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
