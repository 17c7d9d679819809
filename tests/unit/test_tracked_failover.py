"""A tracked script's failover, judged (``lablb.measure.tracked``): the bounds follow
from the script's interval, fall, rise and timeout, the priority arithmetic and the VRRP
timers; the capture and the probes are read against them. Synthetic windows, no lab."""

from __future__ import annotations

import pytest

from lablb.measure import bounds as B
from lablb.measure import tracked as T
from lablb.measure.failover import Lan
from lablb.measure.outage import ProbeLog
from lablb.measure.pcap import Frame
from lablb.vrrp.timers import master_down_interval, skew_time

SLACK = B.Slack(timer=50e-6, quantum=1.5e-3)
SCRIPT = T.ScriptTiming(interval=1.0, fall=2, rise=2, timeout=1.0)
BACKUP = B.Timing(master_down_interval(99, 1.0, 2), skew_time(99, 1.0, 2), 1.0)
WEIGHT = T.Arithmetic(-2, 100, 98, 99, nopreempt=False, backup_wins_tie=False)
FAULT = T.Arithmetic(0, 100, 100, 99, nopreempt=False, backup_wins_tie=False)
OLD, NEW = "172.30.0.11", "172.30.0.12"
LAN = Lan({"mac-" + OLD: "lb01", "mac-" + NEW: "lb02"}, {"lb01": OLD, "lb02": NEW}, 51)


def test_the_arithmetic_says_whether_the_vip_moves() -> None:
    assert WEIGHT.moves and FAULT.moves
    assert not T.Arithmetic(-2, 150, 148, 100, False, False).moves  # the gap is not crossed
    assert not T.Arithmetic(-60, 150, 90, 100, True, False).moves  # nopreempt
    assert T.Arithmetic(-1, 100, 99, 99, False, True).moves  # a tie: the higher address
    assert not T.Arithmetic(-1, 100, 99, 99, False, False).moves
    assert "100 -> 98, backup 99: the backup takes over" in WEIGHT.explain()


def test_bounds_are_the_script_schedule_plus_the_vrrp_step() -> None:
    eps = SLACK.epsilon
    low, high = T.failover(SCRIPT, WEIGHT, BACKUP, SLACK)
    # (fall - 1) x interval, less the advert the backup last accepted before it...
    assert low == pytest.approx(1.0 - eps - 1.0 - eps + BACKUP.master_down)
    # ...to fall x interval + timeout (each run late by epsilon) + master_down.
    assert high == pytest.approx(2.0 + 1.0 + 2 * eps + BACKUP.master_down + eps)
    low, high = T.failover(SCRIPT, FAULT, BACKUP, SLACK)
    assert low == pytest.approx(1.0 - eps + BACKUP.skew)
    assert T.takeover(WEIGHT, BACKUP, SLACK)[0] == pytest.approx(BACKUP.master_down - SLACK.capture)
    assert T.takeover(FAULT, BACKUP, SLACK)[1] == pytest.approx(BACKUP.skew + eps + SLACK.capture)
    assert T.client_outage(WEIGHT, BACKUP, SLACK, 0.001) == (0.0, SLACK.quantum + 0.001)


def advert(t: float, src: str, priority: int) -> Frame:
    return Frame(t, "mac-" + src, "advert", src, priority=priority, vrid=51)


def probe(kind: str, lost: tuple[float, float], t0: float = 99.0, t1: float = 106.0) -> ProbeLog:
    sent = tuple((i, t0 + i * 0.001) for i in range(int((t1 - t0) / 0.001)))
    answered = {i: t + 2e-4 for i, t in sent if not lost[0] <= t < lost[1]}
    return ProbeLog(kind, "x", 0.001, sent, answered)


def window(
    frames: list[Frame], tcp_lost: tuple[float, float], icmp_lost: tuple[float, float] = (0, 0)
) -> T.Kill:
    probes = {"icmp": probe("icmp", icmp_lost), "tcp": probe("tcp", tcp_lost)}
    return T.Kill(99.9999, 100.0, 99.5, 105.5, probes, frames)


def test_a_weighted_failover_is_timed_from_the_last_advert_the_backup_accepted() -> None:
    md = BACKUP.master_down
    last = 101.4  # the script's second failure at 101.6: lowered at once (lablb's engine)
    frames = [advert(t, OLD, 100) for t in (99.4, 100.4, last)]
    frames += [advert(101.6, OLD, 98), advert(102.6, OLD, 98), advert(last + md + 0.0004, NEW, 99)]
    takeover = last + md + 0.0004
    trial = T.judge_kill(window(frames, (100.0, takeover + 0.002)), "lb01", LAN, SCRIPT, WEIGHT,
                         BACKUP, SLACK)  # fmt: skip
    assert trial.problems == []
    assert trial.measured["takeover_s"] == pytest.approx(md + 0.0004, abs=1e-6)
    assert trial.measured["failover_s"] == pytest.approx(takeover - 100.0, abs=1e-6)
    assert trial.measured["outage_s"] == 0.0
    assert trial.data["new_master"] == "lb02"
    svc = trial.measured["service_outage_s"]
    assert svc is not None and svc == pytest.approx(takeover + 0.002 - 100.0, abs=0.002)
    for name, (low, high) in trial.bounds.items():
        assert low <= (trial.measured[name] or 0.0) <= high, name


def test_the_vips_own_gap_falls_at_the_takeover_not_at_the_kill() -> None:
    """With a weight the VIP answers until the old master hears the new one: a probe or
    two lost then is the fault's, seconds after the kill."""
    md = BACKUP.master_down
    takeover = 101.4 + md
    frames = [advert(t, OLD, 100) for t in (99.4, 100.4, 101.4)]
    frames += [advert(101.6, OLD, 98), advert(takeover, NEW, 99)]
    w = window(frames, (100.0, takeover + 0.002), icmp_lost=(takeover, takeover + 0.0012))
    trial = T.judge_kill(w, "lb01", LAN, SCRIPT, WEIGHT, BACKUP, SLACK)
    assert trial.problems == []
    icmp = trial.measured["outage_s"]
    assert icmp is not None and 0.001 <= icmp <= 0.003


def test_a_master_advertising_another_priority_than_the_config_implies_is_a_problem() -> None:
    md = BACKUP.master_down
    frames = [advert(t, OLD, 102) for t in (99.4, 100.4, 101.4)]  # a +2 the lab did not expect
    frames += [advert(101.6, OLD, 98), advert(101.4 + md, NEW, 101)]
    trial = T.judge_kill(window(frames, (100.0, 101.4 + md)), "lb01", LAN, SCRIPT, WEIGHT, BACKUP,
                         SLACK)  # fmt: skip
    assert any("advertised priority 102 before the kill" in p for p in trial.problems)
    assert any("no advert at priority 100" in p for p in trial.problems)
    frames = [advert(t, OLD, 100) for t in (99.4, 100.4, 101.4)]
    frames += [advert(101.6, OLD, 98), advert(101.4 + md, NEW, 101)]  # a +2 on the backup
    trial = T.judge_kill(window(frames, (100.0, 101.4 + md)), "lb01", LAN, SCRIPT, WEIGHT, BACKUP,
                         SLACK)  # fmt: skip
    assert any("the new master advertised priority 101" in p for p in trial.problems)


def test_fault_mode_is_timed_from_the_goodbye_and_no_takeover_is_not_measured() -> None:
    frames = [advert(t, OLD, 100) for t in (99.4, 100.4)] + [advert(101.5, OLD, 0)]
    trial = T.judge_kill(window(frames, (100.0, 106.0)), "lb01", LAN, SCRIPT, FAULT, BACKUP, SLACK)
    assert trial.measured["takeover_s"] is None and trial.measured["failover_s"] is None
    assert any("nobody else advertised" in p for p in trial.problems)
    frames.append(advert(101.5 + BACKUP.skew + 0.0002, NEW, 99))
    s = T.steps(frames, OLD, 51, FAULT, 100.0)
    assert s.last_accepted == 101.5 and s.new_ip == NEW
