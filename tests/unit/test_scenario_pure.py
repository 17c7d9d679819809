"""Scenario plumbing that needs no lab: statistics, regression comparison, verdicts,
parameters, the playback model and the summary text."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from lablb.errors import LablbError
from lablb.measure.compare import allowance, compare, incomparable
from lablb.measure.playback import play
from lablb.measure.result import Bounds, RunResult, Trial
from lablb.measure.stats import percentile, summary
from lablb.report import summary as report_summary
from lablb.scenario import all_scenarios, check_params, get_scenario, parse_params


def raw(outages: list[float], bound: tuple[float, float] = (2.613, 3.663)) -> dict[str, Any]:
    """A run as result.json would hold it, before it is judged."""
    return {
            "schema": "lablb.result/3",
            "scenario": "failover",
            "topology": "seed",
            "engine": "lablb",
            "parameters": {"fault": "crash"},
            "bounds": {"outage_s": list(bound)},
            "trials": [{"outage_s": o} for o in outages],
            "slack": {"epsilon_s": 0.0015},
    }


def result(outages: list[float], bound: tuple[float, float] = (2.613, 3.663)) -> RunResult:
    return RunResult.from_json(raw(outages, bound)).finish()


def verdict_of(flat: dict[str, Any], bounds: Bounds) -> tuple[str, list[str]]:
    """A trial as result.json keeps it, read back and judged against the run's bounds."""
    t = Trial.from_json(flat, bounds)
    why = t.judge(bounds)
    return t.verdict, why


def test_summary_and_nearest_rank_p95() -> None:
    assert summary([3.0, 1.0, 2.0, 4.0]) == {"min": 1.0, "median": 2.5, "p95": 4.0, "max": 4.0}
    assert percentile(list(range(1, 101)), 95) == 95
    with pytest.raises(ValueError):
        percentile([], 50)


def test_finish_gives_verdicts_and_stats() -> None:
    r = result([3.2, 3.3, 3.4, 3.5, 3.1])
    assert r.verdict == "pass" and r.stats["outage_s"]["median"] == 3.3
    bad = result([3.2, 3.9])
    assert bad.verdict == "fail" and "trial 2: outage_s 3.9000 s not in" in bad.failures[0]
    assert [t.verdict for t in bad.trials] == ["pass", "fail"]


def test_a_trial_that_measured_nothing_fails() -> None:
    assert verdict_of({}, {"outage_s": (0.0, 1.0)}) == ("fail", ["outage_s: not measured"])
    problem = {"outage_s": 0.5, "problems": ["Direct Routing: bypassed?"]}
    assert verdict_of(problem, {"outage_s": (0.0, 1.0)}) == ("fail", ["Direct Routing: bypassed?"])


def test_a_typed_trial_is_written_flat_and_judged_like_any_other() -> None:
    t = Trial(measured={"outage_s": 0.5, "takeover_s": None}, bounds={"outage_s": (0.6, 1.0)})
    t.keep(new_master="lb02")
    t.require(False, "the VIP is on nobody")
    flat = t.as_json()
    assert flat["new_master"] == "lb02" and flat["bounds"] == {"outage_s": [0.6, 1.0]}
    back = Trial.from_json(flat, {"takeover_s": (0.0, 1.0)})
    assert back.measured == t.measured and back.data == {"new_master": "lb02"}
    verdict, why = verdict_of(flat, {"takeover_s": (0.0, 1.0)})
    assert verdict == "fail"
    assert why == [
        "takeover_s: not measured",
        "outage_s 0.5000 s not in [0.6000, 1.0000]",
        "the VIP is on nobody",
    ]


def test_compare_flags_a_doctored_result_and_says_which() -> None:
    base = result([3.2, 3.3, 3.4, 3.3, 3.2])
    assert compare(base, copy.deepcopy(base)) == []
    doctored = copy.deepcopy(base)
    for t in doctored.trials:
        t.measured["outage_s"] = (t.measured["outage_s"] or 0.0) * 1.5
    doctored.finish()
    text = [str(f) for f in compare(base, doctored)]
    assert any(t.startswith("outage_s: median") for t in text)
    assert any("outside its config bound" in t for t in text)
    assert any(t.startswith("verdict") for t in text)


def test_compare_allows_the_slack_plus_the_baselines_spread() -> None:
    base = result([3.20, 3.30, 3.40, 3.30, 3.20])
    room = allowance(base, "outage_s")
    assert room == pytest.approx(0.0015 + 0.20 / 5**0.5)
    assert compare(base, result([3.30 + room * 0.9] * 5)) == []
    assert any(
        str(f).startswith("outage_s: median")
        for f in compare(base, result([3.30 + room * 1.1] * 5))
    )


def test_at_10ms_adverts_the_allowance_is_milliseconds_not_50() -> None:
    base = result([0.030, 0.034, 0.037, 0.032, 0.028], bound=(0.024, 0.041))
    assert allowance(base, "outage_s") < 0.006
    slower = result([0.036, 0.038, 0.040, 0.039, 0.037], bound=(0.024, 0.041))
    assert any(str(f).startswith("outage_s") for f in compare(base, slower))


def test_only_like_runs_are_comparable() -> None:
    base = result([3.2, 3.3])
    other = copy.deepcopy(base)
    other.engine = "keepalived"
    other.parameters = {"fault": "graceful"}
    other.configs = {"lb01.conf": "00"}
    why = incomparable(base, other)
    assert any("engine" in w for w in why) and any("parameters differ (fault)" in w for w in why)
    assert any("configs differ" in w for w in why)
    assert incomparable(base, copy.deepcopy(base)) == []


def test_a_trials_own_bound_and_problems_decide_its_verdict() -> None:
    run_bounds = {"outage_s": (0.0, 1.0)}
    assert (
        verdict_of({"outage_s": 0.5, "bounds": {"outage_s": [0.6, 0.7]}}, run_bounds)[0] == "fail"
    )
    verdict, why = verdict_of({"outage_s": 0.5, "problems": ["never recovered"]}, run_bounds)
    assert verdict == "fail" and why == ["never recovered"]


def test_finish_recomputes_without_counting_a_failure_twice() -> None:
    r = result([3.2, 3.9])
    again = copy.deepcopy(r).finish()
    assert again.failures == r.failures and len(r.failures) == 1
    r.run_failures.append("the lab did not come up: no")
    assert r.finish().failures == ["the lab did not come up: no", *again.failures]


def test_a_result_written_and_read_back_is_the_same_run() -> None:
    r = result([3.2, 3.9])
    r.trials[0].keep(timeline={"first_garp_s": 0.01}, new_master="lb02")
    r.extra["from_a_newer_lablb"] = [1, 2]
    back = RunResult.from_json(json.loads(json.dumps(r.to_json())))
    assert back == r and back.to_json() == r.to_json()
    assert back.trials[0].data["timeline"] == {"first_garp_s": 0.01}


def test_every_scenario_has_a_timeline_and_defaults() -> None:
    found = all_scenarios()
    assert {"failover", "healthcheck", "stream", "splitbrain", "nogarp"} <= set(found)
    for sc in found.values():
        assert sc.timeline and "Timeline" in sc.timeline and sc.params


def test_parameters_are_typed_and_checked() -> None:
    sc = get_scenario("failover")
    parsed = parse_params(sc, ["fault=graceful", "preempt=no"])
    assert parsed.preempt is False and parsed.fault == "graceful" and parsed.interval == 0.001
    assert sc.values(parsed) == {"fault": "graceful", "interval": 0.001, "preempt": False,
                                 "seed": 1}  # fmt: skip
    assert list(sc.params) == ["fault", "interval", "preempt", "seed"]  # declared order
    with pytest.raises(LablbError, match="failover takes fault="):
        parse_params(sc, ["colour=blue"])
    with pytest.raises(LablbError, match="not yes/no"):
        parse_params(sc, ["preempt=maybe"])
    with pytest.raises(LablbError, match="no scenario"):
        get_scenario("meltdown")


def test_typed_parameters_from_python_are_checked_without_text() -> None:
    sc = get_scenario("failover")
    values = check_params(sc, {"interval": 0.002, "preempt": False, "seed": 3})
    assert values.interval == 0.002 and values.preempt is False and values.seed == 3
    with pytest.raises(LablbError, match="interval: 'fast' is not a float"):
        check_params(sc, {"interval": "fast"})
    with pytest.raises(LablbError, match="preempt: 1 is not a yes/no"):
        check_params(sc, {"preempt": 1})  # a bool is not spelt 1 from Python
    with pytest.raises(LablbError, match="below"):
        check_params(sc, {"interval": 0.00001})
    with pytest.raises(LablbError, match="failover takes fault="):
        check_params(sc, {"colour": "blue"})


def test_playback_stalls_when_the_download_pauses() -> None:
    rate = 1_000_000  # bytes/s: bitrate 8 Mbit/s
    steady = [(t / 10, int(t / 10 * 2 * rate)) for t in range(0, 51)]  # 2x real time
    assert play(steady, 8e6, 10 * rate).stalls == 0
    paused = [(t / 10, min(int(t / 10 * rate), 3 * rate)) for t in range(0, 61)]
    paused += [(6.0 + t / 10, 3 * rate + int(t / 10 * rate)) for t in range(1, 71)]
    # Real-time download stops at 3 s (3 MB) and resumes at 6 s. Playback starts at 2 s
    # (2 s of prebuffer), runs dry at 5 s, and restarts once 2 s are buffered again, at 8 s.
    pb = play(paused, 8e6, 10 * rate)
    assert pb.startup_s == 2.0 and pb.stalls == 1 and pb.complete
    assert 2.8 <= pb.stall_s <= 3.0


def test_summary_is_one_screen_with_the_verdict() -> None:
    text = report_summary(result([3.2, 3.3]))
    assert "outage_s" in text and "[2.613, 3.663]" in text and text.endswith("verdict: PASS")
    assert len(text.splitlines()) < 25


def test_a_failed_runs_last_line_names_the_trial_and_quantity() -> None:
    from lablb.report import verdict_lines

    failed = result([3.2, 3.3, 4.1] + [9.0] * 9)
    lines = verdict_lines(failed)
    assert lines[-1].startswith("verdict: FAIL: 10 failures, first trial 3: outage_s 4.1000 s")
    assert "not in [2.6130, 3.6630]" in lines[-1]
    assert lines[0] == f"  ! {failed.failures[0]}"
    assert "... and 2 more (result.json)" in lines[-2]
    assert report_summary(failed).endswith(lines[-1])
    assert "verdict" not in report_summary(failed, verdict=False)
    assert verdict_lines(result([3.2])) == ["verdict: PASS"]


def test_playback_counts_a_stall_that_never_ends() -> None:
    rate = 1_000_000
    died = [(t / 10, min(int(t / 10 * 2 * rate), 6 * rate)) for t in range(0, 101)]
    pb = play(died, 8e6, 10 * rate)
    assert pb.open_stall and not pb.complete and pb.stall_s > 0


def test_every_scenarios_quick_parameters_are_its_own_and_valid() -> None:
    for name, scenario in all_scenarios().items():
        assert scenario.quick, f"{name} declares no quick parameters for the suite"
        parse_params(scenario, [f"{k}={v}" for k, v in scenario.quick.items()])


def test_a_schema_2_result_keeps_its_failed_flags_as_problems(tmp_path: Path) -> None:
    from lablb.report import load_result

    old = raw([0.5])
    old["schema"] = "lablb.result/2"
    old["trials"][0]["dr_ok"] = False
    old["trials"][0]["error"] = "the lab raised"  # an early runner's way to say it
    (tmp_path / "result.json").write_text(json.dumps(old))
    upgraded = load_result(tmp_path).finish()
    assert upgraded.to_json()["schema"] == "lablb.result/3" and upgraded.verdict == "fail"
    assert upgraded.trials[0].problems == ["dr_ok is false", "the lab raised"]
    old["schema"] = "lablb.result/9"
    (tmp_path / "result.json").write_text(json.dumps(old))
    with pytest.raises(LablbError, match=r"schema 'lablb\.result/9'"):
        load_result(tmp_path)


def test_junit_has_a_testcase_per_trial_and_bound_and_fails_what_failed() -> None:
    import xml.etree.ElementTree as ET

    from lablb.junit import junit_xml

    failed = result([3.2, 4.1])
    failed.trials[1].problems = ["icmp probe: a gap the fault does not explain"]
    failed.trials.append(Trial(measured={"outage_s": None}))
    root = ET.fromstring(junit_xml(failed))
    (suite,) = root.findall("testsuite")
    cases = suite.findall("testcase")
    names = [c.get("name") or "" for c in cases]
    # run + per trial (one bound + no-problem): 1 + 3 * 2
    assert len(cases) == 7 and suite.get("tests") == "7"
    failures = {c.get("name"): c.find("failure") for c in cases if c.find("failure") is not None}
    assert suite.get("failures") == str(len(failures)) == "3"
    assert names[1] == "trial 1: outage_s in [2.6130, 3.6630]: 3.200000"
    (late,) = [f for n, f in failures.items() if n and n.startswith("trial 2: outage_s")]
    assert "437.000 ms outside the bound" in (late.get("message") or "")
    assert any("not measured" in (f.get("message") or "") for f in failures.values())
    problem = failures["trial 2: no problem"]
    assert problem is not None and "does not explain" in (problem.get("message") or "")


def test_a_run_read_back_typed_says_whether_it_passed_and_what_failed_first() -> None:
    failed = RunResult.from_json(result([3.2, 3.3, 4.1]).to_json())
    assert not failed.passed and failed.scenario == "failover" and len(failed.trials) == 3
    assert failed.failures and str(failed).startswith("failover: FAIL, 3 trial(s); first: ")
    assert failed.failures[0] in str(failed)
    ok = RunResult.from_json(result([3.2]).to_json())
    assert ok.passed and ok.failures == [] and str(ok) == "failover: PASS, 1 trial(s)"
    assert not RunResult.from_json({}).passed  # nothing said is no pass
