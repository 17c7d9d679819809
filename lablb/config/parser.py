"""keepalived.conf -> ``KeepalivedConfig``, table-driven, with diagnostics.

Pure: the statement tree comes from ``lablb.config.tree`` through a ``Reader``; this
module only interprets it. Each block is a ``BlockSpec``: its keywords, each with the
attribute it sets and the reader of its value (``lablb.config.values``), its legacy
aliases (``lb_algo`` -> ``lvs_sched``...), and the keywords keepalived knows but lablb
does not implement, which are kept and reported as unsupported. A keyword that is in
none of these is an error with a did-you-mean hint. A user's mistake never raises.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface
from typing import Any

from lablb.config import model as m
from lablb.config import values as v
from lablb.config.diagnostics import Diagnostic, Where, error, warning
from lablb.config.lexer import Token
from lablb.config.render import statement_lines
from lablb.config.tree import Statement


@dataclass(frozen=True)
class Field:
    attr: str
    read: v.Reader
    block: bool = False
    repeat: bool = False


@dataclass(frozen=True)
class BlockSpec:
    name: str
    fields: dict[str, Field]
    aliases: dict[str, str] = field(default_factory=dict)
    unsupported: frozenset[str] = frozenset()

    def known(self) -> list[str]:
        return [*self.fields, *self.aliases, *self.unsupported]


@dataclass
class Read:
    """What a block said: attribute values, unsupported keywords, and where it began."""

    values: dict[str, Any]
    unsupported: list[m.Unsupported]
    where: Where


def read_block(
    stmts: tuple[Statement, ...], spec: BlockSpec, diags: list[Diagnostic], where: Where
) -> Read:
    values: dict[str, Any] = {}
    unsupported: list[m.Unsupported] = []
    seen: dict[str, Where] = {}
    for st in stmts:
        name = st.name
        if name in spec.aliases:
            modern = spec.aliases[name]
            diags.append(
                warning(
                    st.where,
                    "legacy-keyword",
                    f"{name} is the legacy name of {modern}",
                    f"write {modern}; keepalived reads both the same way",
                )
            )
            name = modern
        fld = spec.fields.get(name)
        if fld is None:
            if name in spec.unsupported:
                unsupported.append(unsupported_of(st))
                diags.append(
                    warning(
                        st.where,
                        "unsupported",
                        f"{name} is a keepalived keyword lablb parses but does not act on",
                        "lablb runs as if it were absent",
                    )
                )
            else:
                diags.append(_unknown(st, spec))
            continue
        if fld.block != (st.block is not None):
            diags.append(
                error(
                    st.where,
                    "unexpected-block" if st.block is not None else "missing-block",
                    f"{name} {'takes no' if not fld.block else 'needs a'} {{ }} block",
                    f"see keepalived.conf(5), {spec.name}",
                )
            )
            continue
        if not fld.repeat and fld.attr in seen:
            diags.append(
                warning(
                    st.where,
                    "duplicate-keyword",
                    f"{name} is set again (first at line {seen[fld.attr].line}); the last one wins",
                    "keep one",
                )
            )
        seen[fld.attr] = st.where
        try:
            value = fld.read(st, diags)
        except v.Bad as b:
            diags.append(b.diagnostic)
            continue
        if fld.repeat:
            values.setdefault(fld.attr, []).append(value)
        else:
            values[fld.attr] = value
    return Read(values, unsupported, where)


def unsupported_of(st: Statement) -> m.Unsupported:
    """A statement lablb keeps without modelling it, its block as text (for the renderer)."""
    block = None if st.block is None else tuple(statement_lines(st.block))
    return m.Unsupported(st.name, tuple(t.text for t in st.args), st.where, block)


def _unknown(st: Statement, spec: BlockSpec) -> Diagnostic:
    owners = [s.name for s in ALL_SPECS if st.name in s.fields or st.name in s.aliases]
    close = difflib.get_close_matches(st.name, spec.known(), n=1, cutoff=0.75)
    if close:
        hint = f"did you mean {close[0]}?"
    elif owners:
        hint = f"{st.name} belongs in {' or '.join(owners)}, not in {spec.name}"
    else:
        hint = f"see keepalived.conf(5) for what {spec.name} takes"
    return error(st.where, "unknown-keyword", f"unknown keyword '{st.name}' in {spec.name}", hint)


# -- structured entries ---------------------------------------------------------


def _vip_entry(st: Statement, diags: list[Diagnostic]) -> m.VirtualAddress:
    addr = st.keyword
    text = addr.text if "/" in addr.text else addr.text + "/32"
    try:
        iface = IPv4Interface(text)
    except ValueError:
        raise v.bad(
            addr,
            "bad-address",
            f"'{addr.text}' is not an IPv4 address[/prefix]",
            "e.g. 172.30.0.22/24",
        ) from None
    opts: dict[str, str] = {}
    args = list(st.args)
    while args:
        key = args.pop(0)
        if key.text not in ("dev", "brd", "scope", "label") or not args:
            diags.append(
                error(
                    key.where,
                    "bad-value",
                    f"virtual_ipaddress option '{key.text}' is not understood",
                    "ADDR[/PREFIX] [brd ADDR] [dev IFNAME] [scope SCOPE] [label LABEL]",
                )
            )
            break
        opts[key.text] = args.pop(0).text
    brd = v.parse_ipv4(Token(opts["brd"], addr.where), "brd") if "brd" in opts else None
    return m.VirtualAddress(
        iface, opts.get("dev"), brd, opts.get("scope"), opts.get("label"), addr.where
    )


def _entries(entry: v.Reader) -> v.Reader:
    def read(stmt: Statement, diags: list[Diagnostic]) -> tuple[Any, ...]:
        assert stmt.block is not None
        out = []
        for item in stmt.block:
            try:
                out.append(entry(item, diags))
            except v.Bad as b:
                diags.append(b.diagnostic)
        return tuple(out)

    return read


def _tracked(st: Statement, diags: list[Diagnostic]) -> m.Tracked:
    weight: int | None = None
    reverse = False
    args = list(st.args)
    while args:
        key = args.pop(0)
        if key.text == "weight" and args:
            weight = v.parse_int(args.pop(0), -253, 253, "weight")
        elif key.text == "reverse":
            reverse = True
        else:
            diags.append(
                error(
                    key.where,
                    "bad-value",
                    f"'{key.text}' is not understood here",
                    "NAME [weight <-253..253> [reverse]]",
                )
            )
            break
    return m.Tracked(st.name, weight, reverse, st.where)


def _peer(st: Statement, diags: list[Diagnostic]) -> IPv4Address:
    if st.args and st.args[0].text not in ("min_ttl", "max_ttl"):
        diags.append(
            warning(st.args[0].where, "extra-argument", "unicast_peer: one address a line")
        )
    return v.parse_ipv4(st.keyword, "unicast_peer")


def _authentication(st: Statement, diags: list[Diagnostic]) -> m.Authentication | None:
    assert st.block is not None
    r = read_block(st.block, AUTH, diags, st.where)
    if "auth_type" not in r.values:
        raise v.bad(st.keyword, "missing-required", "authentication needs auth_type PASS|AH")
    password: str = r.values.get("auth_pass", "")
    if len(password) > 8:
        diags.append(
            warning(
                st.where,
                "auth-pass-truncated",
                f"auth_pass is {len(password)} characters; keepalived uses only "
                f"the first 8 ('{password[:8]}')",
                "use at most 8 characters",
            )
        )
    return m.Authentication(r.values["auth_type"], password[:8])


def _url(st: Statement, diags: list[Diagnostic]) -> m.Url:
    assert st.block is not None
    r = read_block(st.block, URL, diags, st.where)
    if "path" not in r.values:
        raise v.bad(st.keyword, "missing-required", "url needs a path", "path /testurl/test.jsp")
    digest = r.values.get("digest")
    if digest is not None and (
        len(digest) != 32 or not all(c in "0123456789abcdefABCDEF" for c in digest)
    ):
        diags.append(
            error(
                st.where,
                "bad-digest",
                f"digest '{digest}' is not 32 hex digits",
                "digest is the MD5 of the page body: md5sum PAGE, or keepalived's genhash",
            )
        )
        digest = None
    return m.Url(
        r.values["path"],
        digest.lower() if digest else None,
        r.values.get("status_code", ((200, 299),)),
        r.values.get("virtualhost"),
        st.where,
        tuple(r.unsupported),
    )


@dataclass
class PartialChecker:
    kind: str
    read: Read


def _checker(st: Statement, diags: list[Diagnostic]) -> PartialChecker:
    assert st.block is not None
    spec = CHECKERS[st.name]
    v.no_args(st, diags)
    r = read_block(st.block, spec, diags, st.where)
    if st.name in ("HTTP_GET", "SSL_GET") and not r.values.get("urls"):
        diags.append(
            error(
                st.where,
                "missing-required",
                f"{st.name} has no url block",
                "url { path /testurl/test.jsp digest <md5> }",
            )
        )
    if st.name == "MISC_CHECK" and "misc_path" not in r.values:
        diags.append(error(st.where, "missing-required", "MISC_CHECK needs misc_path"))
    return PartialChecker(st.name, r)


@dataclass
class PartialRealServer:
    address: IPv4Address
    port: int | None
    read: Read


def _real_server(st: Statement, diags: list[Diagnostic]) -> PartialRealServer:
    assert st.block is not None
    address, port_ = v.address_port(st, diags)
    return PartialRealServer(address, port_, read_block(st.block, REAL_SERVER, diags, st.where))


# -- block tables -----------------------------------------------------------------


def _f(attr: str, read: v.Reader, *, block: bool = False, repeat: bool = False) -> Field:
    return Field(attr, read, block, repeat)


def _same(names: Mapping[str, v.Reader]) -> dict[str, Field]:
    return {k: _f(k, r) for k, r in names.items()}


SCRIPTS = {
    k: v.script for k in ("notify_master", "notify_backup", "notify_fault", "notify_stop", "notify")
}
CHECK_TIMING = {
    "connect_timeout": v.timer(0.001, 3600),
    "retry": v.integer(0, 100),
    "delay_before_retry": v.timer(0, 3600),
    "delay_loop": v.timer(0.001, 86400),
    "warmup": v.timer(0, 86400),
}
CHECK_CONN = {"connect_ip": v.ipv4, "connect_port": v.port, "bindto": v.ipv4, "bind_port": v.port}

GLOBAL_DEFS = BlockSpec(
    "global_defs",
    {
        "notification_email": _f("notification_email", v.words, block=True),
        **_same(
            {
                "notification_email_from": v.string,
                "smtp_helo_name": v.string,
                "smtp_connect_timeout": v.timer(1, 3600),
                "router_id": v.string,
                "vrrp_mcast_group4": v.ipv4,
                "vrrp_version": v.integer(2, 3),
                "vrrp_garp_master_delay": v.timer(0, 255),
                "vrrp_garp_master_repeat": v.integer(0, 255),
                "vrrp_garp_master_refresh": v.timer(0, 86400),
                "vrrp_garp_master_refresh_repeat": v.integer(0, 255),
                "vrrp_garp_interval": v.timer(0, 1),
            }
        ),
        "smtp_server": _f("smtp_server", v.address_port),
        "lvs_sync_daemon": _f("lvs_sync_daemon", v.sync_daemon),
    },
    aliases={"lvs_id": "router_id", "smtp_connection_timeout": "smtp_connect_timeout"},
    unsupported=frozenset(
        {
            "vrrp_strict",
            "enable_script_security",
            "script_user",
            "vrrp_skip_check_adv_addr",
            "lvs_flush",
            "vrrp_mcast_group6",
            "default_interface",
            "vrrp_iptables",
            "vrrp_ipsets",
            "vrrp_check_unicast_src",
            "dynamic_interfaces",
            "smtp_alert",
            "smtp_alert_vrrp",
            "smtp_alert_checker",
            "checker_log_all_failures",
            "vrrp_lower_prio_no_advert",
            "vrrp_higher_prio_send_advert",
            "vrrp_priority",
            "checker_priority",
            "max_auto_priority",
            "vrrp_no_swap",
            "checker_no_swap",
            "vrrp_garp_lower_prio_delay",
            "vrrp_garp_lower_prio_repeat",
            "vrrp_startup_delay",
            "enable_traps",
            "enable_snmp_vrrp",
            "enable_snmp_checker",
            "notify_fifo",
            "vrrp_notify_fifo",
            "lvs_notify_fifo",
            "script_security",
            "no_email_faults",
        }
    ),
)

VRRP_SCRIPT = BlockSpec(
    "vrrp_script",
    {
        "script": _f("script", v.script),
        **_same(
            {
                "interval": v.timer(0.001, 86400),
                "timeout": v.timer(0.001, 86400),
                "weight": v.integer(-253, 253),
                "rise": v.integer(1, 1000),
                "fall": v.integer(1, 1000),
                "init_fail": v.flag,
            }
        ),
    },
    unsupported=frozenset({"user"}),
)

VRRP_SYNC_GROUP = BlockSpec(
    "vrrp_sync_group",
    {
        "group": _f("group", v.words, block=True),
        **_same(SCRIPTS),
        "smtp_alert": _f("smtp_alert", v.boolean),
    },
    unsupported=frozenset(
        {
            "track_interface",
            "track_script",
            "global_tracking",
            "sync_group_tracking_weight",
            "notify_priority_changes",
        }
    ),
)

AUTH = BlockSpec(
    "authentication",
    {"auth_type": _f("auth_type", v.choice("PASS", "AH")), "auth_pass": _f("auth_pass", v.string)},
)

VRRP_INSTANCE = BlockSpec(
    "vrrp_instance",
    {
        **_same(
            {
                "interface": v.string,
                "virtual_router_id": v.integer(1, 255),
                "state": v.choice("MASTER", "BACKUP"),
                "priority": v.integer(1, 255),
                "advert_int": v.timer(0.01, 255),
                "version": v.integer(2, 3),
                "nopreempt": v.flag,
                "preempt_delay": v.timer(0, 1000),
                "unicast_src_ip": v.ipv4,
                "smtp_alert": v.boolean,
                "garp_master_delay": v.timer(0, 255),
                "garp_master_repeat": v.integer(0, 255),
                "garp_master_refresh": v.timer(0, 86400),
                "garp_master_refresh_repeat": v.integer(0, 255),
                "down_timer_adverts": v.integer(1, 100),
                **SCRIPTS,
            }
        ),
        "preempt": _f("_preempt", v.flag),
        "authentication": _f("authentication", _authentication, block=True),
        "virtual_ipaddress": _f("virtual_ipaddress", _entries(_vip_entry), block=True),
        "virtual_ipaddress_excluded": _f(
            "virtual_ipaddress_excluded", _entries(_vip_entry), block=True
        ),
        "unicast_peer": _f("unicast_peer", _entries(_peer), block=True),
        "track_interface": _f("track_interface", _entries(_tracked), block=True),
        "track_script": _f("track_script", _entries(_tracked), block=True),
    },
    unsupported=frozenset(
        {
            "use_vmac",
            "vmac_xmit_base",
            "native_ipv6",
            "dont_track_primary",
            "mcast_src_ip",
            "virtual_routes",
            "virtual_rules",
            "track_process",
            "track_file",
            "track_bfd",
            "accept",
            "no_accept",
            "strict_mode",
            "skip_check_adv_addr",
            "debug",
            "lvs_sync_daemon_interface",
            "garp_lower_prio_delay",
            "garp_lower_prio_repeat",
            "lower_prio_no_advert",
            "higher_prio_send_advert",
            "notify_master_rx_lower_pri",
            "check_unicast_src",
            "unicast_ttl",
            "old_unicast_checksum",
            "kernel_rx_buf_size",
            "linkbeat_use_polling",
            "notify_priority_changes",
            "unicast_fault_no_peer",
            "garp_extra_if",
        }
    ),
)

URL = BlockSpec(
    "url",
    {
        "path": _f("path", v.string),
        "digest": _f("digest", v.string),
        "status_code": _f("status_code", v.status_codes),
        "virtualhost": _f("virtualhost", v.string),
    },
    unsupported=frozenset(
        {
            "regex",
            "regex_no_match",
            "regex_options",
            "regex_stack",
            "regex_min_offset",
            "regex_max_offset",
        }
    ),
)

_CHECKER_UNSUPPORTED = frozenset({"bind_if", "fwmark", "log_all_failures", "alpha"})
HTTP_GET = BlockSpec(
    "HTTP_GET",
    {
        **_same({**CHECK_TIMING, **CHECK_CONN, "virtualhost": v.string}),
        "url": _f("urls", _url, block=True, repeat=True),
    },
    aliases={"nb_get_retry": "retry"},
    unsupported=_CHECKER_UNSUPPORTED | {"http_protocol", "fast_recovery", "enable_sni"},
)
SSL_GET = BlockSpec("SSL_GET", HTTP_GET.fields, HTTP_GET.aliases, HTTP_GET.unsupported)
TCP_CHECK = BlockSpec(
    "TCP_CHECK",
    _same({**CHECK_TIMING, **CHECK_CONN}),
    aliases={"nb_get_retry": "retry"},
    unsupported=_CHECKER_UNSUPPORTED,
)
MISC_CHECK = BlockSpec(
    "MISC_CHECK",
    {
        **_same(
            {k: CHECK_TIMING[k] for k in ("retry", "delay_before_retry", "delay_loop", "warmup")}
        ),
        "misc_path": _f("misc_path", v.script),
        "misc_timeout": _f("misc_timeout", v.timer(0.001, 3600)),
        "misc_dynamic": _f("misc_dynamic", v.flag),
    },
    aliases={"nb_get_retry": "retry"},
    unsupported=frozenset({"user", "alpha", "log_all_failures"}),
)
CHECKERS = {s.name: s for s in (HTTP_GET, SSL_GET, TCP_CHECK, MISC_CHECK)}
_OTHER_CHECKERS = frozenset(
    {"SMTP_CHECK", "DNS_CHECK", "BFD_CHECK", "UDP_CHECK", "PING_CHECK", "FILE_CHECK"}
)

REAL_SERVER = BlockSpec(
    "real_server",
    {
        **_same(
            {
                "weight": v.integer(0, 65535),
                "inhibit_on_failure": v.boolean,
                "notify_up": v.script,
                "notify_down": v.script,
                **CHECK_TIMING,
            }
        ),
        **{k: _f("checkers", _checker, block=True, repeat=True) for k in CHECKERS},
    },
    unsupported=_OTHER_CHECKERS
    | {"uthreshold", "lthreshold", "smtp_alert", "virtualhost", "snmp_name", "alpha", "lvs_method"},
)

VIRTUAL_SERVER = BlockSpec(
    "virtual_server",
    {
        **_same(
            {
                "delay_loop": v.timer(0.001, 86400),
                "lvs_sched": v.choice(
                    "rr",
                    "wrr",
                    "lc",
                    "wlc",
                    "lblc",
                    "sh",
                    "mh",
                    "dh",
                    "fo",
                    "ovf",
                    "lblcr",
                    "sed",
                    "nq",
                    "twos",
                ),
                "lvs_method": v.choice("NAT", "DR", "TUN"),
                "protocol": v.choice("TCP", "UDP", "SCTP"),
                "quorum": v.integer(0, 65535),
                "hysteresis": v.integer(0, 65535),
                "alpha": v.boolean,
                "omega": v.boolean,
                "inhibit_on_failure": v.boolean,
                "ha_suspend": v.flag,
                "virtualhost": v.string,
                **{k: r for k, r in CHECK_TIMING.items() if k != "delay_loop"},
            }
        ),
        "persistence_timeout": _f(
            "persistence_timeout",
            lambda st, d: (
                v.parse_int(st.args[0], 1, 2678400, "persistence_timeout")
                if st.args
                else m.DEFAULT_PERSISTENCE_TIMEOUT
            ),
        ),
        "sorry_server": _f("sorry_server", v.address_port),
        "real_server": _f("real_servers", _real_server, block=True, repeat=True),
    },
    aliases={"lb_algo": "lvs_sched", "lb_kind": "lvs_method"},
    unsupported=frozenset(
        {
            "persistence_granularity",
            "persistence_engine",
            "quorum_up",
            "quorum_down",
            "sorry_server_inhibit",
            "sorry_server_lvs_method",
            "smtp_alert",
            "snmp_name",
            "ops",
            "flag-1",
            "flag-2",
            "flag-3",
            "sh-port",
            "sh-fallback",
            "mh-port",
            "mh-fallback",
            "ip_family",
            "warmup",
            "retry_count",
        }
    ),
)

TOP = BlockSpec(
    "the top level",
    {},
    unsupported=frozenset(
        {
            "virtual_server_group",
            "static_ipaddress",
            "static_routes",
            "static_rules",
            "linkbeat_interfaces",
            "track_file",
            "vrrp_track_file",
            "track_process",
            "garp_group",
            "interface_up_down_delays",
            "bfd_instance",
            "net_namespace",
            "instance",
        }
    ),
)
TOP_BLOCKS = ("global_defs", "vrrp_script", "vrrp_sync_group", "vrrp_instance", "virtual_server")
ALL_SPECS = (
    GLOBAL_DEFS,
    VRRP_SCRIPT,
    VRRP_SYNC_GROUP,
    AUTH,
    VRRP_INSTANCE,
    URL,
    HTTP_GET,
    TCP_CHECK,
    MISC_CHECK,
    REAL_SERVER,
    VIRTUAL_SERVER,
)
