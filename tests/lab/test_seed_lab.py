"""The seed topology on real Mininet: it comes up as the tutorial describes, clients
reach the router and the web nodes, and nothing is left behind, whatever the exit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from lablb.errors import LabError
from lablb.lab.net import Lab, LabSpec
from lablb.lab.registry import get
from lablb.measure.ping import parse_ping
from tests.conftest import run_lablb
from tests.lab.leftovers import Snapshot, snapshot

UP_TIMEOUT = 60.0


def ping(lab: Lab, src: str, dst: str) -> None:
    res = parse_ping(lab.run(src, ["ping", "-c", "2", "-i", "0.2", "-W", "1", dst]).stdout)
    assert res.ok, f"{src} -> {dst}: {res}"


def test_seed_up_ping_and_leave_nothing(before: Snapshot) -> None:
    entry = get("seed")
    with Lab(LabSpec(entry)) as lab:
        views = {h.name: h for h in lab.hosts}
        assert set(views) == {"cl01", "cl02", "r1", "lb01", "lb02", "web01", "web02", "mx01"}
        for client in ("cl01", "cl02"):
            for dst in ("172.30.0.1", "172.30.0.23", "172.30.0.24"):
                ping(lab, client, dst)
        # The seed's "interface eth0" exists on the balancers as written.
        for lb in entry.balancers:
            assert (
                "172.30.0." in lab.run(lb, ["ip", "-4", "-o", "addr", "show", "dev", "eth0"]).stdout
            )
        # LVS-DR real servers: the VIP on lo, and they do not answer ARP for it.
        for web in ("web01", "web02"):
            assert (
                "172.16.55.100/32" in lab.run(web, ["ip", "-o", "addr", "show", "dev", "lo"]).stdout
            )
            sysctl = lab.run(
                web,
                ["sysctl", "-n", "net.ipv4.conf.all.arp_ignore", "net.ipv4.conf.all.arp_announce"],
            ).stdout.split()
            assert sysctl == ["1", "2"]
        assert "172.16.55.100 dev eth0" in lab.run("r1", ["ip", "route", "show"]).stdout
        assert lab.run("r1", ["sysctl", "-n", "net.ipv4.ip_forward"]).stdout.strip() == "1"
        # 1 Gbit/s htb on the links, as the topology declares.
        qdisc = lab.run("lb01", ["tc", "class", "show", "dev", "eth0"]).stdout
        assert "rate 1Gbit" in qdisc
        # The lab is reachable by name while it is up.
        assert "lablb-lb01" in snapshot().netns
    assert snapshot() == before


def test_exception_inside_the_lab_tears_down(before: Snapshot) -> None:
    with pytest.raises(LabError), Lab(LabSpec(get("seed"))) as lab:
        lab.host("no-such-host")
    assert snapshot() == before


def _start_up(*extra: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "lablb", "up", "seed", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + UP_TIMEOUT
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if "Ctrl-C" in line:
            return proc
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise AssertionError(f"lablb up did not come up: {proc.stderr.read() if proc.stderr else ''}")


def test_sigterm_tears_down(before: Snapshot) -> None:
    proc = _start_up()
    assert snapshot() != before
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=UP_TIMEOUT)
    assert proc.returncode == 2 and "SIGTERM" in err and "Traceback" not in err
    assert snapshot() == before


def test_clean_after_kill_9(before: Snapshot) -> None:
    proc = _start_up()
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=10)
    left = snapshot()
    # kill -9 leaves the lab behind: its named namespaces keep it alive, with bridges.
    assert left.netns and left.links != before.links
    res = run_lablb("clean")
    assert res.returncode == 0, res.stderr
    assert "deleted netns lablb-lb01" in res.stdout and "deleted bridge s1" in res.stdout
    assert snapshot() == before
    again = run_lablb("clean")
    assert "nothing left" in again.stdout
