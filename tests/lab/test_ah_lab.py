"""VRRPv2 with ``auth_type AH`` (IPsec AH, HMAC-MD5-96, as keepalived builds it)
between lablb and keepalived in both roles on the seed lab: the election and a crash
failover within the bounds the configs imply, and a wrong key rejected on both sides.
tshark decodes lablb's AH datagrams (SPI, sequence, the VRRP inside and its checksum)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from lablb.config import model as m
from lablb.config.edit import map_instances, variant
from lablb.config.load import load
from lablb.config.sets import derive
from lablb.lab.balancer import engines_for, start_vrrp
from lablb.lab.net import Lab
from lablb.lab.registry import get
from tests.conftest import SEED, wait_for
from tests.lab.test_unicast_lab import tshark_rows
from tests.lab.test_vrrp_lab import (
    PAIRS,
    PRIMARY,
    crash_lb01,
    holders,
    seed_lab,  # noqa: F401  (the fixture)
    timing,
)


def ah_configs(out: Path, password: str = "1111", only: str | None = None) -> Path:
    """The seed pair on auth_type AH (a model edit, rendered); ``only``: the one node
    whose key is ``password`` (the other keeps 1111)."""
    src = out / "src"
    src.mkdir(parents=True)
    for node in ("lb01", "lb02"):
        key = password if only in (None, node) else "1111"

        @variant(f"auth_type AH, key {key}")
        def ah(config: m.KeepalivedConfig, key: str = key) -> m.KeepalivedConfig:
            return map_instances(
                config,
                lambda i: dataclasses.replace(i, authentication=m.Authentication("AH", key)),
            )

        (src / f"{node}.conf").write_text((SEED / f"{node}.conf").read_text())
        derive(src, out / node, ah)
    configs = out / "configs"
    configs.mkdir()
    for node in ("lb01", "lb02"):
        (configs / f"{node}.conf").write_text((out / node / "configs" / f"{node}.conf").read_text())
    return configs


@pytest.mark.parametrize("engines", PAIRS)
def test_ah_election_and_crash_failover(seed_lab: Lab, engines: str, tmp_path: Path) -> None:  # noqa: F811
    configs = ah_configs(tmp_path)
    assert load(str(configs / "lb01.conf")).vrrp_instances[0].authentication == m.Authentication(
        "AH", "1111"
    )
    nodes = start_vrrp(seed_lab, configs, engines_for(engines, get("seed").balancers))
    t1, t2 = timing(configs / "lb01.conf", "lb01"), timing(configs / "lb02.conf", "lb02")
    # Both start as backups (AH forces it); lb01, the higher priority, wins.
    wait_for("lb01 elected", lambda: holders(nodes, t1.vip) == ["lb01"], t1.master_down + 3.0)
    wait_for(
        "lb02 hears lb01 under AH",
        lambda: holders(nodes, t1.vip) == ["lb01"] and nodes["lb02"].state("VI_1") == "BACKUP",
        t2.master_down + t2.advert_int + 1.0,
    )
    for node in nodes.values():
        if node.engine.name == "lablb":
            assert node.events("reject") == [], node.events("reject")
    crash = crash_lb01(seed_lab, nodes, t2)
    crash.undo()
    # The restarted lb01 takes its sequence on from lb02's adverts, so lb02 accepts it.
    wait_for("lb01 pre-empts", lambda: holders(nodes, t1.vip) == ["lb01"], t1.master_down + 5.0)


@pytest.mark.parametrize("peer", ["lablb", "keepalived"])
def test_a_wrong_ah_key_is_rejected_on_both_sides(
    seed_lab: Lab,  # noqa: F811
    tmp_path: Path,
    peer: str,
) -> None:
    configs = ah_configs(tmp_path, password="2222", only="lb02")
    nodes = start_vrrp(seed_lab, configs, {"lb01": "lablb", "lb02": peer})
    t2 = timing(configs / "lb02.conf", "lb02")
    wait_for(
        "both masters", lambda: holders(nodes, t2.vip) == ["lb01", "lb02"], 2 * t2.master_down + 3.0
    )
    wait_for("a reject", lambda: bool(nodes["lb01"].events("reject")), 2 * t2.advert_int + 1.0)
    rejects = nodes["lb01"].events("reject")
    assert {r["reason"] for r in rejects} == {"AUTH_MISMATCH"}
    assert {r["source"] for r in rejects} == {str(PRIMARY["lb02"])}
    if peer == "keepalived":
        assert "IPSEC-AH : invalid IPSEC HMAC-MD5 value" in nodes["lb02"].log.read_text()
    else:
        assert {r["reason"] for r in nodes["lb02"].events("reject")} == {"AUTH_MISMATCH"}


def test_tshark_reads_lablb_s_ah_adverts(seed_lab: Lab, tmp_path: Path) -> None:  # noqa: F811
    configs = ah_configs(tmp_path)
    start_vrrp(seed_lab, configs, {"lb01": "lablb", "lb02": "lablb"})
    pcap = seed_lab.workdir / "ah.pcap"
    rows = tshark_rows(
        seed_lab, pcap, 3, "ip proto 51 and src 172.30.0.20",
        ["ip.dsfield", "ah.spi", "ah.sequence", "ah.icv", "vrrp.auth_type",
         "vrrp.checksum.status", "vrrp.ip_addr"],
    )  # fmt: skip
    seqs = []
    for dsfield, spi, seq, icv, auth, status, vips in rows:
        assert int(dsfield, 0) == 0xC0 and int(spi, 0) == int(PRIMARY["lb01"])
        assert auth == "2" and status == "1" and "172.30.0.22" in vips
        assert len(icv.replace(":", "")) == 24  # 96 bits
        seqs.append(int(seq, 0))
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
