"""Two or three VRRP engines on an in-memory LAN with a fake clock: election, failover,
pre-emption, nopreempt and sync groups, deterministically and instantly. The engines
read the same corrected keepalived.conf files the lab uses."""

from __future__ import annotations

from dataclasses import replace
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from lablb.config.load import load
from lablb.config.model import KeepalivedConfig, SyncGroup
from lablb.vrrp.engine import Engine
from lablb.vrrp.fsm import State
from lablb.vrrp.sim import Lan
from lablb.vrrp.timers import master_down_interval, skew_time
from tests.conftest import SEED

IPS = {"lb01": IPv4Address("172.30.0.20"), "lb02": IPv4Address("172.30.0.21")}
VIP = IPv4Address("172.30.0.22")


def conf(node: str) -> KeepalivedConfig:
    return load(str(Path(SEED) / f"{node}.conf"))


def lan_with(*nodes: str, edit: dict[str, KeepalivedConfig] | None = None) -> Lan:
    lan = Lan()
    for node in nodes:
        cfg = (edit or {}).get(node) or conf(node)
        lan.add(node, Engine.from_config(cfg, {"eth0": IPS[node]}), IPS[node])
    return lan


def instance_params(node: str) -> tuple[int, float, int]:
    inst = conf(node).vrrp_instances[0]
    return inst.priority, inst.advert_int, conf(node).version_of(inst)


def test_one_master_is_elected_and_holds_the_vips() -> None:
    lan = lan_with("lb01", "lb02")
    lan.run(10.0)
    assert lan.masters("VI_1") == ["lb01"]
    assert lan.holders(VIP) == ["lb01"]
    assert lan.state("lb02", "VI_1") is State.BACKUP


def test_crash_of_master_fails_over_after_master_down_interval() -> None:
    lan = lan_with("lb01", "lb02")
    lan.run(10.0)
    last_advert = max(t for t, node, a in lan.sent if node == "lb01")
    lan.crash("lb01")
    lan.run(20.0)
    change = next(c for c in lan.log if c.node == "lb02" and c.new is State.MASTER)
    prio, adv, version = instance_params("lb02")
    expected = last_advert + lan.latency + master_down_interval(prio, adv, version)
    assert change.time == pytest.approx(expected)
    assert change.reason == "master down timer expired"
    assert lan.holders(VIP) == ["lb02"]


def test_graceful_stop_fails_over_after_skew_time() -> None:
    lan = lan_with("lb01", "lb02")
    lan.run(10.0)
    lan.stop("lb01")
    lan.run(20.0)
    change = next(c for c in lan.log if c.node == "lb02" and c.new is State.MASTER)
    prio, adv, version = instance_params("lb02")
    assert change.time == pytest.approx(10.0 + lan.latency + skew_time(prio, adv, version))


def test_restarted_higher_priority_node_preempts() -> None:
    lan = lan_with("lb01", "lb02")
    lan.run(10.0)
    lan.crash("lb01")
    lan.run(20.0)
    lan.add("lb01", Engine.from_config(conf("lb01"), {"eth0": IPS["lb01"]}), IPS["lb01"])
    lan.run(30.0)
    assert lan.masters("VI_1") == ["lb01"]
    back = [c for c in lan.log if c.time > 20.0 and c.new is State.MASTER]
    prio, adv, version = instance_params("lb01")
    assert back[0].time == pytest.approx(20.0 + master_down_interval(prio, adv, version))


def test_nopreempt_keeps_the_current_master() -> None:
    edits = {}
    for node in ("lb01", "lb02"):
        cfg = conf(node)
        inst = replace(cfg.vrrp_instances[0], state="BACKUP", nopreempt=True)
        edits[node] = replace(cfg, vrrp_instances=(inst,))
    lan = lan_with("lb01", "lb02", edit=edits)
    lan.run(10.0)
    assert lan.masters("VI_1") == ["lb01"]
    lan.crash("lb01")
    lan.run(20.0)
    lan.add("lb01", Engine.from_config(edits["lb01"], {"eth0": IPS["lb01"]}), IPS["lb01"])
    lan.run(60.0)
    assert lan.masters("VI_1") == ["lb02"]


def test_three_nodes_and_an_equal_priority_tie() -> None:
    """Three routers: the tie between two equal priorities goes to the higher address."""
    IPS["lb03"] = IPv4Address("172.30.0.26")
    try:
        cfg = conf("lb02")
        lan = lan_with("lb01", "lb02", "lb03", edit={"lb03": cfg})
        lan.run(10.0)
        assert lan.masters("VI_1") == ["lb01"]
        lan.crash("lb01")
        lan.run(20.0)
        assert lan.masters("VI_1") == ["lb03"]  # 172.30.0.26 > 172.30.0.21
        assert lan.holders(VIP) == ["lb03"]
    finally:
        del IPS["lb03"]


def test_interface_down_is_a_fault_and_the_backup_takes_over_after_skew() -> None:
    lan = lan_with("lb01", "lb02")
    lan.run(10.0)
    lan.link("lb01", up=False)
    lan.run(15.0)
    assert lan.state("lb01", "VI_1") is State.FAULT
    assert lan.masters("VI_1") == ["lb02"]
    lan.link("lb01", up=True)
    lan.run(25.0)
    assert lan.masters("VI_1") == ["lb01"]


def test_sync_group_members_follow_each_other() -> None:
    cfg = conf("lb01")
    inst = cfg.vrrp_instances[0]
    second = replace(
        inst, name="VI_2", virtual_router_id=52, virtual_ipaddress=inst.virtual_ipaddress[:1]
    )
    grouped = replace(
        cfg, vrrp_instances=(inst, second), vrrp_sync_groups=(SyncGroup("G1", ("VI_1", "VI_2")),)
    )
    engine = Engine.from_config(grouped, {"eth0": IPS["lb01"]})
    lan = Lan()
    lan.add("lb01", engine, IPS["lb01"])
    lan.run(10.0)
    assert engine.states() == {"VI_1": State.MASTER, "VI_2": State.MASTER}
    lan._apply("lb01", engine.track(10.0, "VI_1", "chk", up=False, weight=None))
    assert engine.states() == {"VI_1": State.FAULT, "VI_2": State.FAULT}
    reasons = [c.reason for c in lan.log if c.instance == "VI_2" and c.new is State.FAULT]
    assert reasons == ["sync group G1: VI_1 went FAULT"]
