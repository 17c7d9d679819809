"""The healthcheck scenario's ``checker`` parameter, without a lab: which failures fit
which checker kind, and the config it derives (one checker of the kind per server,
the config's timings kept, UDP_CHECK aimed at the lab's echo with a required reply)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lablb.config.load import load
from lablb.config.track_files import track_files
from lablb.errors import UsageError
from lablb.scenario import get_scenario, parse_params
from tests.conftest import SEED

HOSTS = {"web01": "web", "web02": "web", "lb01": "balancer", "lb02": "balancer"}


def params(*pairs: str) -> Any:
    return parse_params(get_scenario("healthcheck"), list(pairs))


@pytest.mark.parametrize(
    ("checker", "failure"),
    [
        ("PING_CHECK", "stop"),
        ("PING_CHECK", "digest"),
        ("UDP_CHECK", "digest"),
        ("FILE_CHECK", "drop"),
        ("DNS_CHECK", "file"),
    ],
)
def test_a_failure_that_cannot_fail_the_checker_is_refused(checker: str, failure: str) -> None:
    with pytest.raises(UsageError, match=f"cannot fail a {checker}"):
        get_scenario("healthcheck").check(params(f"checker={checker}", f"failure={failure}"), HOSTS)


@pytest.mark.parametrize(
    "kind",
    ["UDP_CHECK", "PING_CHECK", "TCP_CHECK", "SSL_GET", "MISC_CHECK", "SMTP_CHECK", "DNS_CHECK"],
)
def test_the_derived_config_checks_with_one_kind(kind: str, tmp_path: Path) -> None:
    p = params(f"checker={kind}", "failure=drop")
    configs = get_scenario("healthcheck").configure(SEED, p, tmp_path)
    seed_ck = load(str(SEED / "lb01.conf")).virtual_servers[0].real_servers[0].checkers[0]
    for vs in load(str(configs / "lb01.conf")).virtual_servers:
        for rs in vs.real_servers:
            (ck,) = rs.checkers
            assert ck.kind == kind and (ck.urls != ()) == (kind == "SSL_GET")
            # MISC_CHECK has no connect_timeout: misc_timeout bounds its attempt.
            attempt = ck.misc_timeout if kind == "MISC_CHECK" else ck.connect_timeout
            assert (ck.delay_loop, attempt, ck.retry) == (
                seed_ck.delay_loop, seed_ck.connect_timeout, seed_ck.retry,
            )  # fmt: skip
            if kind == "UDP_CHECK":
                assert ck.connect_port == 7 and ck.payload == ck.require_reply != b""
            if kind == "SSL_GET":
                assert ck.connect_port == 443
                assert [(u.path, u.digest) for u in ck.urls] == [
                    (u.path, u.digest) for u in seed_ck.urls
                ]
            if kind == "MISC_CHECK":
                assert ck.misc_path is not None and str(rs.address) in ck.misc_path.command
            if kind == "DNS_CHECK":
                assert (ck.connect_port, ck.dns_type) == (53, "A")


def test_the_derived_file_check_tracks_a_file_per_server(tmp_path: Path) -> None:
    """Each server's FILE_CHECK names a track_file declared above it, holding 0 at start
    (init_file ... overwrite), with weight 0: any other value fails the server."""
    p = params("checker=FILE_CHECK", "failure=file")
    configs = get_scenario("healthcheck").configure(SEED, p, tmp_path)
    config = load(str(configs / "lb01.conf"))
    files = track_files(config)
    for vs in config.virtual_servers:
        for rs in vs.real_servers:
            (ck,) = rs.checkers
            assert ck.kind == "FILE_CHECK" and ck.track_file in files
            t = files[ck.track_file]
            assert (t.weight, t.init_value, t.overwrite) == (0, 0, True)
            assert Path(t.path).parent.is_dir() and str(rs.address) in t.path
    assert len(files) == sum(len(vs.real_servers) for vs in config.virtual_servers)
