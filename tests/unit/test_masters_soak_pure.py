"""Two masters read from adverts (``lablb.measure.masters``) and the soak's slope,
without a lab: a pre-emption's brief overlap, a goodbye ending a run, silence ending a
run, different VRIDs apart; the least-squares slope of a resource series."""

from __future__ import annotations

import pytest

from lablb.measure.masters import Advert, overlaps, streaks
from lablb.scenario import scenario_module, scenarios_dir


def adverts(src: str, times: list[float], vrid: int = 51, priority: int = 100) -> list[Advert]:
    return [Advert(t, src, vrid, priority) for t in times]


def test_a_preemption_overlaps_for_one_advert() -> None:
    old = adverts("b", [0.0, 1.0, 2.0, 3.0])  # b's last advert 0.4 s after a's first
    new = adverts("a", [2.6, 3.6, 4.6])
    (o,) = overlaps(old + new, silence=1.01)
    assert o.nodes == ("b", "a") and o.seconds == pytest.approx(0.4)


def test_a_goodbye_and_silence_end_a_run() -> None:
    a = [*adverts("a", [0.0, 1.0]), Advert(1.5, "a", 51, 0)]
    b = adverts("b", [1.6, 2.6])
    assert overlaps(a + b, silence=1.01) == []
    quiet = adverts("a", [0.0, 1.0]) + adverts("a", [5.0])
    assert [(s[2], s[3]) for s in streaks(quiet, 1.01)] == [(0.0, 1.0), (5.0, 5.0)]


def test_vrids_are_apart() -> None:
    both = adverts("a", [0.0, 1.0], vrid=51) + adverts("b", [0.5, 1.5], vrid=52)
    assert overlaps(both, silence=1.01) == []


def test_the_soak_slope() -> None:
    slope = scenario_module(scenarios_dir() / "soak.py").slope
    assert slope([1.0, 3.0, 5.0]) == pytest.approx(2.0)
    assert slope([4.0]) == 0.0
    assert slope([2.0, 2.0, 2.0, 2.0]) == 0.0
