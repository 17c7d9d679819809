"""Scenario variants change the model, so they work on any config, not only on text
shaped like the seed's; ``derive`` renders them into a config set that loads."""

from __future__ import annotations

from pathlib import Path

from lablb.config.edit import checker_timings, no_garp, service_instance, with_sync_daemon
from lablb.config.files import derive
from lablb.config.load import load
from tests.conftest import SEED, parse_text
from tests.unit.test_render import RICH


def test_checker_timings_reach_every_checker_whatever_the_text_said() -> None:
    config = checker_timings(2.0, 1.0, 1, 1.0)(parse_text(RICH).config)
    checkers = [c for vs in config.virtual_servers for rs in vs.real_servers for c in rs.checkers]
    assert len(checkers) == 6  # HTTP_GET, TCP_CHECK, MISC_CHECK, UDP_CHECK x2, PING_CHECK
    assert {(c.delay_loop, c.connect_timeout, c.retry, c.delay_before_retry) for c in checkers} == {
        (2.0, 1.0, 1, 1.0)
    }


def test_no_garp_silences_global_and_per_instance_settings() -> None:
    config = no_garp(parse_text(RICH).config)
    assert config.global_defs.vrrp_garp_master_repeat == 0
    assert config.global_defs.vrrp_garp_master_delay == 0.0
    assert all(i.garp_master_delay is None for i in config.vrrp_instances)


def test_sync_daemon_goes_on_the_service_instances_interface() -> None:
    text = """
    vrrp_instance OTHER {
        interface eth1
        virtual_router_id 9
        virtual_ipaddress {
            10.9.9.9/24
        }
    }
    vrrp_instance SVC {
        interface ens3
        virtual_router_id 10
        virtual_ipaddress {
            192.168.7.10/24
        }
    }
    virtual_server 192.168.7.10 443 {
        real_server 192.168.7.21 443 {
            TCP_CHECK {
            }
        }
    }
    """
    config = parse_text(text).config
    inst = service_instance(config)
    assert inst is not None and inst.name == "SVC"
    sync = with_sync_daemon(config).global_defs.lvs_sync_daemon
    assert sync is not None and (sync.interface, sync.instance) == ("ens3", "SVC")


def test_derive_writes_a_set_that_loads_with_the_variant_applied(tmp_path: Path) -> None:
    out = derive(SEED, tmp_path, no_garp, with_sync_daemon)
    for name in ("lb01.conf", "lb02.conf"):
        config = load(str(out / name))
        assert config.global_defs.vrrp_garp_master_repeat == 0
        assert config.global_defs.lvs_sync_daemon is not None
        assert config.global_defs.lvs_sync_daemon.instance == "VI_1"
        assert (out / name).read_text().startswith("! ")
