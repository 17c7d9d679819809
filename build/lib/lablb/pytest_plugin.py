"""lablb in a team's own pytest suite: a lab held up for a test module, so a test reads

    def test_failover(lab):
        assert lab.run("failover", fault="graceful").passed

Installed with lablb (the ``pytest11`` entry point ``lablb``); outside it, ``-p
lablb.pytest_plugin``. The options choose the lab: ``--lablb-topology`` (default
seed), ``--lablb-configs`` (a folder or a set's name; default the topology's own) and
``--lablb-engine`` (lablb or keepalived). Fixtures:

``lab``
    the lab, up for the module (``LiveLab.up``) and torn down after its last test;
    ``lab.run(scenario, trials=1, **params)`` runs a scenario's trials on it and returns
    a ``RunResult`` (``.passed``, ``.failures``, ``.path``: the run's folder with
    result.json and capture.pcap); ``lab.live`` is the ``LiveLab`` (faults, reloads).
``cluster``
    the lab's ``Cluster`` facade (who is master, addresses, timers).

Labs need root (network namespaces): as another user the fixtures skip, saying so. One
lab at a time: the module's lab is the only one while it is up. Importing this module is
light; Mininet loads when a fixture is first used.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from lablb.lab.cluster import Cluster
    from lablb.live import LiveLab
    from lablb.measure.result import RunResult


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("lablb", "lablb's failover lab")
    group.addoption("--lablb-topology", default="seed", help="the lab's topology (seed)")
    group.addoption("--lablb-configs", default=None,
                    help="a config folder or set's name (the topology's own)")  # fmt: skip
    group.addoption("--lablb-engine", default="lablb", choices=("lablb", "keepalived"),
                    help="the balancers' VRRP engine (lablb)")  # fmt: skip


class PytestLab:
    """What a test gets as ``lab``."""

    def __init__(self, live: LiveLab) -> None:
        self.live = live

    def run(self, scenario: str, trials: int = 1, **params: object) -> RunResult:
        """``trials`` trials of ``scenario`` (``params`` as ``--param``), judged."""
        return self.live.run(scenario, trials, None, **params)


@pytest.fixture(scope="module")
def lab(request: pytest.FixtureRequest) -> Iterator[PytestLab]:
    if os.geteuid() != 0:
        pytest.skip("lablb's labs need root (network namespaces)")
    from lablb.live import LiveLab

    config = request.config
    live = LiveLab.up(
        config.getoption("--lablb-topology"),
        config.getoption("--lablb-configs"),
        config.getoption("--lablb-engine"),
    )
    try:
        yield PytestLab(live)
    finally:
        live.down()


@pytest.fixture
def cluster(lab: PytestLab) -> Cluster:
    return lab.live.cluster
