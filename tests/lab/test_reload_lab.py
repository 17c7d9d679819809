"""Reload without a blip (SIGHUP), on the seed lab with its web nodes, for both
engines: while the 1 ms prober pings the cluster VIP and SYNs the service, and a client
downloads an MP4 through the service VIP at a limited rate, the master's config changes
(a higher priority; a VIP added and one removed; web02 removed and web01 re-weighted;
faster checker timings) and the master is told to reload. Nothing fails over, no probe
is lost, the download completes with the right bytes, and the new addresses and the
forwarder's new table are there. An invalid config on reload (lablb) is refused with a
located diagnostic in the log, and the running config stays."""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
from collections.abc import Callable
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest

from lablb.lab.cluster import Cluster, start_cluster
from lablb.lab.net import Lab, LabSpec
from lablb.lab.probe import Prober
from lablb.lab.registry import get
from lablb.lab.trials import IN_FLIGHT_S
from lablb.lab.web import video
from lablb.measure.outage import outage
from tests.conftest import SEED, wait_for
from tests.lab.leftovers import Snapshot, snapshot

ADDED, REMOVED = IPv4Address("172.30.0.50"), IPv4Address("172.30.0.51")
VIDEO_MB = 8
RATE = "1M"  # bytes/s: the download spans the four reloads (about 8 s)
RELOAD_SETTLE_S = 1.5  # the window watched after the reload, beyond two adverts


def _configs(tmp: Path) -> Path:
    """The seed pair, both also carrying REMOVED (which the reload takes away): the
    members of a virtual router advertise the same addresses (keepalived drops adverts
    whose address count differs from its own)."""
    out = tmp / "configs"
    out.mkdir()
    for node in ("lb01", "lb02"):
        text = (
            (SEED / f"{node}.conf")
            .read_text()
            .replace(
                "        172.16.55.100/32 dev eth0\n",
                f"        172.16.55.100/32 dev eth0\n        {REMOVED}/24 dev eth0\n",
            )
        )
        (out / f"{node}.conf").write_text(text)
    return out


def _priority(node: str, text: str) -> str:
    return text.replace("    priority 100\n", "    priority 110\n") if node == "lb01" else text


def _vips(node: str, text: str) -> str:
    return text.replace(f"        {REMOVED}/24 dev eth0\n", f"        {ADDED}/24 dev eth0\n")


def _real_servers(node: str, text: str) -> str:
    """web02 gone, web01 at weight 3."""
    head, web02 = text.split("    real_server 172.30.0.24 80 {", 1)
    tail = web02.split("\n    }\n", 1)[1]
    head = head.replace("    real_server 172.30.0.23 80 {\n        weight 1\n",
                        "    real_server 172.30.0.23 80 {\n        weight 3\n")  # fmt: skip
    return head + tail


def _timings(node: str, text: str) -> str:
    return text.replace("    delay_loop 6\n", "    delay_loop 3\n")


# Each reload case: the edit, and what must hold once both nodes reloaded it.
CASES: list[tuple[str, Callable[[str, str], str], Callable[[Cluster], bool]]] = [
    ("priority", _priority, lambda c: c.instance("lb01").priority == 110),
    ("VIPs", _vips, lambda c: c.holders(ADDED) == ["lb01"] and c.holders(REMOVED) == []),
    ("real servers", _real_servers, lambda c: _table(c) == [("172.30.0.23", 3)]),
    ("checker timings", _timings, lambda c: _checker_loop(c) == 3.0),
]


def _table(c: Cluster) -> list[tuple[str, int]]:
    services: Any = c.forwarder("lb01").get("services") or [{}]
    return [(d["addr"], d["weight"]) for d in services[0].get("dests", [])]


def _checker_loop(c: Cluster) -> float | None:
    """The delay_loop lb01's checker runs now, from its checker.json."""
    path = c.nodes["lb01"].dir / "checker.json"
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    for vs in data["virtual_servers"]:
        for rs in vs["real_servers"]:
            for ck in rs["checkers"]:
                return float(ck["delay_loop"])
    return None


@pytest.fixture
def lab(before: Snapshot) -> Lab:  # type: ignore[misc]
    with Lab(LabSpec(get("seed"))) as lab:
        yield lab
    after = snapshot()
    assert after.lab_processes == before.lab_processes and after.netns == before.netns


@pytest.mark.parametrize("engine", ["lablb", "keepalived"])
def test_a_reload_changes_everything_and_drops_nothing(
    lab: Lab, engine: str, tmp_path: Path
) -> None:
    configs = _configs(tmp_path)
    c = start_cluster(lab, get("seed"), configs, engine, video_mb=VIDEO_MB)
    master = c.settle()
    assert master == "lb01" and c.holders(REMOVED) == ["lb01"]
    expected = hashlib.sha256(video(VIDEO_MB).read_bytes()).hexdigest()
    vip, port = c.service_vip() or (None, 0)
    assert vip is not None
    out = lab.workdir / "download.mp4"
    curl = lab.host("cl01").popen(
        ["curl", "-sf", "--limit-rate", RATE, "-m", "30", "-o", str(out),
         f"http://{vip}:{port}/video/{video(VIDEO_MB).name}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    for case, edit, done in CASES:
        prober = Prober(lab, "cl02", c.cluster_vip(), (vip, port), 0.001, lab.workdir / "p.json")
        prober.start()
        time.sleep(0.5)
        since = time.time() - 0.5
        for node in ("lb02", "lb01"):  # the backup first, as an operator would
            conf = configs / f"{node}.conf"
            conf.write_text(edit(node, conf.read_text()))
        at = time.time()
        c.nodes["lb02"].reload()
        c.nodes["lb01"].reload()
        c.forget_configs()
        wait_for(f"{case}: the reload applied", lambda done=done: done(c), 3.0)
        time.sleep(RELOAD_SETTLE_S)
        until = time.time()
        time.sleep(IN_FLIGHT_S)
        for kind, log in prober.stop().items():
            o = outage(log, at, since, until, latest_start=until - at)
            assert o.judged is None and not o.unexplained, f"{case}, {kind}: {o.gaps}"
        assert c.holders(c.cluster_vip()) == ["lb01"], case
        assert c.nodes["lb02"].state("VI_1") == "BACKUP", case
    _, err = curl.communicate(timeout=40)
    assert curl.returncode == 0, err
    assert hashlib.sha256(out.read_bytes()).hexdigest() == expected


def test_an_invalid_reload_keeps_the_running_config(lab: Lab, tmp_path: Path) -> None:
    configs = _configs(tmp_path)
    c = start_cluster(lab, get("seed"), configs, "lablb")
    assert c.settle() == "lb01"
    conf = configs / "lb01.conf"
    conf.write_text(conf.read_text().replace("    virtual_router_id 51\n",
                                             "    virtual_router_id 51 {\n"))  # fmt: skip
    c.nodes["lb01"].reload()

    def refusals() -> list[dict[str, object]]:
        return [e for e in c.nodes["lb01"].events("reload") if not e["ok"]]

    # The VRRP process and the checker each refuse it, at the file's line.
    wait_for("both refusals", lambda: len(refusals()) == 2, 3.0)
    for refusal in refusals():
        assert f"{conf}:" in str(refusal["error"]), refusal
    time.sleep(1.0)
    assert c.holders(c.cluster_vip()) == ["lb01"] and c.holders(REMOVED) == ["lb01"]
    assert c.nodes["lb01"].state("VI_1") == "MASTER"
