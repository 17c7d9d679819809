"""Every scenario, once, through the CLI (`lablb run NAME --json`), with short
parameters; the verdict is judged against the bounds the run computed from the config.
Plus regression mode: five failover trials, a doctored result that `lablb compare`
flags, and a broken config that the healthcheck scenario reports."""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from lablb.measure.result import RunResult
from lablb.scenario import all_scenarios
from tests.conftest import REPO, SEED, run_lablb
from tests.lab.leftovers import Snapshot, snapshot

RUN_TIMEOUT = 240
V3_10MS = REPO / "topologies" / "configs" / "seed-v3-10ms"


def run(tmp: Path, name: str, *args: str) -> dict[str, Any]:
    res = run_lablb("run", name, "--json", "--out", str(tmp), *args, timeout=RUN_TIMEOUT)
    assert res.stdout.strip(), res.stderr[-2000:]
    result: dict[str, Any] = json.loads(res.stdout)
    assert res.returncode == (0 if result["verdict"] == "pass" else 1)
    # With --json the verdict, and what failed first, is still the last line a person sees.
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith(f"verdict: {result['verdict'].upper()}"), last
    assert not result["failures"] or result["failures"][0] in last, last
    runs = list(tmp.glob(f"{name}-*/result.json"))
    assert len(runs) == 1 and json.loads(runs[0].read_text())["verdict"] == result["verdict"]
    return result


def in_bounds(result: dict[str, Any]) -> None:
    typed = RunResult.from_json(result)
    assert typed.passed, typed.failures
    for t in typed.trials:
        for name, (low, high) in t.bounds_over(typed.bounds).items():
            v = t.measured.get(name)
            assert v is not None and low <= v <= high, (name, v, low, high)
        assert not t.problems, t.problems


@pytest.fixture
def clean_after(before: Snapshot) -> Any:
    yield
    after = snapshot()
    assert after.lab_processes == before.lab_processes and after.netns == before.netns


# Every scenario in scenarios/, each with the short parameters it declares (``quick``):
# a new scenario file is run here without editing this test. Two are run in full
# elsewhere in the suite, through the same runner: failover (five trials below, and the
# failover-timing notebook) and healthcheck (every checker kind in test_checkers_lab,
# and the health-checks notebook).
ELSEWHERE = {"failover", "healthcheck"}
SCENARIOS = {n: s for n, s in all_scenarios().items() if n not in ELSEWHERE}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_scenario_passes_within_its_bounds(
    name: str, tmp_path: Path, clean_after: None
) -> None:
    quick = [a for k, v in SCENARIOS[name].quick.items() for a in ("--param", f"{k}={v}")]
    result = run(tmp_path, name, *quick)
    in_bounds(result)
    run_dir = next(tmp_path.glob(f"{name}-*"))
    tshark = subprocess.run(
        ["tshark", "-r", str(run_dir / "capture.pcap"), "-c", "1"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert tshark.returncode == 0 and tshark.stdout.strip(), tshark.stderr
    assert list((run_dir / "lab").glob("lb0*/lablb.log"))
    if name == "stream":
        t = result["trials"][0]
        received = sum(t["bytes"][c]["rx"] for c in t["clients"])
        for lb in ("lb01", "lb02"):
            assert t["bytes"][lb]["rx"] + t["bytes"][lb]["tx"] < 0.02 * received
        assert all(c["sha256_ok"] for c in t["clients"].values())
        assert t["dr"]["floor_rx"] <= t["dr"]["balancers_rx"]
    if name == "nogarp":
        assert result["trials"][0]["garps_seen"] is False


def test_failover_repeat_five_and_compare(tmp_path: Path, clean_after: None) -> None:
    """Five crashes of lablb's master at 10 ms adverts, with pre-emption, each resolved
    and in its bounds; then regression mode on the result."""
    result = run(tmp_path, "failover", "--configs", str(V3_10MS), "--repeat", "5")
    assert len(result["trials"]) == 5 and result["schema"] == "lablb.result/3"
    in_bounds(result)
    for t in result["trials"]:
        # Never 0: at 10 ms adverts a crash costs tens of ms.
        assert t["outage_s"] > 0 and t["service_outage_s"] > 0 and t["preempt_s"] > 0
        assert t["fault_confirmed"] and t["new_master"] == "lb02"
        for probe in t["probes"].values():
            assert not probe["never_recovered"] and probe["longest_s"] >= probe["outage_s"]
        assert t["timeline"]["takeover_advert_s"] <= t["timeline"]["first_answer_new_master_s"]
    stats = result["stats"]["outage_s"]
    assert stats["min"] <= stats["median"] <= stats["p95"] <= stats["max"]
    base = next(tmp_path.glob("failover-*/result.json"))
    same = run_lablb("compare", str(base), str(base))
    assert same.returncode == 0 and "no regression" in same.stdout
    doctored = copy.deepcopy(result)
    for t in doctored["trials"]:
        t["outage_s"] = round(t["outage_s"] * 1.6, 4)
    doctored = RunResult.from_json(doctored).finish().to_json()
    bad = tmp_path / "doctored.json"
    bad.write_text(json.dumps(doctored))
    res = run_lablb("compare", str(base), str(bad))
    assert res.returncode == 5
    assert "outage_s: median" in res.stdout and "outside its config bound" in res.stdout
    # A result of another engine is refused, in one line, unless forced.
    other = copy.deepcopy(result)
    other["engine"] = "keepalived"
    (tmp_path / "other.json").write_text(json.dumps(other))
    refused = run_lablb("compare", str(base), str(tmp_path / "other.json"))
    assert refused.returncode == 6 and "engine" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    forced = run_lablb("compare", "--force", str(base), str(tmp_path / "other.json"))
    assert forced.returncode == 0, forced.stdout
    report = run_lablb("report", str(base.parent))
    assert report.returncode == 0 and "verdict: PASS" in report.stdout
    assert (base.parent / "timeline.png").stat().st_size > 0
    # A stored verdict its own trials contradict is recomputed, and said so.
    lied = json.loads(base.read_text())
    lied["trials"][0]["outage_s"] = 99.0
    base.write_text(json.dumps(lied))
    report = run_lablb("report", str(base.parent))
    assert report.returncode == 1 and "the stored verdict is 'pass'" in report.stdout


def test_healthcheck_reports_a_broken_digest(tmp_path: Path, clean_after: None) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    for conf in SEED.glob("*.conf"):
        text = conf.read_text().replace(
            "7d3a1b2df0abe53bf1788199cda93d40", "640205b7b0fc66c1ea91c463fac6334d"
        )
        (broken / conf.name).write_text(text)
    result = run(
        tmp_path / "runs", "healthcheck", "--configs", str(broken), "--param", "checks=fast"
    )
    assert result["verdict"] == "fail"
    assert any("digest" in f for f in result["failures"]), result["failures"]
