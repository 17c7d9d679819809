"""LVS-NAT and LVS-TUN, lab-proven with the stream scenario: two clients download the
MP4 through the VIP while the master crashes, with connection sync; each download is
whole (SHA-256), and the bytes on the balancers' links are what the method implies.

- NAT (``rw-lvs-nat-web.conf``: real servers on a LAN of their own behind the
  balancers, a gateway VIP the file lacks added by the lab and said): the replies come
  back through the balancers, so their LAN links sent at least every byte of video the
  clients received, and the new master carried replies after the crash.
- TUN (``rw-lvs-tun.conf``: the real server behind the router): the requests go inside
  IPIP, the real server unwraps them and answers the clients itself, so the balancers
  carry the clients' upstream and its tunnel headers only, a few per mille of the
  download.

The Direct Routing run of the same scenario is in ``test_scenarios_lab``. Every corpus
file (NAT on one LAN, with the VIP as the real servers' gateway, among them) fails over
in ``python -m bench.corpus``, a sweep too long for the suite."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_lablb

RUN_TIMEOUT = 300
CORPUS = Path(__file__).resolve().parent.parent / "corpus"
QUICK = ("--param", "video_mb=20", "--param", "speed=4", "--param", "crash_at=1.5")


def stream(
    conf: str, engine: str, out: Path, method: str
) -> tuple[dict[str, Any], dict[str, Any], Path]:
    """The stream scenario on a corpus file: passed, one trial of ``method``, both
    downloads whole; (result, the trial, the run folder)."""
    res = run_lablb(
        "run", "stream", "--config", str(CORPUS / conf), "--engine", engine, "--json",
        "--out", str(out), *QUICK, timeout=RUN_TIMEOUT,
    )  # fmt: skip
    assert res.stdout.strip(), res.stderr[-2000:]
    result: dict[str, Any] = json.loads(res.stdout)
    assert result["verdict"] == "pass", result["failures"]
    (t,) = result["trials"]
    assert t["method"] == method
    assert all(c["sha256_ok"] for c in t["clients"].values()), t["clients"]
    (run_dir,) = out.glob("stream-*")
    return result, t, run_dir


def forwarder(run_dir: Path, node: str) -> dict[str, Any]:
    status: dict[str, Any] = json.loads((run_dir / "lab" / node / "forwarder.json").read_text())
    svc: dict[str, Any] = status["services"][0]
    assert len(status["services"]) == 1, status
    return svc


@pytest.mark.parametrize("engine", ["keepalived"])
def test_nat_carries_the_download_through_the_balancers_across_a_crash(
    engine: str, tmp_path: Path
) -> None:
    result, t, run_dir = stream("rw-lvs-nat-web.conf", engine, tmp_path, "NAT")
    acct = t["dr"]
    assert acct["balancers_tx"] >= acct["clients_video_bytes"] > 0, acct
    assert "the lab adds 192.168.10.254/24 dev eth1 on VI_1" in "\n".join(result["stand_ins"])
    # The new master rewrote replies back to the VIP after the crash: the download
    # could not have finished otherwise.
    lb02 = forwarder(run_dir, "lb02")
    assert lb02["method"] == "NAT" and lb02["replied"] > 0 and lb02["forwarded"] > 0, lb02


@pytest.mark.parametrize("engine", ["lablb"])
def test_tun_keeps_the_download_off_the_balancers_across_a_crash(
    engine: str, tmp_path: Path
) -> None:
    _, t, run_dir = stream("rw-lvs-tun.conf", engine, tmp_path, "TUN")
    acct = t["dr"]
    assert acct["balancers_bytes"] <= acct["ceiling"], acct
    assert acct["balancers_bytes"] < 0.01 * acct["clients_received"], acct
    decap = json.loads((run_dir / "lab" / "web01" / "decap.json").read_text())
    assert decap["unwrapped"] > 0 and decap["bad"] == 0, decap
    lb02 = forwarder(run_dir, "lb02")
    assert lb02["method"] == "TUN" and lb02["forwarded"] > 0 and lb02["replied"] == 0, lb02
