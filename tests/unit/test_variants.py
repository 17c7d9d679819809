"""Scenario variants change the model, so they work on any config, not only on text
shaped like the seed's; ``derive`` renders them into a config set that loads."""

from __future__ import annotations

from pathlib import Path

from lablb.config.edit import checker_timings, no_garp, service_instance, with_sync_daemon
from lablb.config.load import load
from lablb.config.sets import derive
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
        first = (out / name).read_text().splitlines()[0]
        assert first.startswith("! ") and "with no GARP, lvs_sync_daemon (rendered" in first


CORPUS = Path(__file__).parent.parent / "corpus"


def test_lab_configs_add_nat_s_missing_gateway_and_stand_in_for_a_fwmark(tmp_path: Path) -> None:
    """The set as the lab runs it: an LVS-NAT file without a VIP on its real servers'
    LAN gets one (said, rendered, loadable); a fwmark service becomes VIP:port; a file
    that needs neither is the set itself."""
    from lablb.config.sets import lab_scripts

    for name in ("rw-lvs-nat-web", "rw-lvs-fwmark", "rw-lvs-tun"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "lb01.conf").write_text((CORPUS / f"{name}.conf").read_text())
    dest, said = lab_scripts(tmp_path / "rw-lvs-nat-web", tmp_path / "out-nat")
    assert dest == tmp_path / "out-nat" / "lab-configs"
    assert said == [
        "LVS-NAT: the real servers route through a gateway VIP; the file has none on "
        "their LAN, so the lab adds 192.168.10.254/24 dev eth1 on VI_1"
    ]
    vips = load(str(dest / "lb01.conf")).vrrp_instances[0].virtual_ipaddress
    assert [(str(a.interface), a.dev) for a in vips] == [
        ("10.0.0.100/24", None),
        ("192.168.10.254/24", "eth1"),
    ]
    dest, said = lab_scripts(tmp_path / "rw-lvs-fwmark", tmp_path / "out-fw")
    (vs,) = load(str(dest / "lb01.conf")).virtual_servers
    assert (vs.label, vs.real_servers[0].port) == ("10.0.0.100:80", 80)
    assert "serves it as 10.0.0.100 TCP port 80" in said[0]
    assert lab_scripts(tmp_path / "rw-lvs-tun", tmp_path / "out-tun") == (
        tmp_path / "rw-lvs-tun",
        [],
    )


def test_a_mark_on_two_ports_is_two_services_and_says_what_that_loses() -> None:
    from lablb.config.edit import fwmark_as_addresses

    text = (CORPUS / "rw-lvs-fwmark.conf").read_text()
    two = text.replace(
        "real_server 10.0.0.11 0 {\n        TCP_CHECK {\n            connect_port 80\n"
        "        }\n    }",
        "real_server 10.0.0.11 80 {\n    }\n    real_server 10.0.0.11 443 {\n    }",
    )
    assert two != text
    config, said = fwmark_as_addresses(parse_text(two).config)
    assert [v.label for v in config.virtual_servers] == ["10.0.0.100:80", "10.0.0.100:443"]
    # Direct Routing cannot change a port: each service has the server once, on its port.
    assert [[(str(r.address), r.port) for r in v.real_servers] for v in config.virtual_servers] == [
        [("10.0.0.11", 80)],
        [("10.0.0.11", 443)],
    ]
    assert "persistence per port here, not across them" in said[0]
