"""Timer formulas against the RFCs' own worked numbers and keepalived.conf(5)'s."""

from __future__ import annotations

import pytest

from lablb.vrrp.timers import master_down_interval, skew_time


@pytest.mark.parametrize(
    ("priority", "adv", "version", "skew", "down"),
    [
        (100, 1.0, 2, 156 / 256, 3 + 156 / 256),  # the seed's lb01
        (99, 1.0, 2, 157 / 256, 3 + 157 / 256),  # the seed's lb02
        (255, 1.0, 2, 1 / 256, 3 + 1 / 256),  # address owner
        (128, 1.0, 2, 0.5, 3.5),  # keepalived.conf(5): "3.5 seconds"
        (100, 0.5, 3, 156 * 0.5 / 256, 1.5 + 156 * 0.5 / 256),
    ],
)
def test_formulas(priority: int, adv: float, version: int, skew: float, down: float) -> None:
    assert skew_time(priority, adv, version) == pytest.approx(skew)
    assert master_down_interval(priority, adv, version) == pytest.approx(down)


def test_down_timer_adverts() -> None:
    assert master_down_interval(128, 1.0, 2, down_timer_adverts=5) == pytest.approx(5.5)


def test_long_waits_stop_short_so_the_last_one_has_little_slack() -> None:
    from lablb.vrrp.timers import FINE_WAIT, TIMER_LATENESS, wait_towards

    # A 3.6 s master-down timer, waking every 0.5 s at least: the waits add up to the
    # deadline, and the last is no longer than FINE_WAIT (slack FINE_WAIT / 1000).
    remaining, waits = 3.6134, []
    while remaining > 1e-9:
        w = wait_towards(remaining, 0.5)
        waits.append(w)
        remaining -= w
    assert abs(sum(waits) - 3.6134) < 1e-9
    assert waits[-1] <= FINE_WAIT and max(waits) <= 0.5
    assert pytest.approx(50e-6) == TIMER_LATENESS
    assert wait_towards(-1.0, 0.5) == 0.0
