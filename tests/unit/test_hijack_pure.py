"""The hijack scenario and its attacker without a lab: who may attack, the configs each
defence derives (AH with the cluster's key, check_unicast_src on unicast configs), and
the adverts the attacker sends (priority 255, the authentication it was given)."""

from __future__ import annotations

from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest

from lablb.config.load import load
from lablb.errors import UsageError
from lablb.lab.attacker import advert
from lablb.lab.registry import get
from lablb.scenario import get_scenario, parse_params
from lablb.vrrp.packet import AuthType
from tests.conftest import SEED

HOSTS = {"lb01": "balancer", "lb02": "balancer", "web01": "web", "mx01": "mail",
         "cl01": "client", "r1": "router"}  # fmt: skip


def params(*pairs: str) -> Any:
    return parse_params(get_scenario("hijack"), list(pairs))


@pytest.mark.parametrize("who", ["lb01", "cl01", "r1", "nobody"])
def test_the_attacker_is_a_server_lan_host(who: str) -> None:
    with pytest.raises(UsageError, match="attacker"):
        get_scenario("hijack").check(params(f"attacker={who}"), HOSTS)
    get_scenario("hijack").check(params("attacker=web01"), HOSTS)


def test_the_ah_defence_derives_ah_configs(tmp_path: Path) -> None:
    configs = get_scenario("hijack").configure(SEED, params("attack=ah"), tmp_path)
    for node in ("lb01", "lb02"):
        (inst,) = load(str(configs / f"{node}.conf")).vrrp_instances
        assert inst.authentication is not None and inst.authentication.auth_type == "AH"


def test_the_unicast_defence_adds_check_unicast_src(tmp_path: Path) -> None:
    unicast = get("unicast").source.parent / "configs" / "unicast"
    configs = get_scenario("hijack").configure(unicast, params("attack=unicast"), tmp_path)
    inst = load(str(configs / "lb01.conf")).vrrp_instances[0]
    assert inst.check_unicast_src and inst.unicast_peer


def test_the_other_attacks_run_the_configs_as_they_are(tmp_path: Path) -> None:
    for attack in ("password", "wrong-password", "nft"):
        assert get_scenario("hijack").configure(SEED, params(f"attack={attack}"), tmp_path) == SEED


def test_the_attacker_s_adverts() -> None:
    vips = [IPv4Address("172.30.0.22")]
    a = advert(51, 255, vips, 1.0, 2, "pass:1111")
    assert (a.priority, a.auth_type, a.auth_data, a.interval_cs) == (
        255,
        AuthType.PASS,
        b"1111",
        100,
    )
    assert advert(51, 255, vips, 1.0, 2, "ah:guess").auth_type is AuthType.AH
    assert advert(51, 255, vips, 0.01, 3, "none").interval_cs == 1
    with pytest.raises(KeyError):
        advert(51, 255, vips, 1.0, 2, "md5:x")
