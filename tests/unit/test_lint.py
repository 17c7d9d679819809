"""Lint rules, one config and a cluster; the seed pair, verbatim and corrected."""

from __future__ import annotations

import hashlib

from lablb.check import check
from lablb.config.diagnostics import EXIT_CONFIG, EXIT_FATAL, EXIT_OK
from lablb.config.lint import lint_carried, lint_cluster, lint_config
from lablb.config.semantics import check_config
from tests.conftest import DOCROOT, SEED, SEED_VERBATIM, parse_text

BASE = """
vrrp_instance VI_1 {{
    state {state}
    interface eth0
    virtual_router_id {vrid}
    priority {prio}
    advert_int {adv}
    {extra}
    virtual_ipaddress {{
        {vip}
    }}
}}
"""


def node(
    state: str = "BACKUP",
    vrid: int = 51,
    prio: int = 100,
    adv: str = "1",
    extra: str = "",
    vip: str = "172.30.0.22/24",
    tail: str = "",
    path: str = "/a.conf",
):  # type: ignore[no-untyped-def]
    parsed = parse_text(
        BASE.format(state=state, vrid=vrid, prio=prio, adv=adv, extra=extra, vip=vip) + tail,
        path=path,
    )
    assert parsed.errors == ()
    return parsed.config


def lint_codes(config) -> list[str]:  # type: ignore[no-untyped-def]
    return [d.code for d in lint_config(config)]


def test_virtual_server_not_carried_by_any_instance() -> None:
    vs = (
        "virtual_server 172.16.55.100 80 {\n real_server 172.30.0.23 80 {\n"
        "  TCP_CHECK {\n  }\n }\n}\n"
    )
    (d,) = lint_config(node(tail=vs))
    assert d.code == "vip-not-carried" and "172.16.55.100" in d.message
    assert d.severity == "warning"  # alone: another box may carry it
    (d,) = lint_carried([node(tail=vs), node(path="/lb02.conf")])
    assert (d.code, d.severity) == ("vip-not-carried", "error")  # no file of the cluster does
    assert lint_config(node(tail=vs, vip="172.16.55.100")) == []
    static = "static_ipaddress {\n 172.16.55.100/32 dev eth0\n}\n"
    assert lint_config(node(tail=vs + static)) == []


def semantic_codes(config) -> list[str]:  # type: ignore[no-untyped-def]
    return [d.code for d in check_config(config, None)]


def test_what_keepalived_reports_after_reading() -> None:
    assert semantic_codes(node(state="MASTER", extra="nopreempt")) == ["nopreempt-master"]
    assert semantic_codes(node(state="BACKUP", extra="nopreempt")) == []
    assert semantic_codes(node(adv="0.5")) == ["advert-int-v2"]
    assert semantic_codes(node(adv="0.5", extra="version 3")) == []
    assert semantic_codes(
        node(extra="version 3\nauthentication {\n auth_type PASS\n auth_pass x\n}")
    ) == ["auth-v3"]
    assert semantic_codes(node(extra="track_script {\n nothing\n}")) == ["unknown-script"]
    two = node(
        tail=BASE.format(state="BACKUP", vrid=51, prio=1, adv=1, extra="", vip="10.0.0.1").replace(
            "VI_1", "VI_2"
        )
    )
    assert semantic_codes(two) == ["vrid-reused"]
    dr = (
        "virtual_server 172.30.0.22 80 {\n lvs_sched rr\n lvs_method DR\n protocol TCP\n"
        " real_server 172.30.0.23 8080 {\n  TCP_CHECK {\n  }\n }\n"
        " real_server 172.30.0.24 80 {\n }\n}\n"
    )
    assert semantic_codes(node(tail=dr)) == ["dr-port-remap"]
    assert lint_codes(node(tail=dr)) == ["no-checker"]
    sync = "vrrp_sync_group G {\n group {\n  VI_1\n  VI_9\n }\n}\n"
    assert semantic_codes(node(tail=sync)) == ["unknown-instance", "sync-group-single"]


def test_cluster_rules() -> None:
    a = node(state="MASTER", prio=100, path="/lb01.conf")
    assert lint_cluster([a]) == []
    assert lint_cluster([a, node(prio=99, path="/lb02.conf")]) == []
    assert [d.code for d in lint_cluster([a, node(vrid=52, prio=99)])] == ["vrid-mismatch"]
    assert [d.code for d in lint_cluster([a, node(adv="2", prio=99)])] == ["advert-int-mismatch"]
    assert [d.code for d in lint_cluster([a, node(vip="172.30.0.99/24", prio=99)])] == [
        "vips-mismatch"
    ]
    assert [d.code for d in lint_cluster([a, node(prio=100)])] == ["priority-tie"]
    assert [d.code for d in lint_cluster([a, node(state="MASTER", prio=99)])] == ["both-master"]
    auth = "authentication {\n auth_type PASS\n auth_pass 2222\n}"
    assert [d.code for d in lint_cluster([a, node(prio=99, extra=auth)])] == ["auth-mismatch"]


def test_seed_verbatim_pair_cannot_serve() -> None:
    result = check(
        [str(SEED_VERBATIM / "lb01.conf"), str(SEED_VERBATIM / "lb02.conf")], offline=True
    )
    assert result.status == EXIT_CONFIG
    by_code = {d.code: d for d in result.diagnostics}
    assert "172.16.55.100" in by_code["vip-not-carried"].message
    assert {"nbsp", "both-master", "extra-argument", "legacy-keyword"} <= set(by_code)


def test_seed_verbatim_digest_matches_no_page_served() -> None:
    result = check([str(SEED_VERBATIM / "lb01.conf")], docroot=str(DOCROOT), offline=True)
    mismatches = [d for d in result.diagnostics if d.code == "digest-mismatch"]
    assert len(mismatches) == 2 and "640205b7b0fc66c1ea91c463fac6334d" in mismatches[0].message


def test_seed_corrected_pair_is_valid_even_strict() -> None:
    paths = [str(SEED / "lb01.conf"), str(SEED / "lb02.conf")]
    result = check(paths, strict_mode=True, docroot=str(DOCROOT), offline=True)
    assert [d.format() for d in result.diagnostics] == []
    assert result.status == EXIT_OK


def test_corrected_digest_is_the_md5_of_the_page() -> None:
    page = (DOCROOT / "testurl" / "test.jsp").read_bytes()
    result = check([str(SEED / "lb01.conf")], offline=True)
    urls = [
        u
        for vs in result.configs[0].virtual_servers
        for rs in vs.real_servers
        for c in rs.checkers
        for u in c.urls
    ]
    assert {u.digest for u in urls} == {hashlib.md5(page).hexdigest()}


def test_strict_turns_warnings_into_errors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    conf = tmp_path / "k.conf"
    conf.write_text("global_defs {\n router_id A\n router_id B\n}\n")
    assert check([str(conf)], offline=True).status == EXIT_OK
    assert check([str(conf)], strict_mode=True, offline=True).status == EXIT_CONFIG


def test_fatal_status(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert check([str(tmp_path / "missing.conf")]).status == EXIT_FATAL
    conf = tmp_path / "k.conf"
    conf.write_text("include k.conf\n")  # keepalived reads on: errors, not fatal
    assert check([str(conf)], offline=True).status == EXIT_CONFIG
    conf.write_text("vrrp_instance X {\n")  # keepalived reads on: errors, not fatal
    assert check([str(conf)], offline=True).status == EXIT_CONFIG
