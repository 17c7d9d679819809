"""One keepalived.conf, as a network team has it: the master's, written years ago, with
keywords keepalived ignores (a misspelt ``lvs_sync_daemon_inteface``, ``nat_mask``), an
``auth_pass`` keepalived truncates to 8 characters and 1.x-era names (``lb_algo``,
``nb_get_retry``). ``lablb run failover --config FILE`` derives the peer, runs what
keepalived would run, says what it ignored, and judges the failover by the file's own
timers, for lablb's engine and for keepalived's."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from lablb.vrrp.timers import master_down_interval
from tests.conftest import run_lablb

RUN_TIMEOUT = 300

OLD = """\
! Configuration File for keepalived (2014, never cleaned up)
global_defs {
   notification_email {
     sysadmin@example.org
   }
   notification_email_from lvs@example.org
   smtp_server 10.20.0.25
   smtp_connect_timeout 30
   router_id LVS_DEVEL
   lvs_sync_daemon_inteface eth0
}

vrrp_instance VI_1 {
    state MASTER
    interface eth0
    lvs_sync_daemon_inteface eth0
    virtual_router_id 51
    priority 100
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass verylongpassword
    }
    virtual_ipaddress {
        10.20.0.200/24
    }
}

virtual_server 10.20.0.200 80 {
    delay_loop 6
    lb_algo rr
    lb_kind DR
    nat_mask 255.255.255.0
    persistence_timeout 50
    protocol TCP

    real_server 10.20.0.31 80 {
        weight 1
        TCP_CHECK {
            connect_timeout 3
            nb_get_retry 3
            delay_before_retry 3
        }
    }
    real_server 10.20.0.32 80 {
        weight 1
        TCP_CHECK {
            connect_timeout 3
            nb_get_retry 3
            delay_before_retry 3
        }
    }
}
"""


@pytest.fixture(scope="module")
def conf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("etc-keepalived") / "keepalived.conf"
    path.write_text(OLD)
    return path


@pytest.mark.parametrize("engine", ["lablb", "keepalived"])
def test_one_old_file_runs_as_keepalived_would(conf: Path, tmp_path: Path, engine: str) -> None:
    res = run_lablb(
        "run", "failover", "--config", str(conf), "--engine", engine, "--json",
        "--out", str(tmp_path), "--param", "fault=crash", "--param", "preempt=no",
        timeout=RUN_TIMEOUT,
    )  # fmt: skip
    assert res.stdout.strip(), res.stderr[-2000:]
    result: dict[str, Any] = json.loads(res.stdout)
    assert result["verdict"] == "pass", result["failures"]
    # The peer: BACKUP one priority lower, in the run folder with what was derived.
    (run_dir,) = tmp_path.glob("failover-*")
    derived = (run_dir / "given" / "DERIVED.txt").read_text()
    assert "VI_1: state MASTER -> BACKUP, priority 100 -> 99" in derived
    assert f"include {conf}" in (run_dir / "given" / "lb01.conf").read_text()
    (t,) = result["trials"]
    assert t["new_master"] == "lb02"
    md = master_down_interval(99, 1.0, 2)
    assert result["bounds"]["takeover_s"][0] == pytest.approx(md, abs=1e-6)
    # What keepalived ignores (and the lab with it) is said, line by line, not refused.
    warned = "\n".join(result["config_warnings"])
    for what in ("lvs_sync_daemon_inteface", "nat_mask", "truncates it to the first 8"):
        assert what in warned, warned
    assert f"{conf}:33:5" in warned


def test_a_template_is_refused_in_one_line(tmp_path: Path) -> None:
    conf = tmp_path / "keepalived.conf.j2"
    unrendered = "interface {{ ansible_default_ipv4.interface }}\n    lvs"
    conf.write_text(OLD.replace("interface eth0\n    lvs", unrendered))
    res = run_lablb("run", "failover", "--config", str(conf), "--out", str(tmp_path / "runs"))
    assert res.returncode == 3  # ConfigError: bad input, never a failed trial's 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert f"{conf}:15:15" in lines[0] and "unrendered template" in lines[0], lines[0]
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


HAPROXY_VIP = """\
! the VIP in front of HAProxy on the balancers themselves: VRRP only, a tracked script
global_defs {
    router_id haproxy-1
    enable_script_security
    script_user root
}
vrrp_script chk_haproxy {
    script "/usr/bin/killall -0 haproxy"
    interval 2
    weight 2
}
vrrp_instance VI_1 {
    interface eth0
    state MASTER
    virtual_router_id 51
    priority 101
    virtual_ipaddress {
        10.30.0.100/24
    }
    track_script {
        chk_haproxy
    }
}
"""


def test_a_vrrp_only_file_fails_over_on_its_vip(tmp_path: Path) -> None:
    """No virtual_server: the VIP fronts HAProxy on the balancers. The lab stands in for
    it (a process called haproxy on port 80 on each) and checks each node's own (its
    killall would see the other node's: said), so the script passes on both nodes: each
    runs 2 above its own priority, and the backup's master-down interval is its
    effective priority's. The service probe reaches the stand-in through the VIP."""
    conf = tmp_path / "keepalived.conf"
    conf.write_text(HAPROXY_VIP)
    junit = tmp_path / "junit.xml"
    res = run_lablb(
        "run", "failover", "--config", str(conf), "--json", "--out", str(tmp_path / "runs"),
        "--param", "fault=crash", "--junit", str(junit), timeout=RUN_TIMEOUT,
    )  # fmt: skip
    assert res.stdout.strip(), res.stderr[-2000:]
    result: dict[str, Any] = json.loads(res.stdout)
    assert result["verdict"] == "pass", result["failures"]
    assert set(result["bounds"]) == {"outage_s", "service_outage_s", "takeover_s", "preempt_s"}
    # What a CI server reads: a testcase per bound of the trial, none failed.
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "0"
    assert suite.get("tests") == "6"  # run, 4 bounds, no problem
    (t,) = result["trials"]
    assert t["new_master"] == "lb02" and set(t["probes"]) == {"icmp", "tcp"}
    assert result["bounds"]["takeover_s"][0] == pytest.approx(
        master_down_interval(100 + 2, 1.0, 2), abs=1e-6
    )
    stand_ins = "\n".join(result["stand_ins"])
    assert "haproxy on TCP 80" in stand_ins and "share one process table" in stand_ins


APISERVER_VIP = """\
! the Kubernetes API VIP: the check script lives in /etc/keepalived on the real nodes
global_defs {
    router_id k8s-lb-1
    enable_script_security
    script_user root
}
vrrp_script check_apiserver {
    script "/etc/keepalived/check_apiserver.sh"
    interval 1
    fall 2
    rise 2
    weight -2
}
vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 101
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass 42
    }
    virtual_ipaddress {
        10.40.0.100/24
    }
    track_script {
        check_apiserver
    }
}
"""


def test_a_dead_service_moves_the_vip_as_its_script_implies(tmp_path: Path) -> None:
    """keepalived's engine, a file whose script is not in the folder: the lab runs a
    check of the API server its name implies in its place (said), stands in for
    kube-apiserver on 6443, kills it on the master and measures the failover that
    interval 1 x fall 2 and weight -2 (101 -> 99 below the backup's 100) imply, and the
    return after rise 2."""
    conf = tmp_path / "keepalived.conf"
    conf.write_text(APISERVER_VIP)
    res = run_lablb(
        "run", "service", "--config", str(conf), "--engine", "keepalived", "--json",
        "--out", str(tmp_path / "runs"), timeout=RUN_TIMEOUT,
    )  # fmt: skip
    assert res.stdout.strip(), res.stderr[-2000:]
    result: dict[str, Any] = json.loads(res.stdout)
    assert result["verdict"] == "pass", result["failures"]
    assert set(result["bounds"]) == {
        "takeover_s", "failover_s", "outage_s", "service_outage_s", "restore_s"
    }  # fmt: skip
    stand_ins = "\n".join(result["stand_ins"])
    assert "check_apiserver.sh is not on this machine" in stand_ins
    assert "/dev/tcp/127.0.0.1/6443" in stand_ins and "kube-apiserver on TCP 6443" in stand_ins
    (t,) = result["trials"]
    assert t["holders_after"] == ["lb02"]
    assert "101 -> 99, backup 100: the backup takes over" in t["arithmetic"]
    # The takeover: master_down at the backup's priority after the last advert it took.
    assert result["bounds"]["takeover_s"][0] == pytest.approx(
        master_down_interval(100, 1.0, 2), abs=1e-6
    )


@pytest.mark.parametrize(
    ("shape", "engine"),
    [
        # Unicast (a cloud pair): its adverts are not flooded, the router never sees
        # them; the capture at each balancer's switch port does, and times the takeover.
        ("rw-unicast-cloud", "lablb"),
        # A sync group over two LANs (eth0, eth1): the derived lab gives each balancer
        # both, else keepalived will not start ("Non-existent interface").
        ("rw-nfs-sync-group", "keepalived"),
    ],
)
def test_corpus_shapes_fail_over_within_their_timers(
    shape: str, engine: str, tmp_path: Path
) -> None:
    conf = Path(__file__).resolve().parent.parent / "corpus" / f"{shape}.conf"
    res = run_lablb(
        "run", "failover", "--config", str(conf), "--engine", engine, "--json",
        "--param", "fault=crash", "--param", "preempt=no", "--out", str(tmp_path),
        timeout=RUN_TIMEOUT,
    )  # fmt: skip
    assert res.stdout.strip(), res.stderr[-2000:]
    result: dict[str, Any] = json.loads(res.stdout)
    assert result["verdict"] == "pass", result["failures"]
    (t,) = result["trials"]
    assert t["takeover_s"] is not None and t["new_master"] == "lb02"
