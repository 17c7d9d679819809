"""The benchmark's pure half (``bench/summary.py``, ``bench/report.py``): statistics,
lateness against the protocol, ratios, goals met and missed, and the tables."""

from __future__ import annotations

from typing import Any

from bench import report, summary


def row(engine: str, fault: str, outage: list[float], late: list[float]) -> dict[str, Any]:
    trials = [
        {"outage_s": o, "service_outage_s": o + 0.001, "takeover_s": 0.03 + x, "verdict": "pass"}
        for o, x in zip(outage, late, strict=True)
    ]
    bounds = {"takeover_s": [0.03, 0.0316]}
    stats = {k: summary.Stat.of(summary.values(trials, k)).as_json()  # type: ignore[union-attr]
             for k in ("outage_s", "service_outage_s")}  # fmt: skip
    stats["takeover_late_s"] = summary.Stat.of(  # type: ignore[union-attr]
        summary.lateness(trials, "takeover_s", bounds)
    ).as_json()
    return {"engine": engine, "configs": "seed-v3-10ms", "interval": "0.01 s (v3)",
            "fault": fault, "trials": len(trials), "passed": len(trials), "stats": stats,
            "bounds": {"outage_s": [0.01, 0.04]}}  # fmt: skip


def test_lateness_is_measured_minus_the_bounds_low_end_and_trial_bounds_win() -> None:
    trials = [{"takeover_s": 0.0305}, {"takeover_s": 0.5, "bounds": {"takeover_s": [0.49, 0.6]}}]
    got = summary.lateness(trials, "takeover_s", {"takeover_s": [0.03, 0.04]})
    assert [round(x, 6) for x in got] == [0.0005, 0.01]
    assert summary.lateness([{"takeover_s": None}], "takeover_s", {"takeover_s": [0, 1]}) == []


def test_stat_median_p95_max_and_none_for_nothing() -> None:
    s = summary.Stat.of([0.03, 0.01, 0.02])
    assert s is not None and (s.n, s.median, s.p95, s.max) == (3, 0.02, 0.03, 0.03)
    assert summary.Stat.of([]) is None
    assert summary.ratio(1.0, 0.0) is None and summary.ratio(None, 1.0) is None
    assert summary.ratio(3.0, 2.0) == 1.5


def test_outage_goal_is_keepalived_plus_one_millisecond_per_probe() -> None:
    rows = [
        row("lablb", "crash", [0.0298, 0.0308, 0.0318], [0.0001] * 3),
        row("keepalived", "crash", [0.0295, 0.0300, 0.0305], [0.0] * 3),
        row("lablb", "graceful", [0.0120, 0.0130, 0.0140], [0.0001] * 3),
        row("keepalived", "graceful", [0.0100, 0.0101, 0.0102], [0.0] * 3),
    ]
    goals = {g.what: g for g in summary.outage_goals(rows)}
    assert goals["seed-v3-10ms crash outage_s"].met  # +0.8 ms
    assert not goals["seed-v3-10ms graceful outage_s"].met  # +2.9 ms
    assert "+2.90 ms" in goals["seed-v3-10ms graceful outage_s"].detail
    table = "\n".join(report.failover_table(rows))
    assert "| 0.01 s (v3) | crash | lablb | 3/3 | 30.8/31.8/31.8 |" in table
    assert "1.027" in table  # lablb / keepalived median outage, crash


def test_start_goal_false_goal_and_tables() -> None:
    crash = [
        {**row("lablb", "crash", [0.03], [0.0]), "stats": {
            "first_advert_s": {"n": 1, "median": 0.230, "p95": 0.230, "max": 0.230},
            "start_s": {"n": 1, "median": 0.200, "p95": 0.200, "max": 0.200}}},
        {**row("keepalived", "crash", [0.03], [0.0]), "stats": {
            "first_advert_s": {"n": 1, "median": 0.040, "p95": 0.040, "max": 0.040},
            "start_s": {"n": 1, "median": 0.010, "p95": 0.010, "max": 0.010}}},
    ]  # fmt: skip
    starts = report.start_rows(crash)
    (goal,) = summary.start_goals(starts)
    assert not goal.met and "+190.0 ms" in goal.detail
    assert "| 0.01 s (v3) | lablb | 230.0/230.0 | 200.0/200.0 |" in report.start_table(starts, [])
    false = [{"engine": "lablb", "rt": True, "label": "lablb, rt", "seconds": 600.0,
              "changes": 0, "master_before": "lb01", "master_after": "lb01",
              "downloads": [0, 40]}]  # fmt: skip
    (fg,) = summary.false_goals(false)
    assert fg.met
    assert "| lablb, rt | 600 | 0 | lb01/lb01 | 0/40 | - | - |" in report.false_table(false)


def test_proxy_and_capacity_tables_and_the_packet_rate_goal() -> None:
    proxy = [{"webs": 2, "clients": 2, "ratio": 2.0,
              "dr": {"gbit_s": 1.9, "per_client_gbit_s": {"cl01": 0.95, "cl02": 0.95},
                     "balancer_link_bytes_per_delivered": 0.0021, "box_cpu_busy": 0.3},
              "proxy": {"gbit_s": 0.95, "per_client_gbit_s": {"cl01": 0.5, "cl02": 0.45},
                        "balancer_link_bytes_per_delivered": 2.003,
                        "box_cpu_busy": 0.2}}]  # fmt: skip
    lines = report.proxy_table(proxy)
    dr = "| 2 (2) | Direct Routing (lablb) | 1.90 | 0.95 0.95 | 0.0021 | 30 % | 2.00 (2) |"
    assert dr in lines
    assert lines[-1].startswith("| 2 (2) | reverse proxy (nginx) | 0.95 |")
    small = {"traffic": "small", "sent_pps": 45000, "forwarded_pps": 43000, "box_cpu_busy": 0.6,
             "forwarder_cpu": 0.99, "forwarder_user_share": 0.5, "us_per_packet": 23.0,
             "pps_per_core": 43434, "box_us_per_packet": 27.9}  # fmt: skip
    fast = {"traffic": "small", "sent_pps": 170000, "forwarded_pps": 160000, "box_cpu_busy": 0.7,
            "forwarder_cpu": 0.0, "box_us_per_packet": 9.0}  # fmt: skip
    kernel = {"traffic": "small", "sent_pps": 170000, "forwarded_pps": 169000, "box_cpu_busy": 0.7,
              "box_us_per_packet": 8.5}  # fmt: skip
    direct = {"traffic": "small", "sent_pps": 190000, "forwarded_pps": 190000, "box_cpu_busy": 0.7,
              "box_us_per_packet": 7.0}  # fmt: skip
    cap = {"mss": 88, "lablb": [small], "lablb-kernel": [fast], "kernel": [kernel],
           "direct": [direct]}  # fmt: skip
    lines = report.capacity_table(cap)
    # The hop's cost is the box's per packet less the no-hop path's: 27.9 - 7.0 us for
    # the Python forwarder (its own clock said 23.0), 2.0 us for the kernel data plane.
    assert "| TCP, 88-byte MSS, no offload | lablb forwarder, Python (AF_PACKET) | 45,000 " \
           "| 43,000 | 99 % (50 %) | 23.0 | 60 % | 27.9 | 20.90 | 47,847 |" in lines  # fmt: skip
    assert "| TCP, 88-byte MSS, no offload | lablb forwarder, kernel data plane (tc-BPF) " \
           "| 170,000 | 160,000 | - | - | 70 % | 9.0 | 2.00 | 500,000 |" in lines  # fmt: skip
    assert "| TCP, 88-byte MSS, no offload | no balancer (r1 to web01) | 190,000 | 190,000 " \
           "| - | - | 70 % | 7.0 | - | - |" in lines  # fmt: skip
    per_core, share = summary.capacity_goals(cap)
    assert per_core.met and per_core.detail.startswith("500k small packets per CPU-second")
    assert share.met and share.detail.startswith("0.95 x the kernel's packets/s")
    slow = {**cap, "lablb-kernel": [{**fast, "box_us_per_packet": 17.0, "forwarded_pps": 120000}]}
    per_core, share = summary.capacity_goals(slow)
    assert not per_core.met and per_core.detail.startswith("100k")
    assert not share.met and share.detail.startswith("0.71 x")
    # A hop that costs no more than no hop at all was not resolved: never a pass.
    noise = {**cap, "lablb-kernel": [{**fast, "box_us_per_packet": 6.9}]}
    assert "| unresolved | - |" in report.capacity_table(noise)[-3]
    per_core, _ = summary.capacity_goals(noise)
    assert not per_core.met and per_core.detail.startswith("not resolved")
    per_core, share = summary.capacity_goals({**cap, "lablb-kernel": []})
    assert not per_core.met and not share.met and share.detail == "not measured"
    assert summary.capacity_goals(None) == []


def test_the_dr_proxy_goal_at_four_web_nodes() -> None:
    (met,) = summary.proxy_goals([{"webs": 2, "ratio": 1.9}, {"webs": 4, "ratio": 3.7}])
    assert met.met and met.detail == "3.70 (goal >= 3.6)"
    (missed,) = summary.proxy_goals([{"webs": 4, "ratio": 2.89}])
    assert not missed.met
    assert summary.proxy_goals([{"webs": 2, "ratio": 1.9}]) == []


def test_a_silent_fault_is_also_counted_from_the_last_advert_and_the_goal_uses_that() -> None:
    trials = [
        {"outage_s": 0.30, "fault_confirmation": {"kind": "silent"},
         "timeline": {"old_master_last_advert_s": -0.06}},
        {"outage_s": 0.25, "fault_confirmation": {"kind": "goodbye"},
         "timeline": {"old_master_last_advert_s": -0.01}},
        {"outage_s": 0.32, "fault_confirmation": {"kind": "silent"}, "timeline": {}},
    ]  # fmt: skip
    assert [round(x, 6) for x in summary.from_last_advert(trials, "outage_s")] == [0.36]
    lablb = row("lablb", "crash", [0.3], [0.0])
    keepalived = row("keepalived", "crash", [0.2], [0.0])
    # phases differ by 100 ms; from the last advert, lablb is 0.5 ms behind: met
    lablb["stats"]["outage_from_advert_s"] = {"median": 0.3615, "p95": 0.37, "max": 0.37}
    keepalived["stats"]["outage_from_advert_s"] = {"median": 0.3610, "p95": 0.37, "max": 0.37}
    goals = {g.what: g for g in summary.outage_goals([lablb, keepalived])}
    got = goals["seed-v3-10ms crash outage_from_advert_s"]
    assert got.met and "+0.50 ms" in got.detail
    # the service probe has no phase-free figure in one run: the plain outage is compared
    assert not goals["seed-v3-10ms crash service_outage_s"].met
    line = next(x for x in report.failover_table([lablb, keepalived]) if "| lablb |" in x)
    assert line.endswith("| 1.001 |")
