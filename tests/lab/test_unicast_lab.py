"""Unicast VRRP (``unicast_src_ip``, ``unicast_peer``, ``check_unicast_src``) between
lablb and keepalived in both roles, on the ``unicast`` topology, with multicast VRRP
dropped by nftables on both balancers so that only unicast can carry the election.
Bounds come from the configs (``lablb.measure.bounds``), as in test_vrrp_lab."""

from __future__ import annotations

import dataclasses
import subprocess
import time
from collections.abc import Iterator
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from lablb.config.load import load
from lablb.config.render import render
from lablb.lab.balancer import engines_for, start_vrrp
from lablb.lab.net import Lab, LabSpec
from lablb.lab.registry import get
from lablb.vrrp.engine import params_of
from lablb.vrrp.fsm import Router
from tests.conftest import wait_for
from tests.lab.leftovers import Snapshot, snapshot
from tests.lab.test_vrrp_lab import PAIRS, Timing, crash_lb01, holders

ENTRY = get("unicast")
CONFIGS = ENTRY.config_dir()
GROUP = "224.0.0.18"
# Multicast VRRP dropped both ways on a balancer: in a table of its own, removed with
# the namespace at teardown.
NFT_DROP_MULTICAST = f"""
table inet lablbt_unicast {{
    chain input {{ type filter hook input priority -10; ip daddr {GROUP} drop; }}
    chain output {{ type filter hook output priority -10; ip daddr {GROUP} drop; }}
}}
"""


def timing(conf: Path) -> Timing:
    cfg = load(str(conf))
    inst = cfg.vrrp_instances[0]
    assert inst.unicast_src_ip is not None
    r = Router(params_of(cfg, inst, IPv4Address(str(inst.unicast_src_ip))))
    return Timing(
        r.master_down_interval(), r.skew_time(), inst.advert_int, IPv4Address(str(inst.vips[0]))
    )


@pytest.fixture
def unicast_lab(before: Snapshot) -> Iterator[Lab]:
    with Lab(LabSpec(ENTRY)) as lab:
        rules = lab.workdir / "drop-multicast.nft"
        rules.write_text(NFT_DROP_MULTICAST)
        for node in ENTRY.balancers:
            res = lab.run(node, ["nft", "-f", str(rules)])
            assert res.returncode == 0, res.stderr
        yield lab
    after = snapshot()
    assert after.lab_processes == before.lab_processes, "a daemon outlived the lab"
    assert after.netns == before.netns


@pytest.mark.parametrize("engines", PAIRS)
def test_unicast_election_and_crash_failover(unicast_lab: Lab, engines: str) -> None:
    lab = unicast_lab
    nodes = start_vrrp(lab, CONFIGS, engines_for(engines, ENTRY.balancers))
    t1, t2 = timing(CONFIGS / "lb01.conf"), timing(CONFIGS / "lb02.conf")
    wait_for("lb01 elected", lambda: holders(nodes, t1.vip) == ["lb01"], t1.master_down + 2.0)
    # Stable: lb02 hears lb01 over unicast (else it would be master too).
    time.sleep(t2.master_down + t2.advert_int)
    assert holders(nodes, t1.vip) == ["lb01"]
    crash = crash_lb01(lab, nodes, t2)
    crash.undo()
    wait_for("lb01 pre-empts", lambda: holders(nodes, t1.vip) == ["lb01"], t1.master_down + 5.0)


def _with_check_unicast_src(out: Path) -> Path:
    """lb01 checks unicast sources and lists a peer that is not lb02 (a model edit,
    rendered; lb02's file as it is)."""
    out.mkdir()
    lb01 = load(str(CONFIGS / "lb01.conf"))
    stranger = IPv4Address("172.30.0.99")  # on the lab's LAN, no host: nothing leaves
    inst = dataclasses.replace(
        lb01.vrrp_instances[0], check_unicast_src=True, unicast_peer=(stranger,)
    )
    (out / "lb01.conf").write_text(render(dataclasses.replace(lb01, vrrp_instances=(inst,))))
    (out / "lb02.conf").write_text((CONFIGS / "lb02.conf").read_text())
    return out


@pytest.mark.parametrize("peer", ["lablb", "keepalived"])
def test_check_unicast_src_rejects_a_source_not_listed(
    unicast_lab: Lab, tmp_path: Path, peer: str
) -> None:
    """lablb on lb01 with check_unicast_src rejects lb02's adverts (lb02 is not its
    unicast_peer) and counts them; lb01 never hears lb02, so both are master."""
    configs = _with_check_unicast_src(tmp_path / "configs")
    assert load(str(configs / "lb01.conf")).vrrp_instances[0].check_unicast_src
    nodes = start_vrrp(unicast_lab, configs, {"lb01": "lablb", "lb02": peer})
    t2 = timing(configs / "lb02.conf")
    wait_for(
        "lb01 rejects lb02", lambda: bool(nodes["lb01"].events("reject")), t2.master_down + 2.0
    )
    rejects = nodes["lb01"].events("reject")
    assert {r["reason"] for r in rejects} == {"UNKNOWN_SOURCE"}
    assert {r["source"] for r in rejects} == {"172.30.0.21"}
    wait_for(
        "both masters", lambda: holders(nodes, t2.vip) == ["lb01", "lb02"], 2 * t2.master_down + 2.0
    )


CAPTURE_TIMEOUT_S = 10.0


def tshark_rows(lab: Lab, pcap: Path, count: int, bpf: str, fields: list[str]) -> list[list[str]]:
    """``count`` packets matching ``bpf`` captured on lb02, decoded by tshark: one row of
    ``fields`` per packet (a field with several values joined by '/')."""
    lab.run(
        "lb02",
        ["timeout", str(CAPTURE_TIMEOUT_S), "tcpdump", "-n", "-i", "eth0", "-c", str(count),
         "-w", str(pcap), bpf],
        timeout=CAPTURE_TIMEOUT_S + 5.0,
    )  # fmt: skip
    assert pcap.is_file()
    res = subprocess.run(
        ["tshark", "-r", str(pcap), "-T", "fields", "-E", "separator=,", "-E", "aggregator=/",
         *(a for f in fields for a in ("-e", f))],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    rows = [line.split(",") for line in res.stdout.splitlines() if line]
    assert len(rows) == count, res.stdout
    return rows


@pytest.mark.parametrize("engine", ["lablb", "keepalived"])
def test_adverts_as_keepalived_marks_them_with_good_checksums(
    unicast_lab: Lab, engine: str
) -> None:
    """lb01's unicast adverts, captured on lb02 and decoded by tshark: TOS 0xc0
    (internetwork control, as keepalived marks them), TTL 255, and a VRRPv3 checksum
    tshark finds good (it covers the unicast destination, RFC 5798 section 5.2.8)."""
    lab = unicast_lab
    pcap = lab.workdir / f"adverts-{engine}.pcap"
    t1 = timing(CONFIGS / "lb01.conf")
    start_vrrp(lab, CONFIGS, {"lb01": engine, "lb02": "lablb"})
    assert t1.advert_int * 5 < CAPTURE_TIMEOUT_S
    rows = tshark_rows(
        lab, pcap, 5, "ip proto 112 and src 172.30.0.20",
        ["ip.dsfield", "ip.ttl", "ip.dst", "vrrp.version", "vrrp.checksum.status"],
    )  # fmt: skip
    for dsfield, ttl, dst, version, status in rows:
        assert int(dsfield, 0) == 0xC0 and ttl == "255" and dst == "172.30.0.21"
        assert version == "3" and status == "1", rows  # Wireshark's PROTO_CHECKSUM_E_GOOD
