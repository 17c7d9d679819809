"""Pure helpers around the VRRP engine: GARP frames (checked with scapy), rise/fall,
reload adoption, the lab's engine choice, and the probe's outage maths."""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Address

import pytest
from scapy.layers.l2 import ARP, Ether

from lablb.config.load import load
from lablb.errors import LabError
from lablb.lab.balancer import engines_for
from lablb.vrrp.engine import Engine, adopt
from lablb.vrrp.fsm import State, Transition
from lablb.vrrp.garp import garp_frame, mac_bytes
from lablb.vrrp.track import RiseFall
from tests.conftest import SEED

IP = IPv4Address("172.30.0.20")


def test_garp_frame_decodes_in_scapy_as_a_gratuitous_request() -> None:
    frame = Ether(garp_frame("02:00:00:00:00:01", IPv4Address("172.30.0.22")))
    assert frame.dst == "ff:ff:ff:ff:ff:ff" and frame.src == "02:00:00:00:00:01"
    arp = frame[ARP]
    assert (arp.op, arp.psrc, arp.pdst, arp.hwsrc) == (
        1,
        "172.30.0.22",
        "172.30.0.22",
        "02:00:00:00:00:01",
    )


@pytest.mark.parametrize("bad", ["", "02:00:00:00:00", "zz:00:00:00:00:00"])
def test_bad_mac_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        mac_bytes(bad)


@pytest.mark.parametrize(
    ("rise", "fall", "results", "changes"),
    [
        (1, 1, [False, True], [False, True]),
        (2, 3, [False, False, False, True, True], [None, None, False, None, True]),
        (2, 2, [False, True, False, False], [None, None, None, False]),
    ],
)
def test_rise_fall(rise: int, fall: int, results: list[bool], changes: list[bool | None]) -> None:
    rf = RiseFall(rise, fall)
    assert [rf.result(r) for r in results] == changes


def _engine(priority: int = 100) -> Engine:
    cfg = load(str(SEED / "lb01.conf"))
    inst = replace(cfg.vrrp_instances[0], priority=priority)
    return Engine.from_config(replace(cfg, vrrp_instances=(inst,)), {"eth0": IP})


def test_reload_keeps_an_unchanged_master() -> None:
    old = _engine()
    old.start(0.0)
    old.expire(10.0)
    assert old.states() == {"VI_1": State.MASTER}
    new = _engine()
    out = adopt(old, new, 11.0)
    assert out == [] and new.states() == {"VI_1": State.MASTER}


def test_reload_restarts_a_changed_instance() -> None:
    old = _engine()
    old.start(0.0)
    old.expire(10.0)
    out = adopt(old, _engine(priority=150), 11.0)
    moves = [(a.old, a.new) for _, a in out if isinstance(a, Transition)]
    assert moves == [(State.MASTER, State.INITIALIZE), (State.INITIALIZE, State.BACKUP)]


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("lablb", {"lb01": "lablb", "lb02": "lablb"}),
        ("keepalived", {"lb01": "keepalived", "lb02": "keepalived"}),
        ("mixed", {"lb01": "lablb", "lb02": "keepalived"}),
        ("lb01=keepalived,lb02=lablb", {"lb01": "keepalived", "lb02": "lablb"}),
    ],
)
def test_engine_choice(choice: str, expected: dict[str, str]) -> None:
    assert engines_for(choice, ("lb01", "lb02")) == expected


@pytest.mark.parametrize("bad", ["ipvs", "lb03=lablb", "lb01=bird"])
def test_bad_engine_choice_names_the_options(bad: str) -> None:
    with pytest.raises(LabError, match="lablb, keepalived, mixed"):
        engines_for(bad, ("lb01", "lb02"))
