"""What lablb's lab cannot run is refused with the place and the reason, though
lablb check accepts it (keepalived would run it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lablb.config.load import load, load_lenient
from lablb.config.runnable import refusals, require_runnable
from lablb.errors import ConfigError
from lablb.lab.derived import load_set
from tests import corpus
from tests.conftest import SEED, parse_text
from tests.conftest import run_lablb as run

C = corpus.CORPUS


@pytest.mark.parametrize(
    ("name", "what", "line"),
    [
        ("ipv6-unicast.conf", "IPv6 unicast address 2001:db8::1", 9),
        ("lvs-group.conf", "virtual_server group web", 16),
        ("lvs-fwmark.conf", "virtual_server fwmark 1", 12),  # by hand: no mark rule
        ("lvs-bfd-check.conf", "BFD_CHECK", 26),
        ("lvs-ipv6.conf", "virtual_server 2001:db8::100:80 (IPv6)", 13),
    ],
)
def test_what_the_lab_cannot_run(name: str, what: str, line: int) -> None:
    config = load(str(C / name), config_id=corpus.CONFIG_ID)
    with pytest.raises(ConfigError) as caught:
        require_runnable(config)
    err = caught.value
    assert what in str(err) and "lablb check accepts it" in str(err)
    assert (err.file, err.line) == (str(C / name), line)


@pytest.mark.parametrize(
    "name",
    [
        "instance-minimal.conf",
        "lvs-tcp-check.conf",
        "lvs-http-get.conf",
        "lvs-ping-check.conf",
        "lvs-udp-payload.conf",
        "lvs-smtp-check.conf",
        "lvs-dns-check.conf",
        "lvs-file-check.conf",
        "ipv6-instance.conf",
        "ipv6-v2.conf",
        "ipv6-excluded-mixed.conf",
        "static-all.conf",
    ],
)
def test_what_it_runs(name: str) -> None:
    assert refusals(load(str(C / name), config_id=corpus.CONFIG_ID)) == []


def test_the_lab_runs_a_fwmark_service_as_vip_port() -> None:
    config = load(str(C / "lvs-fwmark.conf"), config_id=corpus.CONFIG_ID)
    assert refusals(config, lab=True) == []  # as VIP:80, the port its real server gives


def test_only_the_part_a_daemon_runs_is_judged() -> None:
    config = load(str(C / "lvs-dns-check.conf"), config_id=corpus.CONFIG_ID)
    assert refusals(config, lvs=False) == []  # lablb daemon -P runs the VRRP part only


def test_a_config_set_the_lab_cannot_run_is_refused_before_a_lab(tmp_path: Path) -> None:
    for node in ("lb01", "lb02"):
        (tmp_path / f"{node}.conf").write_text((SEED / f"{node}.conf").read_text())
    assert set(load_set(tmp_path)) == {"lb01", "lb02"}
    (tmp_path / "lb02.conf").write_text((C / "ipv6-unicast.conf").read_text())
    with pytest.raises(ConfigError, match="IPv6"):
        load_set(tmp_path)
    res = run("run", "failover", "--configs", str(tmp_path))
    assert res.returncode == 3 and "IPv6" in res.stderr and "Traceback" not in res.stderr


def test_strict_mode_without_accept_is_refused_by_the_lab_not_the_daemon() -> None:
    """keepalived in strict mode drops every packet to the VIPs unless ``accept`` (seen
    in the lab: its master answered no probe): nothing a lab could measure."""
    from lablb.config.runnable import refusals

    body = (
        "vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 51\n{extra}"
        " virtual_ipaddress {{\n  10.0.0.100/24\n }}\n}}\n"
    )
    strict = parse_text("global_defs {\n vrrp_strict\n}\n" + body.format(extra="")).config
    assert any("strict mode without accept" in w for _, w in refusals(strict, lab=True))
    assert refusals(strict) == []  # lablb's daemon runs it, as keepalived does
    accepted = parse_text("global_defs {\n vrrp_strict\n}\n" + body.format(extra=" accept\n"))
    assert refusals(accepted.config, lab=True) == []
    own = parse_text(body.format(extra=" strict_mode\n")).config
    assert refusals(own, lab=True) != []
    off = parse_text("global_defs {\n vrrp_strict\n}\n" + body.format(extra=" strict_mode off\n"))
    assert refusals(off.config, lab=True) == []


def test_a_fwmark_service_with_no_port_to_stand_for_is_refused(tmp_path: Path) -> None:
    """The mark rule is not in the file; the lab stands VIP:port in for it when the
    real servers or their checks give a port, and refuses it (in one line) when not."""
    conf = tmp_path / "k.conf"
    text = (C / "lvs-fwmark.conf").read_text()
    conf.write_text(text.replace("real_server 10.0.0.11 80", "real_server 10.0.0.11 0")
                    .replace("connect_port 80", "connect_timeout 3"))  # fmt: skip
    with pytest.raises(ConfigError) as caught:
        require_runnable(load(str(conf)), lab=True)
    assert "virtual_server fwmark 1 without a port or VIP to mark" in str(caught.value)
    assert caught.value.line == 12


def test_nat_to_real_servers_on_two_ports_is_refused_in_one_line(tmp_path: Path) -> None:
    """The forwarder reads LVS-NAT's replies by one source port per service: a NAT
    service whose real servers listen on two ports is refused before any lab, naming
    its line, not left to fail in the balancer."""
    conf = tmp_path / "k.conf"
    text = (Path(__file__).parent.parent / "corpus" / "rw-lvs-nat-web.conf").read_text()
    conf.write_text(text.replace("real_server 192.168.10.12 80", "real_server 192.168.10.12 8080"))
    with pytest.raises(ConfigError) as caught:
        require_runnable(load_lenient(str(conf)))
    assert "LVS-NAT to real servers on ports 80, 8080" in str(caught.value)
    assert caught.value.line == 12
    require_runnable(
        load_lenient(str(Path(__file__).parent.parent / "corpus" / "rw-lvs-nat-web.conf"))
    )
