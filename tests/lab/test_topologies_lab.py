"""Topologies beyond the seed, from generated config sets (``lablb topo make``) on the
topology each implies: a web farm of 16 web nodes, 8 balancer pairs on one LAN, the
pair on unicast, and an active-active pair (each balancer master of one instance and
one service); each passes a failover, and the time each took to come up is printed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lablb.scenario import all_scenarios
from tests.conftest import run_lablb

RUN_TIMEOUT = 400


@pytest.mark.parametrize(
    ("kind", "n", "balancers", "webs"), [("webfarm", 16, 2, 16), ("multi-pair", 8, 16, 2)]
)
def test_a_larger_lab_passes_failover(
    kind: str, n: int, balancers: int, webs: int, tmp_path: Path
) -> None:
    configs = tmp_path / kind
    made = run_lablb("topo", "make", kind, str(n), str(configs))
    assert made.returncode == 0, made.stderr
    res = run_lablb(
        "run", "failover", "--json", "--out", str(tmp_path), "--configs", str(configs),
        "--param", "fault=crash", "--repeat", "2", timeout=RUN_TIMEOUT,
    )  # fmt: skip
    assert res.stdout.strip(), res.stderr[-2000:]
    result = json.loads(res.stdout)
    print(f"\n{kind} {n}: lab up in {result['lab_up_s']:.1f} s, run {result['duration_s']:.1f} s")
    assert result["topology"] == f"derived:{kind}"
    run_dir = next(tmp_path.glob("failover-*"))
    hosts = {p.name for p in (run_dir / "lab").iterdir() if p.is_dir()}
    assert len([h for h in hosts if h.startswith("lb")]) == balancers
    assert len([h for h in hosts if h.startswith("web")]) == webs
    assert result["verdict"] == "pass", result["failures"]


@pytest.mark.parametrize("kind", ["unicast", "active-active"])
@pytest.mark.parametrize("scenario", ["healthcheck", "stream"])
def test_the_service_scenarios_pass_on_it(kind: str, scenario: str, tmp_path: Path) -> None:
    configs = tmp_path / kind
    assert run_lablb("topo", "make", kind, "2", str(configs)).returncode == 0
    quick = [a for k, v in all_scenarios()[scenario].quick.items() for a in ("--param", f"{k}={v}")]
    res = run_lablb(
        "run", scenario, "--json", "--out", str(tmp_path), "--configs", str(configs), *quick,
        timeout=RUN_TIMEOUT,
    )  # fmt: skip
    assert res.stdout.strip(), res.stderr[-2000:]
    result = json.loads(res.stdout)
    assert result["verdict"] == "pass", result["failures"]
