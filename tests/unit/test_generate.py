"""Generated config sets (``lablb topo make``): model edits of the seed pair that render
to files lablb loads, and that imply the topology they are named for."""

from __future__ import annotations

from ipaddress import IPv4Address
from pathlib import Path

import pytest

from lablb.config import generate
from lablb.config.files import MemoryReader
from lablb.config.load import load, parse
from lablb.config.model import KeepalivedConfig
from lablb.config.render import render
from lablb.lab.plan import derive_plan
from tests.conftest import REPO

TEMPLATE = REPO / "topologies" / "configs" / "seed-v3-100ms"


def pair() -> dict[str, KeepalivedConfig]:
    return {n: load(str(TEMPLATE / f"{n}.conf")) for n in ("lb01", "lb02")}


def rendered(configs: dict[str, KeepalivedConfig]) -> dict[str, KeepalivedConfig]:
    out = {}
    for name, config in configs.items():
        parsed = parse(f"/g/{name}.conf", MemoryReader({f"/g/{name}.conf": render(config)}))
        assert not parsed.errors, parsed.errors
        out[name] = parsed.config
    return out


def test_webfarm_puts_n_web_nodes_behind_the_pair() -> None:
    plan = derive_plan(rendered(generate.webfarm(pair(), 16)))
    webs = plan.of_role("web")
    assert len(webs) == 16 and webs[0].links[0].address.ip == IPv4Address("172.30.0.101")
    assert plan.balancers == ("lb01", "lb02")


def test_multi_pair_gives_each_pair_its_vrid_and_vip() -> None:
    configs = rendered(generate.multi_pair(pair(), 8))
    assert sorted(configs) == [f"lb{i:02d}" for i in range(1, 17)]
    vrids = [configs[f"lb{i:02d}"].vrrp_instances[0].virtual_router_id for i in range(1, 17)]
    assert vrids == [51 + i // 2 for i in range(16)]
    assert list(configs["lb03"].vrrp_instances[0].vips) == [IPv4Address("172.30.0.61")]
    assert not configs["lb03"].virtual_servers  # VRRP only beyond the first pair
    assert len(derive_plan(configs).balancers) == 16


def test_unicast_names_each_balancer_and_its_peer() -> None:
    configs = rendered(generate.unicast(pair()))
    a, b = configs["lb01"].vrrp_instances[0], configs["lb02"].vrrp_instances[0]
    assert (a.unicast_src_ip, a.unicast_peer) == (
        IPv4Address("172.30.0.20"),
        (IPv4Address("172.30.0.21"),),
    )
    assert (b.unicast_src_ip, b.unicast_peer) == (
        IPv4Address("172.30.0.21"),
        (IPv4Address("172.30.0.20"),),
    )
    plan = derive_plan(configs)
    assert plan.host("lb02").links[0].address.ip == IPv4Address("172.30.0.21")


def test_active_active_swaps_the_second_instances_priorities() -> None:
    configs = rendered(generate.active_active(pair()))
    prio = {n: [i.priority for i in c.vrrp_instances] for n, c in configs.items()}
    assert prio == {"lb01": [100, 99], "lb02": [99, 100]}
    services = {vs.address for vs in configs["lb01"].virtual_servers}
    assert services == {IPv4Address("172.16.55.100"), IPv4Address("172.16.55.101")}


@pytest.mark.parametrize(
    ("make", "n"), [(generate.webfarm, 1), (generate.webfarm, 65), (generate.multi_pair, 17)]
)
def test_sizes_outside_the_range_are_refused(make: object, n: int) -> None:
    with pytest.raises(ValueError):
        make(pair(), n)  # type: ignore[operator]


@pytest.mark.parametrize(
    ("kind", "n"), [("webfarm", 16), ("multi-pair", 8), ("unicast", 2), ("active-active", 2)]
)
def test_the_committed_sets_are_what_topo_make_writes(kind: str, n: int, tmp_path: Path) -> None:
    from lablb.cli import main

    assert main(["topo", "make", kind, str(n), str(tmp_path)]) == 0
    committed = REPO / "topologies" / "configs" / kind
    assert sorted(p.name for p in committed.glob("*.conf")) == sorted(
        p.name for p in tmp_path.glob("*.conf")
    )
    for made in tmp_path.glob("*.conf"):
        assert (committed / made.name).read_text() == made.read_text(), made.name


def test_each_generated_topology_is_listed_with_its_set() -> None:
    from lablb.lab.registry import all_topologies

    topos = all_topologies()
    for kind in ("webfarm", "multi-pair", "unicast", "active-active"):
        entry = topos[kind]
        assert entry.config_dir().name == kind and entry.balancers
