"""Malformed and hostile VRRP at running daemons of both engines: from mx01, adverts for
the cluster's VRID claiming priority 255 (which would take the VIP if accepted), each
spoilt one way (TTL 64, bad checksum, cut short, an address count that lies, version 7,
type 2, an unknown auth type, trailing junk), a few hundred of each. The master stays
master throughout, and lablb's daemons count every kind by its reason."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from lablb.lab.attacker import SPRAY_KINDS
from lablb.lab.net import Lab
from tests.lab.test_vrrp_lab import elect, holders, seed_lab  # noqa: F401  (the fixture)

PER_KIND = 300
EXPECTED = {
    "ttl": "BAD_TTL",
    "checksum": "BAD_CHECKSUM",
    "truncated": "BAD_LENGTH",
    "count": "BAD_LENGTH",
    "version": "BAD_VERSION",
    "type": "BAD_TYPE",
    "auth": "AUTH_TYPE_MISMATCH",
    "oversized": "BAD_LENGTH",
}


@pytest.mark.parametrize("engines", ["lablb", "keepalived"])
def test_a_spray_of_malformed_adverts_changes_nothing(seed_lab: Lab, engines: str) -> None:  # noqa: F811
    nodes, t1 = elect(seed_lab, engines)
    before = {n: len(node.events("reject")) for n, node in nodes.items()}
    argv = [
        sys.executable, "-m", "lablb.lab.attacker", "--vrid", "51", "--vip", str(t1.vip),
        "--auth", "pass:1111", "--spray", str(PER_KIND),
    ]  # fmt: skip
    proc = seed_lab.host("mx01").popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    sent = json.loads(out)
    assert set(sent) == set(SPRAY_KINDS) and min(sent.values()) > PER_KIND // 2, sent
    assert set(EXPECTED) == set(SPRAY_KINDS)
    # Well past a master-down interval: had any advert been taken, lb01 would be gone.
    seed_lab.run("lb01", ["sleep", str(t1.master_down + 0.5)], timeout=t1.master_down + 5)
    assert holders(nodes, t1.vip) == ["lb01"]
    assert nodes["lb01"].state("VI_1") == "MASTER"
    for name, node in nodes.items():
        if node.engine.name != "lablb":
            continue
        new = node.events("reject")[before[name] :]
        reasons = {str(e["reason"]) for e in new}
        assert set(EXPECTED.values()) <= reasons, (name, reasons)
        assert max(int(e.get("count", 0)) for e in new) >= PER_KIND // 2
