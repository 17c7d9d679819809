"""The VRRP state machine, driven with no clock and no sockets: time is an argument."""

from __future__ import annotations

import itertools
from dataclasses import replace
from ipaddress import IPv4Address

import pytest

from lablb.errors import ProtocolError
from lablb.vrrp.fsm import (
    MOVES,
    AddVips,
    Garp,
    Params,
    Rejected,
    RemoveVips,
    Router,
    Send,
    State,
    Transition,
)
from lablb.vrrp.packet import Advert, AuthType, Reject
from lablb.vrrp.timers import master_down_interval, skew_time

ME = IPv4Address("172.30.0.21")
LOWER_IP = IPv4Address("172.30.0.20")
HIGHER_IP = IPv4Address("172.30.0.30")
VIPS = (IPv4Address("172.30.0.22"), IPv4Address("172.16.55.100"))
BASE = Params(
    name="VI_1",
    vrid=51,
    priority=99,
    advert_int=1.0,
    primary_ip=ME,
    vips=VIPS,
    auth_type=AuthType.PASS,
    auth_pass=b"1111",
)


def advert(priority: int, **kw: object) -> Advert:
    fields: dict[str, object] = dict(
        version=2,
        vrid=51,
        priority=priority,
        addresses=VIPS,
        interval_cs=100,
        auth_type=AuthType.PASS,
        auth_data=b"1111",
    )
    fields.update(kw)
    return Advert(**fields)  # type: ignore[arg-type]


def router(state: State, now: float = 0.0, **kw: object) -> Router:
    """A router brought to ``state`` through legal moves only."""
    r = Router(replace(BASE, **kw))  # type: ignore[arg-type]
    if state is State.INITIALIZE:
        return r
    r.start(now)
    if state is State.MASTER:
        r.expire(r.deadline or now)
    elif state is State.FAULT:
        r.track(now, "eth0", up=False, weight=None)
    assert r.state is state
    return r


def kinds(actions: list[object]) -> list[str]:
    return [type(a).__name__ for a in actions]


@pytest.mark.parametrize(("old", "new"), list(itertools.product(State, State)))
def test_transition_table_is_enforced(old: State, new: State) -> None:
    r = Router(BASE, state=old)
    if new in MOVES[old]:
        assert kinds(r._move(new, "test")) == ["Transition"]
        assert r.state is new
    else:
        with pytest.raises(ProtocolError, match=f"{old.value} -> {new.value}"):
            r._move(new, "test")
        assert r.state is old


def test_backup_waits_master_down_interval_then_takes_over() -> None:
    r = Router(BASE)
    out = r.start(10.0)
    assert out == [Transition("VI_1", State.INITIALIZE, State.BACKUP, "startup", 99)]
    down = master_down_interval(99, 1.0, 2)
    assert r.deadline == pytest.approx(10.0 + down)
    assert r.expire(10.0 + down - 0.001) == []
    out = r.expire(10.0 + down)
    assert kinds(out) == ["Transition", "Send", "AddVips", "Garp"]
    assert out[1] == Send(advert(99))
    assert out[2] == AddVips(VIPS)
    assert out[3] == Garp(VIPS, 5)
    assert r.state is State.MASTER


def test_owner_takes_over_at_once() -> None:
    r = Router(replace(BASE, priority=255))
    assert kinds(r.start(0.0)) == ["Transition", "Send", "AddVips", "Garp"]
    assert r.state is State.MASTER


def test_master_advertises_every_interval() -> None:
    r = router(State.MASTER)
    t0 = r.deadline
    assert t0 is not None
    assert r.expire(t0) == [Send(advert(99))]
    assert r.deadline == pytest.approx(t0 + 1.0)


# (priority in the advert, source, nopreempt) -> does the backup restart its down timer?
BACKUP_CASES = [
    (100, LOWER_IP, False, True),  # higher priority master: accept
    (99, LOWER_IP, False, True),  # equal priority: accept (RFC 3768 6.4.2)
    (98, LOWER_IP, False, False),  # lower: discard, so we pre-empt
    (98, LOWER_IP, True, True),  # lower but nopreempt: accept
]


@pytest.mark.parametrize(("prio", "src", "nopreempt", "reset"), BACKUP_CASES)
def test_backup_receives(prio: int, src: IPv4Address, nopreempt: bool, reset: bool) -> None:
    r = router(State.BACKUP, nopreempt=nopreempt)
    first = r.deadline
    assert r.receive(2.0, src, advert(prio)) == []
    if reset:
        assert r.deadline == pytest.approx(2.0 + master_down_interval(99, 1.0, 2))
    else:
        assert r.deadline == first


def test_priority_zero_makes_backup_wait_only_skew_time() -> None:
    r = router(State.BACKUP)
    r.receive(2.0, LOWER_IP, advert(0))
    assert r.deadline == pytest.approx(2.0 + skew_time(99, 1.0, 2))
    assert r.deadline == pytest.approx(2.0 + (256 - 99) / 256)


def test_preempt_delay_holds_preemption_for_its_window() -> None:
    r = router(State.BACKUP, preempt_delay=10.0)
    r.receive(1.0, LOWER_IP, advert(50))  # opens the window: accepted
    assert r.deadline == pytest.approx(1.0 + r.master_down_interval())
    r.receive(10.9, LOWER_IP, advert(50))  # still inside: accepted
    held = r.deadline
    assert held == pytest.approx(10.9 + r.master_down_interval())
    r.receive(11.0, LOWER_IP, advert(50))  # window over: discarded, we pre-empt
    assert r.deadline == held


# (priority in the advert, source) -> does the master step down?
MASTER_CASES = [
    (100, LOWER_IP, True),
    (99, HIGHER_IP, True),  # tie: the higher primary address wins
    (99, LOWER_IP, False),
    (98, HIGHER_IP, False),
]


@pytest.mark.parametrize(("prio", "src", "steps_down"), MASTER_CASES)
def test_master_receives(prio: int, src: IPv4Address, steps_down: bool) -> None:
    r = router(State.MASTER)
    out = r.receive(5.0, src, advert(prio))
    if steps_down:
        assert kinds(out) == ["Transition", "RemoveVips"]
        assert r.state is State.BACKUP
        assert r.master_ip == src
        assert r.deadline == pytest.approx(5.0 + r.master_down_interval())
    else:
        assert out == []
        assert r.state is State.MASTER


def test_master_answers_priority_zero_at_once() -> None:
    r = router(State.MASTER)
    assert r.receive(5.5, LOWER_IP, advert(0)) == [Send(advert(99))]
    assert r.deadline == pytest.approx(6.5)


def test_v3_backup_learns_the_masters_interval() -> None:
    r = router(State.BACKUP, version=3, auth_type=AuthType.NONE, auth_pass=b"")
    a = Advert(3, 51, 200, VIPS, interval_cs=50)
    r.receive(1.0, HIGHER_IP, a)
    assert r.master_adver_int == 0.5
    assert r.deadline == pytest.approx(1.0 + 3 * 0.5 + (256 - 99) * 0.5 / 256)


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (advert(100, auth_data=b"2222"), Reject.AUTH_MISMATCH),
        (advert(100, auth_type=AuthType.NONE, auth_data=b""), Reject.AUTH_TYPE_MISMATCH),
        (advert(100, vrid=52), Reject.WRONG_VRID),
        (advert(100, interval_cs=200), Reject.INTERVAL_MISMATCH),
        (Advert(3, 51, 100, VIPS, 100), Reject.BAD_VERSION),
    ],
)
def test_rejects_are_counted_and_change_nothing(bad: Advert, reason: Reject) -> None:
    r = router(State.BACKUP)
    before = r.deadline
    for _ in range(3):
        (rej,) = r.receive(2.0, HIGHER_IP, bad)
        assert isinstance(rej, Rejected)
        assert rej.reason is reason
    assert r.rejected == {reason: 3}
    assert r.deadline == before


def test_own_adverts_are_ignored() -> None:
    r = router(State.BACKUP)
    assert r.receive(1.0, ME, advert(200)) == []
    assert r.rejected == {}


def test_garp_bursts_then_refresh() -> None:
    r = router(
        State.MASTER, garp_master_delay=5.0, garp_master_refresh=60.0, garp_master_refresh_repeat=2
    )
    became = r.deadline - 1.0  # type: ignore[operator]
    assert r.garp_at == pytest.approx(became + 5.0)
    assert Garp(VIPS, 5) in r.expire(became + 5.0)
    assert r.garp_at == pytest.approx(became + 65.0)
    assert Garp(VIPS, 2) in r.expire(became + 65.0)


def test_no_second_garp_burst_when_delay_is_zero() -> None:
    r = router(State.MASTER, garp_master_delay=0.0)
    assert r.garp_at is None


@pytest.mark.parametrize(
    ("weight", "up", "effective"),
    [
        (20, True, 119),
        (20, False, 99),
        (-30, False, 69),
        (-30, True, 99),
        (200, True, 254),
        (-200, False, 1),
    ],
)
def test_track_weights(weight: int, up: bool, effective: int) -> None:
    r = router(State.BACKUP)
    r.track(0.0, "chk", up, weight)
    assert r.priority == effective
    r.track(0.0, "chk", up, weight)  # the same report twice counts once
    assert r.priority == effective


def test_owner_priority_ignores_weights() -> None:
    r = router(State.MASTER, priority=255)
    r.track(0.0, "chk", False, -50)
    assert r.priority == 255


def test_master_announces_a_priority_change_at_once() -> None:
    r = router(State.MASTER)
    assert r.track(3.0, "chk", False, -50) == [Send(advert(49))]


def test_a_backup_whose_priority_rises_runs_its_down_timer_at_the_new_priority() -> None:
    """keepalived shortens a running Master_Down_Timer when the priority rises; the
    master's adverts, now lower, are discarded and never restart it."""
    r = router(State.BACKUP)
    r.receive(1.0, LOWER_IP, advert(100))  # accepted: 100 > 99
    assert r.deadline == pytest.approx(1.0 + master_down_interval(99, 1.0, 2))
    r.track(1.5, "chk", True, 2)  # 101 now
    assert r.deadline == pytest.approx(1.0 + master_down_interval(101, 1.0, 2))
    assert r.receive(2.0, LOWER_IP, advert(100)) == []  # discarded: the timer runs on
    assert r.deadline == pytest.approx(1.0 + master_down_interval(101, 1.0, 2))
    r.track(2.5, "chk", False, 2)  # back to 99: a falling priority is kept to the next advert
    assert r.deadline == pytest.approx(1.0 + master_down_interval(101, 1.0, 2))


def test_fault_from_master_says_goodbye_and_recovers_to_backup() -> None:
    r = router(State.MASTER)
    out = r.track(4.0, "eth0", up=False, weight=None)
    assert out[:2] == [Send(advert(0)), RemoveVips(VIPS)]
    assert r.state is State.FAULT and r.next_deadline() is None
    assert r.receive(4.5, HIGHER_IP, advert(200)) == []  # FAULT ignores adverts
    out = r.track(6.0, "eth0", up=True, weight=None)
    assert kinds(out) == ["Transition"] and r.state is State.BACKUP


def test_stop_from_master_sends_priority_zero() -> None:
    r = router(State.MASTER)
    out = r.stop(9.0)
    assert out[:2] == [Send(advert(0)), RemoveVips(VIPS)]
    assert r.state is State.INITIALIZE
    assert r.next_deadline() is None


def test_stop_from_backup_is_silent() -> None:
    r = router(State.BACKUP)
    assert kinds(r.stop(9.0)) == ["Transition"]


def test_check_unicast_src_accepts_only_the_listed_peers() -> None:
    """keepalived's check_unicast_src: an advert from an address that is not a
    unicast_peer is rejected and counted; a listed peer's is heard as usual."""
    r = router(State.BACKUP, unicast_peers=(LOWER_IP,), check_unicast_src=True)
    before = r.deadline
    (rej,) = r.receive(2.0, HIGHER_IP, advert(200))
    assert isinstance(rej, Rejected) and rej.reason is Reject.UNKNOWN_SOURCE
    assert r.deadline == before and r.rejected == {Reject.UNKNOWN_SOURCE: 1}
    assert r.receive(2.0, LOWER_IP, advert(200)) == []
    assert r.deadline != before  # heard: the down timer restarted
    # Without the option, any source is heard (keepalived's default).
    assert (
        router(State.BACKUP, unicast_peers=(LOWER_IP,)).receive(2.0, HIGHER_IP, advert(200)) == []
    )
