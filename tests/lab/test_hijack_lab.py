"""The hijack scenario's rows that matter, through the CLI (``lablb run hijack``): the
cluster's own PASS password in an attacker's hands steals the VIP from lablb, and it
comes back master_down after the attacker stops; AH (lablb) and unicast with
check_unicast_src (keepalived) stop the same attacker. The scenario's quick run
(a wrong password) is in the every-scenario test; the whole matrix, both engines, is
``bench`` material and in the README."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.lab.test_scenarios_lab import clean_after, in_bounds, run  # noqa: F401


@pytest.mark.parametrize(
    ("attack", "engine", "topo"),
    [
        ("password", "lablb", "seed"),
        ("ah", "lablb", "seed"),
        ("unicast", "keepalived", "unicast"),
    ],
)
def test_hijack(
    attack: str,
    engine: str,
    topo: str,
    tmp_path: Path,
    clean_after: None,  # noqa: F811
) -> None:
    result = run(
        tmp_path, "hijack", "--topo", topo, "--engine", engine,
        "--param", f"attack={attack}", "--param", "hold=2",
    )  # fmt: skip
    in_bounds(result)
    (trial,) = result["trials"]
    assert trial["outcome"] == ("stolen" if attack == "password" else "rejected")
    if attack == "password":
        assert trial["recover_s"] is not None and trial["outage_s"] > trial["recover_s"]
    else:
        assert trial["outage_s"] == 0.0
