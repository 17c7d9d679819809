"""Checker timing on a fake clock, and the pool's reaction to health changes."""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Address

import pytest

from lablb.checker.logic import (
    Alert,
    CheckerState,
    Pool,
    Remove,
    SetWeight,
    Timing,
    detection_bound,
    recovery_bound,
)
from lablb.config.load import load
from lablb.config.model import VirtualServer
from tests.conftest import SEED

SEED_TIMING = Timing(delay_loop=6, connect_timeout=3, retry=3, delay_before_retry=3)


def run_checker(t: Timing, fails_at: float, refused: bool, until: float) -> float | None:
    """Drive one checker against a server that dies at ``fails_at``: when is it DOWN?"""
    c = CheckerState(t)
    now = 0.0
    while now < until:
        now = max(now, c.next_at)
        dead = now >= fails_at
        took = (0.0 if refused else t.connect_timeout) if dead else 0.001
        now += took
        if c.result(now, not dead) is False:
            return now - fails_at
    return None


@pytest.mark.parametrize("refused", [True, False])
@pytest.mark.parametrize("offset", [0.0005, 0.5, 2.0, 5.99])
def test_detection_within_the_bound(refused: bool, offset: float) -> None:
    low, high = detection_bound(SEED_TIMING, refused)
    took = run_checker(SEED_TIMING, 60.0 + offset, refused, 200.0)
    assert took is not None and low - 0.01 <= took <= high + 0.01


def test_seed_bounds_are_what_the_config_implies() -> None:
    # delay_loop 6, connect_timeout 3, retry 3, delay_before_retry 3:
    assert detection_bound(SEED_TIMING) == (4 * 3 + 3 * 3, 6 + 4 * 3 + 3 * 3)
    assert detection_bound(SEED_TIMING, refused=True) == (9, 15)
    assert recovery_bound(SEED_TIMING) == 9


def test_retries_before_down_and_one_success_up() -> None:
    c = CheckerState(Timing(10, 1, retry=2, delay_before_retry=2))
    assert [c.result(t, False) for t in (1.0, 3.0)] == [None, None]
    assert c.next_at == 5.0
    assert c.result(5.0, False) is False and c.next_at == 15.0
    assert c.result(15.0, False) is None  # already down
    assert c.result(17.0, True) is True and c.next_at == 27.0


def test_a_success_during_retries_resets_them() -> None:
    c = CheckerState(Timing(10, 1, retry=1, delay_before_retry=2))
    assert c.result(1.0, False) is None
    assert c.result(3.0, True) is None and c.up
    assert c.result(13.0, False) is None  # a fresh retry budget


def vs(**kw: object) -> VirtualServer:
    return replace(load(str(SEED / "lb01.conf")).virtual_servers[0], **kw)  # type: ignore[arg-type]


WEB01, WEB02 = IPv4Address("172.30.0.23"), IPv4Address("172.30.0.24")


def test_pool_removes_then_restores_with_alerts() -> None:
    pool = Pool(vs())
    assert pool.initial() == [
        SetWeight("172.16.55.100:80", WEB01, 80, 1),
        SetWeight("172.16.55.100:80", WEB02, 80, 1),
    ]
    rs = pool.vs.real_servers[0]
    out = pool.change(rs, False, "connection refused")
    assert out[0] == Remove("172.16.55.100:80", WEB01, 80)
    assert isinstance(out[1], Alert) and "172.30.0.23:80 - DOWN" in out[1].subject
    assert pool.change(rs, False, "again") == []
    assert pool.change(rs, True, "ok")[0] == SetWeight("172.16.55.100:80", WEB01, 80, 1)


def test_inhibit_on_failure_quiesces_instead() -> None:
    pool = Pool(vs(inhibit_on_failure=True))
    pool.initial()
    assert pool.change(pool.vs.real_servers[0], False, "x")[0] == SetWeight(
        "172.16.55.100:80", WEB01, 80, 0
    )


def test_alpha_starts_down() -> None:
    pool = Pool(vs(alpha=True, inhibit_on_failure=False))
    assert [a for a in pool.initial() if isinstance(a, SetWeight)] == []


def test_quorum_hysteresis_and_sorry_server() -> None:
    sorry = IPv4Address("172.30.0.25")
    pool = Pool(vs(quorum=2, hysteresis=0, sorry_server=(sorry, 80)))
    pool.initial()
    out = pool.change(pool.vs.real_servers[0], False, "x")
    assert SetWeight("172.16.55.100:80", sorry, 80, 1) in out
    assert any(isinstance(a, Alert) and "quorum lost" in a.subject for a in out)
    out = pool.change(pool.vs.real_servers[0], True, "x")
    assert Remove("172.16.55.100:80", sorry, 80) in out


def test_hysteresis_delays_the_verdict() -> None:
    pool = Pool(vs(quorum=2, hysteresis=1))
    pool.initial()
    out = pool.change(pool.vs.real_servers[0], False, "x")  # alive 1, not < 2 - 1
    assert not any(isinstance(a, Alert) and "quorum" in a.subject for a in out)
