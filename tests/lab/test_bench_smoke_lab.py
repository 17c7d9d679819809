"""The benchmark at its smallest (``python -m bench --smoke``), so it cannot rot: every
step runs on a real lab, writes its JSON and plots, and reports goals. What the numbers
are is the benchmark's business (``bench/README.md``); that they were measured, and
measured as non-zero where nothing can be zero, is this test's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO
from tests.lab.test_instrument_lab import clean_after  # noqa: F401  (the fixture)

SMOKE_TIMEOUT_S = 600.0


def test_bench_smoke_runs_every_step(tmp_path: Path, clean_after: None) -> None:  # noqa: F811
    res = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--out", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=SMOKE_TIMEOUT_S, check=False,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    (path,) = tmp_path.glob("bench-*.json")
    result = json.loads(path.read_text())
    assert result["machine"]["cpus"] and "Keepalived" in (result["machine"]["keepalived"] or "")
    rows = {(r["engine"], r["fault"]): r for r in result["failover"]}
    assert set(rows) == {("lablb", "crash"), ("keepalived", "crash")}
    for row in rows.values():
        assert row["trials"] == 1 and row["verdict"] in ("pass", "fail"), row
        for key in ("outage_s", "service_outage_s", "takeover_s", "preempt_s",
                    "first_advert_s", "start_s", "outage_from_advert_s"):  # fmt: skip
            assert row["stats"][key]["median"] > 0, (row["engine"], key)
    assert {r["engine"] for r in result["start"]} == {"lablb", "keepalived"}
    (false,) = result["false"]
    assert false["engine"] == "lablb" and false["changes"] >= 0 and false["seconds"] == 5.0
    assert false["memory"]["total_kb"] > 0
    (proxy,) = result["proxy"]
    assert proxy["webs"] == 2 and proxy["dr"]["gbit_s"] > 0 and proxy["proxy"]["gbit_s"] > 0
    # every byte a proxy delivers crosses its link twice; DR's balancer sees requests only
    assert proxy["proxy"]["balancer_link_bytes_per_delivered"] > 1.9
    assert proxy["dr"]["balancer_link_bytes_per_delivered"] < 0.1
    for who in ("lablb", "lablb-kernel", "kernel", "direct"):
        (row,) = result["capacity"][who]
        assert row["traffic"] == "small" and row["forwarded_pps"] > 0, (who, row)
        assert row["box_us_per_packet"] > 0, (who, row)
    assert result["capacity"]["lablb"][0]["us_per_packet"] > 0
    # On the kernel data plane the forwarder's process moves (almost) nothing itself.
    kernel_dp, python = result["capacity"]["lablb-kernel"][0], result["capacity"]["lablb"][0]
    assert kernel_dp["forwarder_cpu"] < python["forwarder_cpu"], (kernel_dp, python)
    assert {(r["kind"], r["n"]) for r in result["scale"]} == {("webfarm", 2), ("multi-pair", 1)}
    assert all(r["converged_s"] > r["net_up_s"] > 0 for r in result["scale"])
    assert result["goals"] and all(Path(p).is_file() for p in result["plots"])
    assert "### 1. Failover, lablb vs keepalived" in res.stdout
    assert "### 5. Forwarder capacity" in res.stdout and "### Goals" in res.stdout
    again = subprocess.run(
        [sys.executable, "-m", "bench", "--tables", str(path)],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert again.returncode == 0 and again.stdout == res.stdout[res.stdout.index("Run `"):]
