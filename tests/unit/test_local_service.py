"""What a VRRP-only config's tracked script watches (``lablb.config.local_service``),
and what its weight makes of the priorities (keepalived.conf(5), track_script)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lablb.config import model as m
from lablb.config.local_service import (
    implied_process,
    read_check,
    stand_in_scripts,
    tracked_weight,
    watched_service,
)
from lablb.config.pair import write_pair
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
    # check_haproxy.sh: haproxy, checked as the lab can; check.sh names no service.
    assert by_name["chk"].command == "/usr/bin/killall -0 haproxy"
    assert by_name["chk_other"].command is None and "disabled, as keepalived" in str(
        by_name["chk_other"]
    )
    scripts = {s.name: s.script.command for s in new.vrrp_scripts if s.script}
    assert scripts == {
        "chk_other": "/etc/keepalived/check.sh",
        "chk": "/usr/bin/killall -0 haproxy",
    }
    w = watched_service(new, new.vrrp_instances[0])
    assert w is not None and (w.process, w.port) == ("haproxy", 80)
    # Found programs, and scripts nobody tracks, are left as written.
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


def test_a_pair_with_a_missing_script_runs_the_stand_in_on_both_nodes(tmp_path: Path) -> None:
    conf = tmp_path / "keepalived.conf"
    conf.write_text(CONF.format(command="/etc/keepalived/check_haproxy.sh", weight=-2,
                                override=""))  # fmt: skip
    dest, said = write_pair(conf, None, tmp_path / "given")
    stood = [d for d in said if d.stand_in]
    assert len(stood) == 2 and any("killall -0 haproxy" in str(d) for d in stood)
    for node in ("lb01", "lb02"):
        text = (dest / f"{node}.conf").read_text()
        assert 'script "/usr/bin/killall -0 haproxy"' in text, node
    assert "check_haproxy.sh is not on this machine" in (dest / "DERIVED.txt").read_text()


def test_the_vrrp_engine_disables_a_script_whose_program_is_missing_as_keepalived_does() -> None:
    """keepalived 2.2.7 at start: "Disabling track script chk since not found/accessible"
    (measured); its instance runs as if it did not track it. lablb's engine the same."""
    from lablb.vrrp import scripts

    missing = config("/nonexistent/check_haproxy.sh")
    assert [s.name for s in scripts.disabled(missing)] == ["chk_other", "chk"]
    assert scripts.trackers(missing) == []
    present = config("/bin/true")
    assert [t.script.name for t in scripts.trackers(present)] == ["chk"]
