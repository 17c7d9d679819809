"""Each checker kind lablb runs removes a failing real server and restores it within
the bounds its timings imply, against a real service in the lab: ``lablb run
healthcheck --param checker=KIND`` (every server checked by one checker of that kind,
fast timings), failed by dropping the checker's own packets or stopping the service.
HTTP_GET is the scenario's default, run elsewhere in the suite. SSL_GET checks nginx's
HTTPS (a self-signed certificate, which keepalived does not verify either); MISC_CHECK
runs curl against the page the server serves; DNS_CHECK asks the lab's DNS server;
FILE_CHECK follows a track file per server (weight 0), failed by writing 1 into it.
One failure per kind here (``stop``, a refused check, is MISC_CHECK's and SMTP_CHECK's);
every kind with every failure is a sweep: ``python -m bench.checkers``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_lablb

RUN_TIMEOUT = 300


@pytest.mark.parametrize(
    ("checker", "failure"),
    [
        ("PING_CHECK", "drop"),
        ("UDP_CHECK", "drop"),
        ("TCP_CHECK", "drop"),
        ("SSL_GET", "digest"),
        ("MISC_CHECK", "stop"),
        ("SMTP_CHECK", "stop"),
        ("DNS_CHECK", "drop"),
        ("FILE_CHECK", "file"),
    ],
)
def test_a_checker_removes_and_restores_within_its_bounds(
    checker: str, failure: str, tmp_path: Path
) -> None:
    res = run_lablb(
        "run", "healthcheck", "--json", "--out", str(tmp_path),
        "--param", "checks=fast", "--param", f"checker={checker}",
        "--param", f"failure={failure}", timeout=RUN_TIMEOUT,
    )  # fmt: skip
    assert res.stdout.strip(), res.stderr[-2000:]
    result = json.loads(res.stdout)
    assert result["verdict"] == "pass", result["failures"]
    (trial,) = result["trials"]
    assert trial["detection_s"] is not None and trial["recovery_s"] is not None
    confs = list(tmp_path.glob("healthcheck-*/**/lb01.conf"))
    assert confs, "the derived config set was not kept with the run"
    conf = confs[0].read_text()
    assert conf.count(f"{checker} {{") == 2 and "HTTP_GET" not in conf
