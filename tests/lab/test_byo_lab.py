"""Bring your own configs: a pair nothing in the repository describes (its own subnet,
interface names, VRID, priorities, advert interval, three real servers on port 8080)
runs failover, healthcheck and stream through ``lablb run ... --configs DIR`` on the
topology lablb derives from it, judged against its own timers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lablb.vrrp.timers import master_down_interval
from tests.conftest import run_lablb

RUN_TIMEOUT = 300
ADVERT_INT = 0.05
PRIORITIES = {"alpha": 200, "bravo": 150}

CONF = """\
! a pair written by the test: nothing in the repository describes it
vrrp_instance FRONT {{
    state {state}
    interface {iface}
    virtual_router_id 77
    priority {prio}
    version 3
    advert_int {advert}
    virtual_ipaddress {{
        10.77.5.50/24 dev {iface}
        10.77.5.100/32 dev {iface}
    }}
}}
virtual_server 10.77.5.100 8080 {{
    delay_loop 2
    lvs_sched rr
    lvs_method DR
    protocol TCP
    real_server 10.77.5.31 8080 {{
        TCP_CHECK {{
            connect_timeout 1
            retry 1
            delay_before_retry 1
        }}
    }}
    real_server 10.77.5.32 8080 {{
        TCP_CHECK {{
            connect_timeout 1
            retry 1
            delay_before_retry 1
        }}
    }}
    real_server 10.77.5.33 8080 {{
        HTTP_GET {{
            url {{
                path /testurl/test.jsp
                digest 7d3a1b2df0abe53bf1788199cda93d40
            }}
            connect_timeout 1
            retry 1
            delay_before_retry 1
        }}
    }}
}}
"""


@pytest.fixture(scope="module")
def configs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("byo")
    for (name, prio), iface, state in zip(
        PRIORITIES.items(), ("lan0", "ens5"), ("MASTER", "BACKUP"), strict=True
    ):
        (d / f"{name}.conf").write_text(
            CONF.format(state=state, iface=iface, prio=prio, advert=ADVERT_INT)
        )
    return d


def run(tmp: Path, configs: Path, name: str, *args: str) -> dict[str, Any]:
    res = run_lablb(
        "run", name, "--json", "--out", str(tmp), "--configs", str(configs), *args,
        timeout=RUN_TIMEOUT,
    )  # fmt: skip
    assert res.stdout.strip(), res.stderr[-2000:]
    result: dict[str, Any] = json.loads(res.stdout)
    assert result["topology"] == f"derived:{configs.name}"
    assert result["verdict"] == "pass", result["failures"]
    return result


def test_topo_derive_shows_the_lab_the_configs_imply(configs: Path, tmp_path: Path) -> None:
    png = tmp_path / "t.png"
    res = run_lablb("topo", "derive", str(configs), "--png", str(png))
    assert res.returncode == 0, res.stderr
    for line in ("alpha   balancer  lan0", "bravo   balancer  ens5", "web03   web"):
        assert line in res.stdout, res.stdout
    assert png.stat().st_size > 1000


def test_failover_on_own_configs_is_judged_by_their_timers(configs: Path, tmp_path: Path) -> None:
    result = run(tmp_path, configs, "failover", "--param", "fault=crash", "--repeat", "3")
    # The backup (bravo, priority 150) waits its own master-down interval.
    md = master_down_interval(PRIORITIES["bravo"], ADVERT_INT, 3)
    assert result["bounds"]["takeover_s"][0] == pytest.approx(md)
    for t in result["trials"]:
        assert t["new_master"] == "bravo" and t["takeover_s"] >= md


def test_healthcheck_on_own_configs(configs: Path, tmp_path: Path) -> None:
    run(tmp_path, configs, "healthcheck", "--param", "failure=stop", "--param", "target=web02")


def test_stream_on_own_configs(configs: Path, tmp_path: Path) -> None:
    result = run(
        tmp_path, configs, "stream",
        "--param", "video_mb=20", "--param", "speed=4", "--param", "crash_at=1.5",
    )  # fmt: skip
    t = result["trials"][0]
    assert set(t["clients"]) == {"cl01", "cl02"}
    assert all(c["sha256_ok"] for c in t["clients"].values())


def test_up_brings_the_lab_the_configs_imply(configs: Path) -> None:
    res = run_lablb("up", "--configs", str(configs), "--for", "0", "--ping", timeout=120)
    assert res.returncode == 0, res.stdout[-1000:] + res.stderr[-1000:]
    assert f"lab derived:{configs.name} is up" in res.stdout
    assert "alpha " in res.stdout and "web03 " in res.stdout
