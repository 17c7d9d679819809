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
from lablb.vrrp.fsm import AddVips, Garp, RemoveVips, Router, Send, State, Transition
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
        # The first result decides (keepalived's INIT), then rise/fall count.
        (2, 3, [True, False, False, False, True, True], [True, None, None, False, None, True]),
        (2, 3, [False, False, True, True], [False, None, None, True]),
        (2, 2, [True, False, True, False, False], [True, None, None, None, False]),
    ],
)
def test_rise_fall(rise: int, fall: int, results: list[bool], changes: list[bool | None]) -> None:
    rf = RiseFall(rise, fall)
    assert [rf.result(r) for r in results] == changes


def test_init_fail_starts_down_and_needs_rise_successes() -> None:
    rf = RiseFall(rise=2, fall=2, init_fail=True)
    assert rf.up is False
    assert [rf.result(r) for r in (True, True, False, False)] == [False, True, None, False]
    assert RiseFall(rise=1, init_fail=True).result(True) is True


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


def _master(engine: Engine) -> Engine:
    engine.start(0.0)
    engine.expire(10.0)
    assert engine.states() == {"VI_1": State.MASTER}
    return engine


def _with_vips(engine: Engine, *add: str) -> Engine:
    router = engine.routers["VI_1"]
    vips = (*router.params.vips, *(IPv4Address(a) for a in add))
    engine.routers["VI_1"] = Router(replace(router.params, vips=vips))
    return engine


def test_a_reload_retunes_a_master_without_a_failover() -> None:
    """A new priority: the master stays master and says so at once (no goodbye, no
    transition); the addresses are what they were."""
    old = _master(_engine())
    new = _engine(priority=150)
    out = adopt(old, new, 11.0)
    assert not [a for _, a in out if isinstance(a, Transition | RemoveVips | AddVips)]
    (send,) = [a for _, a in out if isinstance(a, Send)]
    assert send.advert.priority == 150 and new.states() == {"VI_1": State.MASTER}
    assert new.routers["VI_1"].deadline == 11.0 + new.routers["VI_1"].params.advert_int


def test_a_reload_adds_and_drops_only_the_changed_addresses() -> None:
    old = _master(_with_vips(_engine(), "10.9.9.1"))
    new = _with_vips(_engine(), "10.9.9.2")
    out = [a for _, a in adopt(old, new, 11.0)]
    assert RemoveVips((IPv4Address("10.9.9.1"),)) in out
    assert AddVips((IPv4Address("10.9.9.2"),)) in out
    assert Garp((IPv4Address("10.9.9.2"),), new.routers["VI_1"].params.garp_master_repeat) in out
    assert not [a for a in out if isinstance(a, Transition)]


def test_a_reload_restarts_what_became_another_router() -> None:
    old = _master(_engine())
    new = _engine()
    new.routers["VI_1"] = Router(replace(new.routers["VI_1"].params, vrid=77))
    out = adopt(old, new, 11.0)
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
    picked = engines_for(choice, ("lb01", "lb02"))
    assert {node: e.name for node, e in picked.items()} == expected
    assert all(str(e) == e.name for e in picked.values())


@pytest.mark.parametrize("bad", ["ipvs", "lb03=lablb", "lb01=bird"])
def test_bad_engine_choice_names_the_options(bad: str) -> None:
    with pytest.raises(LabError, match="lablb, keepalived, mixed"):
        engines_for(bad, ("lb01", "lb02"))
