"""keepalived.conf -> model: every keyword this lab runs, defaults, aliases, errors."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface
from pathlib import Path

import pytest

from lablb.config import model as m
from lablb.config.diagnostics import Severity
from tests.conftest import codes, parse_text

FULL = """
global_defs {
    notification_email {
        ops@lab.test
        dev@lab.test
    }
    notification_email_from lb01@lab.test
    smtp_server 172.30.0.25 2525
    smtp_helo_name lb01.lab.test
    smtp_connect_timeout 12
    router_id LB01
    vrrp_mcast_group4 224.0.0.19
    vrrp_version 3
    vrrp_garp_master_delay 2
    vrrp_garp_master_repeat 3
    vrrp_garp_master_refresh 60
    vrrp_garp_master_refresh_repeat 2
    vrrp_garp_interval 0.001
}
vrrp_script chk_nginx {
    script "/usr/bin/pgrep nginx"
    interval 2
    timeout 1
    weight -20
    rise 2
    fall 3
    init_fail
}
vrrp_sync_group VG_1 {
    group {
        VI_1
    }
    notify_master "/bin/true master"
    notify_backup /bin/true
    notify_fault /bin/true
    notify_stop /bin/true
    notify /bin/notify root root
    smtp_alert
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 0.5
    version 3
    nopreempt
    preempt_delay 4.5
    virtual_ipaddress {
        172.30.0.22/24 dev eth0 label eth0:0
        172.16.55.100 brd 172.16.55.255 scope global
    }
    virtual_ipaddress_excluded {
        10.9.9.9/32
    }
    unicast_src_ip 172.30.0.20
    unicast_peer {
        172.30.0.21
    }
    track_interface {
        eth1 weight -10
        eth2
    }
    track_script {
        chk_nginx weight 5 reverse
    }
    notify_master /m
    notify_backup /b
    notify_fault /f
    notify_stop /s
    notify /n
    smtp_alert off
    garp_master_delay 1
    garp_master_repeat 2
    garp_master_refresh 30
    garp_master_refresh_repeat 4
    down_timer_adverts 5
}
virtual_server 172.16.55.100 80 {
    delay_loop 6
    lvs_sched wrr
    lvs_method DR
    persistence_timeout 50
    protocol TCP
    sorry_server 172.30.0.26 80
    quorum 2
    hysteresis 1
    alpha
    omega
    inhibit_on_failure
    ha_suspend
    connect_timeout 4
    retry 2
    delay_before_retry 0.5
    real_server 172.30.0.23 80 {
        weight 3
        inhibit_on_failure off
        notify_up /up
        notify_down /down
        HTTP_GET {
            url {
                path /testurl/test.jsp
                digest 7D3A1B2DF0ABE53BF1788199CDA93D40
                status_code 200 300-302
                virtualhost www.lab.test
            }
            url {
                path /health
            }
            connect_ip 172.30.0.23
            connect_port 8080
            bindto 172.30.0.20
            bind_port 40000
            connect_timeout 3
            retry 3
            delay_before_retry 3
            delay_loop 2
            warmup 1
        }
        SSL_GET {
            url {
                path /
            }
        }
        TCP_CHECK {
            connect_timeout 1
        }
        MISC_CHECK {
            misc_path "/usr/local/bin/check web01"
            misc_timeout 5
            misc_dynamic
        }
    }
    real_server 172.30.0.24 {
        TCP_CHECK {
        }
    }
}
virtual_server fwmark 7 {
    real_server 172.30.0.23 80 {
    }
}
"""


@pytest.fixture(scope="module")
def full() -> m.KeepalivedConfig:
    parsed = parse_text(FULL)
    assert [d.format() for d in parsed.diagnostics] == []
    return parsed.config


def test_global_defs(full: m.KeepalivedConfig) -> None:
    assert full.global_defs == m.GlobalDefs(
        notification_email=("ops@lab.test", "dev@lab.test"),
        notification_email_from="lb01@lab.test",
        smtp_server=m.SmtpServer("172.30.0.25", 2525),
        smtp_helo_name="lb01.lab.test",
        smtp_connect_timeout=12.0,
        router_id="LB01",
        vrrp_mcast_group4=IPv4Address("224.0.0.19"),
        vrrp_version=3,
        vrrp_garp_master_delay=2.0,
        vrrp_garp_master_repeat=3,
        vrrp_garp_master_refresh=60.0,
        vrrp_garp_master_refresh_repeat=2,
        vrrp_garp_interval=0.001,
        where=full.global_defs.where,
    )


def test_vrrp_script_and_sync_group(full: m.KeepalivedConfig) -> None:
    (s,) = full.vrrp_scripts
    assert (s.name, s.script, s.interval, s.timeout, s.weight, s.rise, s.fall, s.init_fail) == (
        "chk_nginx",
        m.Script("/usr/bin/pgrep nginx"),
        2.0,
        1.0,
        -20,
        2,
        3,
        True,
    )
    (g,) = full.vrrp_sync_groups
    assert g.group == ("VI_1",)
    assert g.notify_master == m.Script("/bin/true master")
    assert g.notify == m.Script("/bin/notify", "root", "root")
    assert g.smtp_alert is True


def test_vrrp_instance_every_keyword(full: m.KeepalivedConfig) -> None:
    i = full.vrrp_instances[0]
    assert (
        i.name,
        i.state,
        i.interface,
        i.virtual_router_id,
        i.priority,
        i.advert_int,
        i.version,
        i.nopreempt,
        i.preempt_delay,
    ) == ("VI_1", "BACKUP", "eth0", 51, 150, 0.5, 3, True, 4.5)
    a, b = i.virtual_ipaddress
    assert (a.interface, a.dev, a.label) == (IPv4Interface("172.30.0.22/24"), "eth0", "eth0:0")
    assert (b.interface, b.brd, b.scope) == (
        IPv4Interface("172.16.55.100/32"),
        IPv4Address("172.16.55.255"),
        "global",
    )
    assert i.vips == (IPv4Address("172.30.0.22"), IPv4Address("172.16.55.100"))
    assert i.virtual_ipaddress_excluded[0].ip == IPv4Address("10.9.9.9")
    assert i.unicast_src_ip == IPv4Address("172.30.0.20")
    assert i.unicast_peer == (IPv4Address("172.30.0.21"),)
    assert [(t.name, t.weight) for t in i.track_interface] == [("eth1", -10), ("eth2", None)]
    assert [(t.name, t.weight, t.reverse) for t in i.track_script] == [("chk_nginx", 5, True)]
    assert [
        x.command
        for x in (
            i.notify_master,
            i.notify_backup,
            i.notify_fault,  # type: ignore[union-attr]
            i.notify_stop,
            i.notify,
        )
    ] == ["/m", "/b", "/f", "/s", "/n"]
    assert (
        i.smtp_alert,
        i.garp_master_delay,
        i.garp_master_repeat,
        i.garp_master_refresh,
        i.garp_master_refresh_repeat,
        i.down_timer_adverts,
    ) == (False, 1.0, 2, 30.0, 4, 5)
    line = FULL.splitlines().index("vrrp_instance VI_1 {") + 1
    assert (i.where.file, i.where.line, i.where.col) == ("/etc/k.conf", line, 1)


def test_virtual_server_every_keyword(full: m.KeepalivedConfig) -> None:
    vs = full.virtual_servers[0]
    assert (
        vs.address,
        vs.port,
        vs.delay_loop,
        vs.lvs_sched,
        vs.lvs_method,
        vs.persistence_timeout,
        vs.protocol,
        vs.sorry_server,
        vs.quorum,
        vs.hysteresis,
        vs.alpha,
        vs.omega,
        vs.inhibit_on_failure,
        vs.ha_suspend,
    ) == (
        IPv4Address("172.16.55.100"),
        80,
        6.0,
        "wrr",
        "DR",
        50,
        "TCP",
        (IPv4Address("172.30.0.26"), 80),
        2,
        1,
        True,
        True,
        True,
        True,
    )
    assert full.virtual_servers[1].fwmark == 7 and full.virtual_servers[1].label == "fwmark 7"


def test_real_server_and_checkers(full: m.KeepalivedConfig) -> None:
    rs1, rs2 = full.virtual_servers[0].real_servers
    assert (rs1.weight, rs1.inhibit_on_failure, rs1.notify_up, rs1.notify_down) == (
        3,
        False,
        m.Script("/up"),
        m.Script("/down"),
    )
    http, ssl, tcp, misc = rs1.checkers
    assert [c.kind for c in rs1.checkers] == ["HTTP_GET", "SSL_GET", "TCP_CHECK", "MISC_CHECK"]
    u1, u2 = http.urls
    assert (u1.path, u1.digest, u1.status_code, u1.virtualhost) == (
        "/testurl/test.jsp",
        "7d3a1b2df0abe53bf1788199cda93d40",
        ((200, 200), (300, 302)),
        "www.lab.test",
    )
    assert (u2.digest, u2.status_code) == (None, ((200, 299),))
    assert (
        http.connect_ip,
        http.connect_port,
        http.bindto,
        http.bind_port,
        http.connect_timeout,
        http.retry,
        http.delay_before_retry,
        http.delay_loop,
        http.warmup,
    ) == (
        IPv4Address("172.30.0.23"),
        8080,
        IPv4Address("172.30.0.20"),
        40000,
        3.0,
        3,
        3.0,
        2.0,
        1.0,
    )
    # Inherited from the virtual_server: connect_timeout 4, retry 2, delay_before_retry 0.5.
    assert (
        ssl.connect_timeout,
        ssl.retry,
        ssl.delay_before_retry,
        ssl.delay_loop,
        ssl.connect_port,
    ) == (4.0, 2, 0.5, 6.0, 80)
    assert (tcp.connect_timeout, tcp.retry) == (1.0, 2)
    assert (misc.misc_path, misc.misc_timeout, misc.misc_dynamic) == (
        m.Script("/usr/local/bin/check web01"),
        5.0,
        True,
    )
    # No port on the real server: DR keeps the virtual server's port; inhibit inherited.
    assert (rs2.port, rs2.weight, rs2.inhibit_on_failure) == (80, 1, True)


def test_keepalived_defaults(minimal_instance: str) -> None:
    parsed = parse_text(
        minimal_instance
        + """
    virtual_server 10.0.0.1 80 {
        real_server 10.0.0.2 80 {
            HTTP_GET {
                url {
                    path /
                }
            }
            TCP_CHECK {
            }
            MISC_CHECK {
                misc_path /bin/true
            }
        }
    }
    """
    )
    c = parsed.config
    i = c.vrrp_instances[0]
    assert (
        i.state,
        i.priority,
        i.advert_int,
        i.nopreempt,
        i.preempt_delay,
        i.down_timer_adverts,
        c.version_of(i),
        i.authentication,
    ) == ("BACKUP", 100, 1.0, False, 0.0, 3, 2, None)
    g = c.global_defs
    assert (
        g.smtp_connect_timeout,
        g.vrrp_garp_master_delay,
        g.vrrp_garp_master_repeat,
        g.vrrp_garp_master_refresh,
        g.vrrp_mcast_group4,
    ) == (30.0, 5.0, 5, 0.0, IPv4Address("224.0.0.18"))
    vs = c.virtual_servers[0]
    assert (
        vs.delay_loop,
        vs.lvs_sched,
        vs.lvs_method,
        vs.protocol,
        vs.persistence_timeout,
        vs.quorum,
        vs.hysteresis,
    ) == (60.0, "wlc", "NAT", "TCP", None, 1, 0)
    http, tcp, misc = vs.real_servers[0].checkers
    assert (http.connect_timeout, http.retry, http.delay_before_retry, http.delay_loop) == (
        5.0,
        1,
        3.0,
        60.0,
    )
    assert (tcp.retry, tcp.delay_before_retry) == (1, 1.0)
    assert (misc.retry, misc.delay_before_retry) == (0, 1.0)
    assert vs.real_servers[0].weight == 1


def test_persistence_timeout_without_value_is_six_minutes() -> None:
    parsed = parse_text("virtual_server 10.0.0.1 80 {\n persistence_timeout\n}\n")
    assert parsed.config.virtual_servers[0].persistence_timeout == 360


def test_authentication_and_truncated_password(minimal_instance: str) -> None:
    text = minimal_instance.replace(
        "interface eth0",
        "interface eth0\n authentication {\n auth_type AH\n auth_pass 123456789\n }",
    )
    parsed = parse_text(text)
    assert parsed.config.vrrp_instances[0].authentication == m.Authentication("AH", "12345678")
    assert codes(parsed) == ["auth-pass-truncated"]


def test_nb_get_retry_as_keepalived_2_2_7_reads_it() -> None:
    """Measured on the binary: in HTTP_GET and SSL_GET an error that is still honoured
    ("nb_get_retry is deprecated - please use 'retry'"), elsewhere an unknown keyword."""
    rs = (
        "virtual_server 10.0.0.1 80 {{\n real_server 10.0.0.2 80 {{\n"
        "  {0} {{\n{1}   {2}\n  }}\n }}\n}}\n"
    )
    url = "   url {\n    path /\n   }\n"
    for checker in ("HTTP_GET", "SSL_GET"):
        parsed = parse_text(rs.format(checker, url, "nb_get_retry 4"))
        assert codes(parsed) == ["deprecated-keyword"]
        assert parsed.config.virtual_servers[0].real_servers[0].checkers[0].retry == 4
    for checker in ("TCP_CHECK", "MISC_CHECK", "SMTP_CHECK"):
        parsed = parse_text(rs.format(checker, "", "nb_get_retry 4"))
        assert "unknown-keyword" in codes(parsed), checker


def test_names_keepalived_2_2_7_no_longer_reads() -> None:
    # lvs_id and smtp_connection_timeout are unknown keywords to the 2.2.7 binary.
    parsed = parse_text("global_defs {\n lvs_id LB\n smtp_connection_timeout 9\n}\n")
    assert codes(parsed) == ["unknown-keyword", "unknown-keyword"]


@pytest.mark.parametrize(
    ("legacy", "modern", "block", "attr", "value"),
    [
        ("lb_algo rr", "lvs_sched", "vs", "lvs_sched", "rr"),
        ("lb_kind DR", "lvs_method", "vs", "lvs_method", "DR"),
    ],
)
def test_legacy_aliases(legacy: str, modern: str, block: str, attr: str, value: object) -> None:
    text = {
        "vs": f"virtual_server 10.0.0.1 80 {{\n {legacy}\n}}\n",
        "checker": f"virtual_server 10.0.0.1 80 {{\n real_server 10.0.0.2 80 {{\n"
        f"  TCP_CHECK {{\n   {legacy}\n  }}\n }}\n}}\n",
        "global": f"global_defs {{\n {legacy}\n}}\n",
    }[block]
    parsed = parse_text(text)
    c = parsed.config
    obj = {
        "vs": lambda: c.virtual_servers[0],
        "checker": lambda: c.virtual_servers[0].real_servers[0].checkers[0],
        "global": lambda: c.global_defs,
    }[block]()
    assert getattr(obj, attr) == value
    (d,) = parsed.diagnostics
    assert (d.code, d.severity, modern in d.message) == ("legacy-keyword", Severity.WARNING, True)


@pytest.mark.parametrize(
    ("text", "code", "line", "col"),
    [
        ("vrrp_instance X {\n priority 300\n}\n", "out-of-range", 2, 11),
        ("vrrp_instance X {\n priority high\n}\n", "bad-number", 2, 11),
        ("vrrp_instance X {\n virtual_router_id 0\n}\n", "out-of-range", 2, 20),
        ("vrrp_instance X {\n advert_int soon\n}\n", "bad-number", 2, 13),
        ("vrrp_instance X {\n prority 100\n}\n", "unknown-keyword", 2, 2),
        ("vrrp_instance X {\n lb_algo rr\n}\n", "unknown-keyword", 2, 2),
        ("vrrp_instance X {\n state master\n}\n", "bad-value", 2, 8),
        ("vrrp_instance X {\n priority\n}\n", "missing-argument", 2, 2),
        ("vrrp_instance X {\n priority 100 101\n}\n", "extra-argument", 2, 15),
        ("vrrp_instance X {\n unicast_src_ip 300.1.1.1\n}\n", "bad-address", 2, 17),
        ("vrrp_instance X {\n virtual_ipaddress {\n  10.0.0.1/33\n }\n}\n", "bad-prefix", 3, 3),
        ("vrrp_instance X {\n virtual_ipaddress {\n  10.0.0.300\n }\n}\n", "bad-address", 3, 3),
        (
            "vrrp_instance X {\n virtual_rules {\n  from 192.168.100./24 table 100\n }\n}\n",
            "bad-address",
            3,
            8,
        ),
        (
            "vrrp_instance X {\n virtual_routes {\n  10.1.0.0/16 via 10.0.0.1 frob 1\n }\n}\n",
            "unknown-route-keyword",
            3,
            28,
        ),
        (
            "vrrp_instance X {\n virtual_ipaddress {\n  10.0.0.1 colour red\n }\n}\n",
            "bad-value",
            3,
            12,
        ),
        ("vrrp_instance X {\n interface eth0 {\n }\n}\n", "unexpected-block", 2, 2),
        ("vrrp_instance X {\n authentication PASS\n}\n", "missing-block", 2, 2),
        ("vrrp_instance X {\n authentication {\n  auth_pass x\n }\n}\n", "missing-required", 2, 2),
        ("vrrp_instance X {\n authentication {\n  auth_type MD5\n }\n}\n", "bad-value", 3, 13),
        ("vrrp_instance X {\n priority 1\n priority 2\n}\n", "duplicate-keyword", 3, 2),
        ("vrrp_instance X {\n}\nvrrp_instance X {\n}\n", "duplicate-name", 3, 1),
        ("vrrp_instance {\n}\n", "missing-argument", 1, 1),
        ("vrrp_instance X {\n use_vmac\n}\n", "missing-required", 1, 1),  # use_vmac is known
        ("virtual_server 10.0.0.1 http {\n}\n", "bad-number", 1, 25),
        ("virtual_server 10.0.0.1 80 {\n lvs_sched roundrobin\n}\n", "bad-value", 2, 12),
        (
            "virtual_server 10.0.0.1 80 {\n real_server 10.0.0.2 80 {\n  HTTP_GET {\n  }\n }\n}\n",
            "missing-required",
            3,
            3,
        ),
        (
            "virtual_server 10.0.0.1 80 {\n real_server 10.0.0.2 80 {\n  HTTP_GET {\n   url {\n"
            "    path /\n    digest xyz\n   }\n  }\n }\n}\n",
            "bad-digest",
            6,
            5,
        ),
        (
            "virtual_server 10.0.0.1 80 {\n real_server 10.0.0.2 80 {\n  HTTP_GET {\n   url {\n"
            "    path /\n    status_code 200-100\n   }\n  }\n }\n}\n",
            "bad-value",
            6,
            17,
        ),
        (
            "virtual_server 10.0.0.1 80 {\n real_server 10.0.0.2 80 {\n"
            "  MISC_CHECK {\n  }\n }\n}\n",
            "missing-required",
            3,
            3,
        ),
        (
            "virtual_server 10.0.0.1 80 {\n real_server 10.0.0.2 80 {\n"
            "  SMTP_CHECK {\n   connect_port 99999\n  }\n }\n}\n",
            "out-of-range",
            4,
            17,
        ),
        ("global_defs {\n smtp_connect_timeout 0\n}\n", "out-of-range", 2, 23),
        ("static_routes {\n 10.1.0.0/16 via 10.0.0.999\n}\n", "bad-address", 2, 18),
        ("vrrp_instanc X {\n}\n", "unknown-keyword", 1, 1),
    ],
)
def test_error_codes_with_line_and_column(text: str, code: str, line: int, col: int) -> None:
    parsed = parse_text(text)
    found = [(d.code, d.where.line, d.where.col) for d in parsed.diagnostics]
    assert (code, line, col) in found, found
    assert all(
        d.hint or d.severity is Severity.WARNING or d.code in ("duplicate-name",) or d.message
        for d in parsed.diagnostics
    )


def test_unknown_keyword_hints() -> None:
    parsed = parse_text("vrrp_instance X {\n prority 100\n lb_algo rr\n}\n")
    hints = {
        d.message.split("'")[1]: d.hint for d in parsed.diagnostics if d.code == "unknown-keyword"
    }
    assert hints["prority"] == "did you mean priority?"
    assert "virtual_server" in hints["lb_algo"]


def test_unsupported_keywords_are_kept_not_dropped() -> None:
    parsed = parse_text("vrrp_instance X {\n use_vmac vrrp51\n}\n")
    (u,) = parsed.config.vrrp_instances[0].unsupported
    assert (u.keyword, u.args, u.where.line) == ("use_vmac", ("vrrp51",), 2)


def test_required_instance_keywords() -> None:
    parsed = parse_text("vrrp_instance X {\n priority 100\n}\n")
    assert sorted(d.message for d in parsed.diagnostics if d.code == "missing-required") == [
        "vrrp_instance X has no interface",
        "vrrp_instance X has no virtual_router_id",
    ]


def test_brace_on_next_line_and_one_line_blocks() -> None:
    parsed = parse_text(
        "vrrp_instance X\n{\n interface eth0\n virtual_router_id 9\n"
        " virtual_ipaddress { 10.0.0.1 }\n}\n"
    )
    assert codes(parsed) == []
    inst = parsed.config.vrrp_instances[0]
    assert inst.virtual_router_id == 9
    assert [str(v.interface) for v in inst.virtual_ipaddress] == ["10.0.0.1/32"]


def test_one_address_per_virtual_ipaddress_line() -> None:
    parsed = parse_text("vrrp_instance X {\n virtual_ipaddress { 10.0.0.1 10.0.0.2 }\n}\n")
    assert ("bad-value", 2, 31) in [(d.code, d.where.line, d.where.col) for d in parsed.diagnostics]


def test_missing_brace_is_an_error_at_the_opener() -> None:
    # keepalived -t exits 5 (errors), not 4 (fatal): it reads on, into the open block.
    parsed = parse_text("global_defs {\n router_id A\n}\nvrrp_instance X {\n interface eth0\n")
    (d,) = [d for d in parsed.diagnostics if d.code == "missing-brace"]
    assert (d.fatal, d.where.line, d.where.col) == (False, 4, 17)
    assert "vrrp_instance X" in d.message


def test_extra_closing_brace() -> None:
    parsed = parse_text("global_defs {\n}\n}\n")
    assert [(d.code, d.where.line, d.fatal) for d in parsed.diagnostics] == [
        ("unexpected-brace", 3, False)
    ]


def test_email_placeholder_gets_its_own_hint() -> None:
    parsed = parse_text("global_defs {\n notification_email_from [email\u00a0protected]\n}\n")
    extra = [d for d in parsed.diagnostics if d.code == "extra-argument"]
    assert extra and "web page" in extra[0].hint


@pytest.mark.parametrize(("written", "runs"), [(0.3, 1.0), (0.5, 1.0), (1.4, 1.0), (2.5, 3.0)])
def test_a_v2_advert_int_runs_rounded_as_keepalived_rounds_it(
    tmp_path: Path, written: float, runs: float
) -> None:
    """keepalived 2.2.7: "VRRPv2 advertisement interval 0.500000s must be an integer.
    rounding"; on the wire 0.3, 0.5 and 1.4 advertise every 1 s. The lab runs (and
    bounds) what keepalived runs, and says so."""
    from lablb.config.load import load_running

    conf = tmp_path / "keepalived.conf"
    conf.write_text(
        "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n priority 100\n"
        f" advert_int {written}\n virtual_ipaddress {{\n  10.0.0.100/24\n }}\n}}\n"
    )
    config, said = load_running(str(conf))
    assert config.vrrp_instances[0].advert_int == runs
    assert [d.code for d in said] == ["advert-int-v2"]
    assert f"rounds it to {runs:g}" in said[0].message


def test_a_keyword_without_its_needed_value_is_refused_as_keepalived_exits(
    tmp_path: Path,
) -> None:
    """keepalived 2.2.7 exits at start on ``state`` with no value ("permanent error
    CONFIG. Terminating", seen in the lab): the lab refuses it in one line, not runs it."""
    from lablb.config.load import load_running
    from lablb.errors import ConfigError

    conf = tmp_path / "keepalived.conf"
    conf.write_text(
        "vrrp_instance VI_1 {\n    state\n    interface eth0\n    virtual_router_id 51\n"
        "    virtual_ipaddress {\n        10.0.0.100/24\n    }\n}\n"
    )
    with pytest.raises(ConfigError, match=r"conf:2:5: keepalived would not start: state"):
        load_running(str(conf))


def test_an_includem_that_matches_nothing_is_refused_as_keepalived_stops(tmp_path: Path) -> None:
    """includem must match: keepalived logs "Config files missing" and stops (seen in
    the lab); a plain include of a missing file is read past, as keepalived does."""
    from lablb.config.load import load_running
    from lablb.errors import ConfigError

    body = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n}\n"
    conf = tmp_path / "keepalived.conf"
    conf.write_text(f"includem {tmp_path}/none.conf\n{body}")
    with pytest.raises(ConfigError, match="keepalived would not start: includem"):
        load_running(str(conf))
    conf.write_text(f"include {tmp_path}/none.conf\n{body}")
    assert load_running(str(conf))[0].vrrp_instances
