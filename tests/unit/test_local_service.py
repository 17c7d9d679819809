"""What a VRRP-only config's tracked script watches (``lablb.config.local_service``),
and what its weight makes of the priorities (keepalived.conf(5), track_script)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lablb.config import model as m
from lablb.config.local_service import (
    implied_process,
    lab_check,
    read_check,
    stand_in_scripts,
    tracked_weight,
    watched_service,
)
from lablb.config.sets import lab_scripts
from tests.conftest import parse_text


@pytest.mark.parametrize(
    ("command", "process", "port"),
    [
        ("/usr/bin/killall -0 haproxy", "haproxy", None),
        ("killall -s 0 nginx", "nginx", None),
        ("pidof nginx", "nginx", None),
        ("/usr/bin/pgrep -x mysqld", "mysqld", None),
        ("pgrep kube-apiserver-long-name", "kube-apiserver-", None),  # comm: 15 characters
        ("curl -sfk https://localhost:6443/healthz", None, 6443),
        ("curl -f http://127.0.0.1/health", None, 80),
        ("/bin/sh -c 'killall -0 haproxy'", "haproxy", None),
        ("nc -z 127.0.0.1 3306", None, 3306),
        ("/bin/bash -c 'exec 3<>/dev/tcp/127.0.0.1/6443' kube-apiserver", "kube-apiserver", 6443),
        ("/etc/keepalived/check_haproxy.sh", None, None),
        ("systemctl is-active haproxy", None, None),
        ("curl -f http://10.0.0.5/health", None, None),  # not local: nothing to stand in
        ("unbalanced 'quote", None, None),
    ],
)
def test_a_check_command_names_what_it_watches(
    command: str, process: str | None, port: int | None
) -> None:
    assert read_check(command) == (process, port)


CONF = """
vrrp_script chk_other {{
    script "/etc/keepalived/check.sh"
}}
vrrp_script chk {{
    script "{command}"
    interval 2
    weight {weight}
}}
vrrp_instance VI_1 {{
    interface eth0
    virtual_router_id 51
    priority 100
    virtual_ipaddress {{
        10.0.0.100/24
    }}
    track_script {{
        chk_other
        chk {override}
    }}
}}
"""


def config(command: str, weight: int = -2, override: str = "") -> m.KeepalivedConfig:
    return parse_text(CONF.format(command=command, weight=weight, override=override)).config


def test_the_first_tracked_script_that_names_a_service_is_the_one() -> None:
    c = config("curl -sf http://localhost:6443/healthz")
    w = watched_service(c, c.vrrp_instances[0])
    assert w is not None
    assert (w.script, w.process, w.port) == ("chk", "kube-apiserver", 6443)
    c = config("killall -0 redis-server")
    w = watched_service(c, c.vrrp_instances[0])
    assert w is not None and (w.process, w.port) == ("redis-server", 6379)
    assert "its usual" in w.how
    c = config("/etc/keepalived/check_haproxy.sh")
    assert watched_service(c, c.vrrp_instances[0]) is None


@pytest.mark.parametrize(
    ("weight", "override", "up", "down"),
    [
        (-2, "", 100, 98),  # negative: subtracted while failing
        (10, "", 110, 100),  # positive: added while passing
        (-2, "weight -60", 100, 40),  # the entry's own weight wins
        (0, "", 100, 100),  # 0: FAULT, the priority does not move
        (200, "", 254, 100),  # never above 254
        (-200, "", 100, 1),  # never below 1
    ],
)
def test_weights_move_the_priority_as_keepalived_does(
    weight: int, override: str, up: int, down: int
) -> None:
    c = config("killall -0 haproxy", weight, override)
    tw = tracked_weight(c, c.vrrp_instances[0], "chk")
    assert (tw.priority(100, True), tw.priority(100, False)) == (up, down)
    assert tw.priority(255, False) == 255  # the address owner is never moved


def test_a_tracked_script_not_on_this_machine_is_stood_in_for_by_its_service() -> None:
    c = config("/etc/keepalived/check_haproxy.sh")
    new, done = stand_in_scripts(c, found=lambda program: program.startswith("/usr/bin/"))
    by_name = {s.script: s for s in done}
    # check_haproxy.sh: haproxy, checked on the node's loopback; check.sh names no service.
    assert by_name["chk"].command == lab_check("haproxy") == (
        "/bin/bash -c 'exec 3<>/dev/tcp/127.0.0.1/80' haproxy"
    )
    assert "check_haproxy.sh is not on this machine; its name implies haproxy" in str(
        by_name["chk"]
    )
    assert by_name["chk_other"].command is None
    assert "disabled, as keepalived disables it" in str(by_name["chk_other"])
    scripts = {s.name: s.script.command for s in new.vrrp_scripts if s.script}
    assert scripts == {"chk_other": "/etc/keepalived/check.sh", "chk": lab_check("haproxy")}
    # The lab's own check reads back as the service it checks.
    w = watched_service(new, new.vrrp_instances[0])
    assert w is not None and (w.process, w.port) == ("haproxy", 80)


def test_a_process_search_checks_the_nodes_own_service_in_the_lab() -> None:
    """Mininet's hosts share one process table: lb01's killall would find lb02's."""
    for command in ("/usr/bin/killall -0 nginx", "/bin/sh -c 'pidof nginx'"):
        _, done = stand_in_scripts(config(command), found=lambda program: True)
        (stood,) = done
        assert stood.command == lab_check("nginx") and "share one process table" in stood.why
    # A check of a local port is the node's own already (each host has its own network).
    c = config("curl -sf http://localhost:6443/healthz")
    assert stand_in_scripts(c, found=lambda program: True) == (c, [])


@pytest.mark.parametrize(
    ("names", "process"),
    [
        (("/etc/keepalived/check_apiserver.sh", "chk_k8s"), "kube-apiserver"),
        (("/usr/local/bin/health", "chk_mysql"), "mysqld"),
        (("/opt/check-nginx.sh", "x"), "nginx"),
        (("/opt/check.sh", "vrrp_chk"), None),
    ],
)
def test_a_scripts_names_imply_its_service(names: tuple[str, str], process: str | None) -> None:
    assert implied_process(*names) == process


def test_the_lab_runs_its_checks_in_a_set_of_its_own(tmp_path: Path) -> None:
    given = tmp_path / "given"
    given.mkdir()
    (given / "lb01.conf").write_text(CONF.format(command="/usr/bin/killall -0 haproxy",
                                                 weight=-2, override=""))  # fmt: skip
    (given / "lb02.conf").write_text(CONF.format(command="/bin/true", weight=-2, override=""))
    dest, said = lab_scripts(given, tmp_path)
    assert dest == tmp_path / "lab-configs"
    assert len(said) == 2  # lb01's killall; check.sh (on both: said once)
    assert lab_check("haproxy") in (dest / "lb01.conf").read_text()
    assert (dest / "lb02.conf").read_text().endswith(f"include {given / 'lb02.conf'}\n")
    # A set whose scripts all run as written is run as it is.
    (given / "lb01.conf").write_text(CONF.format(command="/bin/true", weight=-2, override=""))
    assert lab_scripts(given, tmp_path / "again")[0] == given


def test_the_vrrp_engine_disables_a_script_whose_program_is_missing_as_keepalived_does() -> None:
    """keepalived 2.2.7 at start: "Disabling track script chk since not found/accessible"
    (measured); its instance runs as if it did not track it. lablb's engine the same."""
    from lablb.vrrp import scripts

    missing = config("/nonexistent/check_haproxy.sh")
    assert [s.name for s in scripts.disabled(missing)] == ["chk_other", "chk"]
    assert scripts.trackers(missing) == []
    present = config("/bin/true")
    assert [t.script.name for t in scripts.trackers(present)] == ["chk"]


def test_an_https_check_gets_a_stand_in_that_speaks_tls() -> None:
    c = config("/usr/bin/curl -sfk https://localhost:6443/healthz")
    w = watched_service(c, c.vrrp_instances[0])
    assert w is not None and w.tls and (w.process, w.port) == ("kube-apiserver", 6443)
    c = config("curl -sf http://127.0.0.1:8080/health")
    w = watched_service(c, c.vrrp_instances[0])
    assert w is not None and not w.tls and w.port == 8080


def test_a_misc_check_whose_program_is_missing_is_disabled_as_keepalived_does() -> None:
    from lablb.checker.daemon import misc_found

    assert misc_found("/bin/true 10.0.0.11")
    assert not misc_found("/etc/keepalived/check_mysql.sh 10.0.0.11")
    assert not misc_found("")
