"""The virtual server on the seed lab: Direct Routing through lablb's forwarder, real
nginx web nodes, keepalived-style checkers, alert mail to the lab's SMTP sink, and
connection sync across a failover. Every bound comes from the keepalived.conf."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lablb.checker.logic import Timing, detection_bound, recovery_bound
from lablb.config.load import load
from lablb.ipvs.forwarder import STATUS_EVERY
from lablb.ipvs.kernel import DATAPLANE_ENV
from lablb.lab.cluster import Cluster, start_cluster
from lablb.lab.faults import fault
from lablb.lab.net import Lab, LabSpec
from lablb.lab.registry import get
from lablb.lab.trials import checker_slack, slack_of
from lablb.lab.web import sha256, video
from tests.conftest import SEED, wait_for
from tests.lab.leftovers import Snapshot, snapshot

VIP = "172.16.55.100"
VIDEO_MB = 150  # the large MP4
WEB = {"web01": "172.30.0.23", "web02": "172.30.0.24"}
DR_SHARE = 0.02  # the bound on the balancer's share of the bytes


def dests(svc: Cluster, node: str = "lb01") -> dict[str, int]:
    """Real servers and weights in a balancer's forwarder, from its status file."""
    return {str(d["addr"]): d["weight"] for d in svc.forwarder(node)["services"][0]["dests"]}


def variant(tmp: Path, *edits: Callable[[str], str]) -> Path:
    out = tmp / "configs"
    out.mkdir(exist_ok=True)
    for node in ("lb01", "lb02"):
        text = (SEED / f"{node}.conf").read_text()
        for edit in edits:
            text = edit(text)
        (out / f"{node}.conf").write_text(text)
    return out


def fast_checks(text: str) -> str:
    """Checker timings short enough for a test; the bounds follow from them."""
    return (
        text.replace("delay_loop 6", "delay_loop 2")
        .replace("connect_timeout 3", "connect_timeout 1")
        .replace("retry 3", "retry 1")
        .replace("delay_before_retry 3", "delay_before_retry 1")
    )


def no_persistence(text: str) -> str:
    return text.replace("    persistence_timeout 50\n", "")


def inhibit(text: str) -> str:
    """A failing real server is kept with weight 0 (quiesced), not removed."""
    return text.replace("    lvs_method DR\n", "    lvs_method DR\n    inhibit_on_failure\n")


def with_sync(text: str) -> str:
    return text.replace("global_defs {", "global_defs {\n    lvs_sync_daemon eth0 VI_1", 1)


@pytest.fixture
def make_service(before: Snapshot) -> Iterator[Callable[..., Cluster]]:
    labs: list[Lab] = []

    def make(configs: Path = SEED, engines: str = "lablb", video_mb: int | None = None) -> Cluster:
        entry = get("seed")
        lab = Lab(LabSpec(entry)).__enter__()
        labs.append(lab)
        svc = start_cluster(lab, entry, configs, engines, video_mb)
        assert svc.whoami() in WEB, "the VIP never served"
        return svc

    yield make
    for lab in labs:
        lab.__exit__(None, None, None)
    after = snapshot()
    assert after.lab_processes == before.lab_processes and after.netns == before.netns


@pytest.mark.parametrize("engines", ["lablb", "keepalived"])
def test_rr_order_through_the_vip(
    make_service: Callable[..., Cluster], engines: str, tmp_path: Path
) -> None:
    svc = make_service(variant(tmp_path, no_persistence), engines)
    got = [svc.whoami() for _ in range(4)]
    first = got[0]
    other = next(w for w in WEB if w != first)
    assert got == [first, other, first, other]


def test_persistence_keeps_a_client_on_its_server(make_service: Callable[..., Cluster]) -> None:
    svc = make_service()
    cl01 = [svc.whoami("cl01") for _ in range(3)]
    cl02 = svc.whoami("cl02")
    assert len(set(cl01)) == 1 and cl02 in WEB and cl02 != cl01[0]


def test_large_mp4_returns_directly_from_the_web_node(make_service: Callable[..., Cluster]) -> None:
    path = video(VIDEO_MB)
    want = sha256(path)
    svc = make_service(video_mb=VIDEO_MB)
    server = svc.whoami("cl01")  # persistence: the download goes to this node too
    before = {
        h: (svc.counter(h, "rx_bytes"), svc.counter(h, "tx_bytes"))
        for h in ("cl01", "lb01", server)
    }
    out = svc.lab.workdir / "download.mp4"
    res = svc.lab.run(
        "cl01",
        ["curl", "-s", "-m", "60", "-o", str(out), f"http://{VIP}/video/{path.name}"],
        timeout=70,
    )
    assert res.returncode == 0, res.stderr
    assert sha256(out) == want
    got = svc.counter("cl01", "rx_bytes") - before["cl01"][0]
    lb = sum(svc.counter("lb01", n) for n in ("rx_bytes", "tx_bytes")) - sum(before["lb01"])
    web_out = svc.counter(server, "tx_bytes") - before[server][1]
    assert got >= path.stat().st_size
    assert lb < DR_SHARE * got, f"lb01 carried {lb} bytes of {got}"
    assert web_out >= path.stat().st_size, f"{server} sent {web_out} bytes"


def _checker_timing(configs: Path) -> Timing:
    checker = load(str(configs / "lb01.conf")).virtual_servers[0].real_servers[0].checkers[0]
    return Timing.of(checker)


def test_checker_removes_and_restores_a_web_node(
    make_service: Callable[..., Cluster], tmp_path: Path
) -> None:
    """nginx stopped on web01: the checker removes it (refused attempts take no time),
    the forwarder stops sending to it, mail says so; it comes back the same way. Checks
    that time out instead (dropped) are the health-checks notebook's and the checkers
    tests' (``lablb run healthcheck --param failure=drop``)."""
    configs = variant(tmp_path, fast_checks, no_persistence)
    svc = make_service(configs)
    timing = _checker_timing(configs)
    low, high = detection_bound(timing, refused=True)
    high += checker_slack(svc, timing, timing.retry + 1)
    time.sleep(timing.delay_loop)  # let the first round of checks pass
    at = time.monotonic()
    svc.web["web01"].stop()
    high += time.monotonic() - at  # the failure began somewhere in nginx's stop

    def down() -> list[dict[str, object]]:
        return [
            e
            for e in svc.nodes["lb01"].events("real-server")
            if e["rs"] == "172.30.0.23:80" and e["up"] is False
        ]

    wait_for("web01 removed", lambda: bool(down()), high)
    took = float(str(down()[0]["ts"])) - at
    assert low <= took <= high, f"removed after {took:.3f} s, not in [{low:.3f}, {high:.3f}]"
    # the forwarder's status file (what dests reads) is written every STATUS_EVERY
    wait_for("forwarder dropped web01", lambda: "172.30.0.23" not in dests(svc),
             STATUS_EVERY + slack_of(svc).quantum)  # fmt: skip
    assert {svc.whoami() for _ in range(4)} == {"web02"}
    wait_for("mail", lambda: any("172.30.0.23:80 - DOWN" in m for m in svc.mail.messages()), 5.0)
    mail = next(m for m in svc.mail.messages() if "172.30.0.23:80 - DOWN" in m)
    assert "ops@lablb.test" in mail

    back = time.monotonic()
    svc.web["web01"].start()
    limit = recovery_bound(timing) + checker_slack(svc, timing, 1) + STATUS_EVERY
    limit += time.monotonic() - back  # nginx's start
    wait_for("web01 back", lambda: "172.30.0.23" in dests(svc), limit)
    assert {svc.whoami() for _ in range(4)} == {"web01", "web02"}
    wait_for("mail up", lambda: any("172.30.0.23:80 - UP" in m for m in svc.mail.messages()), 5.0)


def test_a_quiesced_server_keeps_its_stream_and_gets_no_new_connection(
    make_service: Callable[..., Cluster], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``inhibit_on_failure``: a web node whose check fails stays with weight 0, as in
    IPVS: a download already going to it finishes intact, its packets forwarded by
    lb01's kernel data plane, and every new connection goes to the other node."""
    monkeypatch.setenv(DATAPLANE_ENV, "kernel")
    configs = variant(tmp_path, fast_checks, no_persistence, inhibit)
    path = video(VIDEO_MB)
    svc = make_service(configs, video_mb=VIDEO_MB)

    def lb01() -> dict[str, Any]:
        return dict(svc.forwarder("lb01")["services"][0])  # type: ignore[index]

    assert lb01()["dataplane"] == "kernel"
    sent = {w: svc.counter(w, "tx_bytes") for w in WEB}
    out = svc.lab.workdir / "download.mp4"
    dl = svc.lab.host("cl01").popen(
        ["curl", "-s", "-m", "60", "--limit-rate", "15M", "-o", str(out),
         f"http://{VIP}/video/{path.name}"]
    )  # fmt: skip
    wait_for("the stream in lb01's kernel table", lambda: lb01()["kernel_forwarded"] > 0, 3.0)
    # The node the scheduler gave the stream: the one sending it.
    other = max(WEB, key=lambda w: svc.counter(w, "tx_bytes") - sent[w])
    first = next(w for w in WEB if w != other)
    page = svc.web[other].root / "testurl" / "test.jsp"
    page.write_bytes(page.read_bytes() + b"<!-- changed -->\n")  # its digest check fails
    timing = _checker_timing(configs)
    _, high = detection_bound(timing, refused=True)
    high += checker_slack(svc, timing, timing.retry + 1) + STATUS_EVERY
    wait_for(f"{other} quiesced", lambda: dests(svc).get(WEB[other]) == 0, high)
    at_quiesce = lb01()["kernel_forwarded"]
    assert dl.poll() is None, "the download ended before the server was quiesced"
    assert {svc.whoami() for _ in range(4)} == {first}
    assert dl.wait(timeout=70) == 0 and sha256(out) == sha256(path)
    assert svc.counter(other, "tx_bytes") - sent[other] >= path.stat().st_size
    after = "the kernel's count after the quiesce"
    wait_for(after, lambda: lb01()["kernel_forwarded"] > at_quiesce, 2.0)


@pytest.mark.parametrize(("sync", "dataplane"), [(True, "kernel"), (False, "python")])
def test_download_across_a_crash_of_lb01(
    make_service: Callable[..., Cluster],
    sync: bool,
    dataplane: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With connection sync, lb02 knows where the stream's ACKs go and the download
    completes intact: on the kernel data plane the synced connection is in lb02's
    kernel table, which forwards the ACKs without Python. Without sync (here on the
    Python data plane, so lb01 forwards the stream's ACKs in Python until the crash),
    lb02 drops them and the stream stalls."""
    monkeypatch.setenv(DATAPLANE_ENV, dataplane)
    configs = variant(tmp_path, *((with_sync,) if sync else ()))
    path = video(VIDEO_MB)
    svc = make_service(configs, video_mb=VIDEO_MB)
    out = svc.lab.workdir / "download.mp4"
    dl = svc.lab.host("cl01").popen(
        [
            "curl",
            "-s",
            "-m",
            "90",
            "--limit-rate",
            "20M",
            "--speed-limit",
            "1000",
            "--speed-time",
            "8",
            "-o",
            str(out),
            f"http://{VIP}/video/{path.name}",
        ]
    )
    time.sleep(2.0)
    fault("crash", svc.nodes["lb01"]).inject()
    code = dl.wait(timeout=100)

    def lb02() -> dict[str, Any]:
        status = json.loads((svc.nodes["lb02"].dir / "forwarder.json").read_text())
        return dict(status["services"][0])

    assert lb02()["dataplane"] == dataplane
    if sync:
        assert code == 0 and sha256(out) == sha256(path)
        carried = "kernel_forwarded" if dataplane == "kernel" else "forwarded"
        # The kernel's count reaches the status file at its next write (every 0.5 s).
        wait_for(f"lb02 {carried}", lambda: lb02()[carried] > 0, 2.0)
        # smtp_alert: lb02 mailed its VRRP state change to the sink.
        wait_for(
            "VRRP alert mail",
            lambda: any(
                "VI_1 - Entering MASTER" in m and "lb02@lablb.test" in m
                for m in svc.mail.messages()
            ),
            5.0,
        )
    else:
        assert code != 0, "the stream survived without connection sync"
        assert lb02()["dropped"].get("no connection (not a SYN)", 0) > 0


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
