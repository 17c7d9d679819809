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
