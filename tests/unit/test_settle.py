"""``Cluster.settle`` without a lab: the master must hold the VIP alone for a backup's
master-down interval. A backup that took it once and gave it back is waited out; a
split brain that lasts is one LabError naming it."""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any, cast

import pytest

from lablb.errors import LabError
from lablb.lab import cluster as cluster_module
from lablb.lab.cluster import Cluster
from lablb.measure.bounds import Timing

VIP = IPv4Address("172.30.0.22")


@dataclass
class Instance:
    nopreempt: bool = False
    preempt_delay: float = 0.0


class Scripted(Cluster):
    """Two balancers at 10 ms adverts; each look at the VIP's holders is the next of
    ``seen`` (the last repeats)."""

    def __init__(self, seen: list[list[str]]) -> None:
        super().__init__(lab=cast(Any, None), entry=cast(Any, None), configs=Path("."),
                         nodes={}, web={}, mail=None)  # fmt: skip
        self.seen = seen
        self.looks = 0

    def members(self) -> list[str]:
        return ["lb01", "lb02"]

    def instance(self, node: str) -> Any:
        return Instance()

    def preferred(self) -> str:
        return "lb01"

    def timers(self, node: str, service_up: bool = True) -> Timing:
        return Timing(master_down=0.036, skew=0.006, advert_int=0.01)

    def cluster_vip(self) -> IPv4Address:
        return VIP

    def holders(self, vip: IPv4Address) -> list[str]:
        self.looks += 1
        return self.seen.pop(0) if len(self.seen) > 1 else self.seen[0]

    def wait_started(self, timeout: float) -> None:
        pass


def test_a_master_alone_for_a_master_down_interval_is_settled() -> None:
    c = Scripted([["lb01"]])
    assert c.settle() == "lb01" and c.looks == 2  # wait_master's look, then the check


def test_a_backup_that_took_the_vip_once_is_waited_out() -> None:
    # wait_master sees lb01 alone; the check after master_down sees both; then lb01
    # alone again, and alone after another master-down interval.
    c = Scripted([["lb01"], ["lb01", "lb02"], ["lb01"]])
    assert c.settle(timeout=2.0) == "lb01" and c.looks == 4


def test_a_split_brain_that_lasts_is_one_error_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cluster_module, "SETTLE_POLL_S", 0.01)
    c = Scripted([["lb01"], ["lb01", "lb02"]])
    with pytest.raises(LabError) as err:
        c.settle(timeout=0.5)
    assert str(err.value) == (
        "172.30.0.22 held by ['lb01', 'lb02'], not by lb01 alone, 0.036 s (a backup's"
        " master-down interval) after lb01 took it: a backup does not hear the master's"
        " adverts"
    )
