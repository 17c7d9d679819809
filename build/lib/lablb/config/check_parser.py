"""The LVS side of keepalived.conf: ``virtual_server_group``, ``virtual_server``,
``real_server`` and every checker (after keepalived's ``check_parser.c`` and the
``check_*.c`` readers).

Pure: statements in, typed values and diagnostics out. lablb runs HTTP_GET, SSL_GET,
TCP_CHECK, MISC_CHECK, UDP_CHECK, PING_CHECK, SMTP_CHECK, DNS_CHECK and FILE_CHECK;
BFD_CHECK is read and validated, and kept on the real server as ``Unsupported`` so that
a check counts and the renderer writes it back.
"""

from __future__ import annotations

from dataclasses import dataclass

from lablb.config import model as m
from lablb.config import values as v
from lablb.config.blocks import BlockSpec, Read, f, kept, read_block, same, value_of
from lablb.config.diagnostics import Diagnostic, error, warning
from lablb.config.lexer import Token
from lablb.config.tree import Statement

CHECK_TIMING = {
    "connect_timeout": v.timer(0.001, 3600),
    "retry": v.integer(0, 100),
    "delay_before_retry": v.timer(0, 3600),
    "delay_loop": v.timer(0.001, 86400),
    "warmup": v.timer(0, 86400),
}
CHECK_CONN = {"connect_ip": v.ip, "connect_port": v.port, "bindto": v.ip, "bind_port": v.port}
SCHEDULERS = (
    "rr", "wrr", "lc", "wlc", "lblc", "sh", "mh", "dh", "fo", "ovf", "lblcr", "sed", "nq", "twos",
)  # fmt: skip

URL = BlockSpec(
    "url",
    {
        "path": f("path", v.string),
        "digest": f("digest", v.string),
        "status_code": f("status_code", v.status_codes),
        "virtualhost": f("virtualhost", v.string),
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


def url(st: Statement, diags: list[Diagnostic]) -> m.Url:
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
                r.at("digest"),
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
        tuple(r.lines.items()),
    )


# Every checker takes these (keepalived.conf(5), "CHECKER_TYPE"), MISC_CHECK a subset.
_COMMON_UNSUPPORTED = frozenset({"bind_if", "fwmark", "log_all_failures", "alpha"})
HTTP_GET = BlockSpec(
    "HTTP_GET",
    {
        **same({**CHECK_TIMING, **CHECK_CONN, "virtualhost": v.string}),
        "url": f("urls", url, block=True, repeat=True),
    },
    # keepalived 2.2.7 reads nb_get_retry only here, as an error (check_http.c); in every
    # other checker it is an unknown keyword.
    aliases={"nb_get_retry": "retry"},
    deprecated=frozenset({"nb_get_retry"}),
    unsupported=_COMMON_UNSUPPORTED | {"http_protocol", "fast_recovery"},
)
SSL_GET = BlockSpec(
    "SSL_GET",
    HTTP_GET.fields,
    HTTP_GET.aliases,
    HTTP_GET.unsupported | {"enable_sni"},
    deprecated=HTTP_GET.deprecated,
)
TCP_CHECK = BlockSpec(
    "TCP_CHECK",
    same({**CHECK_TIMING, **CHECK_CONN}),
    unsupported=_COMMON_UNSUPPORTED,
)
MISC_CHECK = BlockSpec(
    "MISC_CHECK",
    {
        **same(
            {k: CHECK_TIMING[k] for k in ("retry", "delay_before_retry", "delay_loop", "warmup")}
        ),
        "misc_path": f("misc_path", v.script),
        "misc_timeout": f("misc_timeout", v.timer(0.001, 3600)),
        "misc_dynamic": f("misc_dynamic", v.flag),
    },
    unsupported=frozenset({"user", "alpha", "log_all_failures"}),
)
UDP_CHECK = BlockSpec(
    "UDP_CHECK",
    {
        **same({**CHECK_TIMING, **CHECK_CONN}),
        "payload": f("payload", v.hex_bytes),
        "require_reply": f("require_reply", v.optional_hex),
        "min_reply_length": f("min_reply_length", v.integer(0, 65535)),
        "max_reply_length": f("max_reply_length", v.integer(0, 65535)),
    },
    unsupported=_COMMON_UNSUPPORTED,
)
PING_CHECK = BlockSpec(
    "PING_CHECK", same({**CHECK_TIMING, **CHECK_CONN}), unsupported=_COMMON_UNSUPPORTED
)
SMTP_CHECK = BlockSpec(
    "SMTP_CHECK",
    {**same({**CHECK_TIMING, **CHECK_CONN}), "helo_name": f("helo_name", v.string)},
    # "host { ... }" is keepalived 1.x's way to check several hosts: read, not run.
    unsupported=_COMMON_UNSUPPORTED | {"host"},
)
DNS_TYPES = ("A", "NS", "CNAME", "SOA", "MX", "TXT", "AAAA", "SRV", "PTR", "CAA")
DNS_CHECK = BlockSpec(
    "DNS_CHECK",
    {
        **same({**CHECK_TIMING, **CHECK_CONN}),
        "type": f("dns_type", v.choice(*DNS_TYPES)),
        "name": f("dns_name", v.string),
    },
    unsupported=_COMMON_UNSUPPORTED,
)


# FILE_CHECK has none of the standard options (keepalived.conf(5)).
FILE_CHECK = BlockSpec(
    "FILE_CHECK",
    {
        "track_file": f("track_file", v.string),
        "weight": f("file_weight", v.weight_reverse(-2147483647, 2147483647)),
    },
)
CHECKERS = {
    s.name: s
    for s in (
        HTTP_GET, SSL_GET, TCP_CHECK, MISC_CHECK, UDP_CHECK, PING_CHECK, SMTP_CHECK, DNS_CHECK,
        FILE_CHECK,
    )
}  # fmt: skip

# The checker lablb reads and does not run: its keywords, validated.
BFD_CHECK = BlockSpec("BFD_CHECK", {}, unsupported=frozenset({"name", "alpha", "weight"}))
OTHER_CHECKERS = {s.name: s for s in (BFD_CHECK,)}


@dataclass
class PartialChecker:
    kind: str
    read: Read


def checker(st: Statement, diags: list[Diagnostic]) -> PartialChecker:
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
    if st.name == "FILE_CHECK" and "track_file" not in r.values:
        diags.append(
            error(st.where, "missing-required", "FILE_CHECK has no track_file", "track_file NAME")
        )
    return PartialChecker(st.name, r)


@dataclass
class PartialRealServer:
    address: m.IPAddress
    port: int | None
    read: Read


REAL_SERVER = BlockSpec(
    "real_server",
    {
        **same(
            {
                "weight": v.integer(0, 2147483647),
                "inhibit_on_failure": v.boolean,
                "notify_up": v.script,
                "notify_down": v.script,
                **CHECK_TIMING,
            }
        ),
        **{k: f("checkers", checker, block=True, repeat=True) for k in CHECKERS},
    },
    unsupported=frozenset(OTHER_CHECKERS)
    | {
        "uthreshold",
        "lthreshold",
        "smtp_alert",
        "virtualhost",
        "snmp_name",
        "alpha",
        "lvs_method",
    },
    checks={
        **{name: kept(spec) for name, spec in OTHER_CHECKERS.items()},
        "uthreshold": value_of(v.integer(0, 2**32 - 1)),
        "lthreshold": value_of(v.integer(0, 2**32 - 1)),
    },
)


def real_server(st: Statement, diags: list[Diagnostic]) -> PartialRealServer:
    assert st.block is not None
    address, port_ = v.address_port(st, diags)
    return PartialRealServer(address, port_, read_block(st.block, REAL_SERVER, diags, st.where))


def _persistence(st: Statement, diags: list[Diagnostic]) -> int:
    if not st.args:
        return m.DEFAULT_PERSISTENCE_TIMEOUT
    return v.parse_int(st.args[0], 1, 2678400, "persistence_timeout")


VIRTUAL_SERVER = BlockSpec(
    "virtual_server",
    {
        **same(
            {
                "delay_loop": v.timer(0.001, 86400),
                "lvs_sched": v.choice(*SCHEDULERS),
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
        "persistence_timeout": f("persistence_timeout", _persistence),
        "sorry_server": f("sorry_server", v.address_port),
        "real_server": f("real_servers", real_server, block=True, repeat=True),
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
            "retry_count",
        }
    ),
    checks={
        "quorum_up": value_of(v.script),
        "quorum_down": value_of(v.script),
        "ip_family": value_of(v.choice("inet", "inet6")),
        "sorry_server_lvs_method": value_of(v.choice("NAT", "DR", "TUN")),
    },
)


def _range_entry(tok: Token) -> Diagnostic | None:
    """``ADDR-LAST``: LAST replaces the address's last byte (IPv4) or group (IPv6)."""
    base, _, last = tok.text.partition("-")
    try:
        addr = v.parse_ip(Token(base, tok.where), "virtual_server_group")
    except v.Bad as b:
        return b.diagnostic
    top = 255 if addr.version == 4 else 0xFFFF
    try:
        end = int(last, 10 if addr.version == 4 else 16)
    except ValueError:
        return error(tok.where, "bad-range", f"range end '{last}' of {tok.text} is not a number")
    first = int(str(addr).split(".")[-1]) if addr.version == 4 else int(addr) & 0xFFFF
    if end > top:
        return error(
            tok.where,
            "bad-range",
            f"virtual_server_group range {tok.text}: end {last} is past {top}",
            "the end replaces the last byte of the address: 10.0.0.100-110",
        )
    if end < first:
        return error(
            tok.where, "bad-range", f"virtual_server_group range {tok.text} runs backwards"
        )
    return None


def group_entry(st: Statement, diags: list[Diagnostic]) -> None:
    """``ADDR[-LAST] PORT``, ``fwmark N`` (keepalived.conf(5), virtual_server_group)."""
    if st.name == "fwmark":
        if not st.args:
            diags.append(error(st.where, "missing-argument", "fwmark needs a number"))
            return
        v.parse_int(st.args[0], 1, 2**32 - 1, "fwmark")
        return
    if "-" in st.name:
        problem = _range_entry(st.keyword)
        if problem is not None:
            diags.append(problem)
            return
    else:
        v.parse_ip(st.keyword, "virtual_server_group")
    if st.args:
        v.parse_int(st.args[0], 1, 65535, "virtual_server_group port")


def group_block(st: Statement, diags: list[Diagnostic]) -> int:
    """Check a ``virtual_server_group NAME { ... }``; the number of usable entries."""
    if st.block is None:
        diags.append(error(st.where, "missing-block", f"{st.name} needs a {{ }} block"))
        return 0
    good = 0
    for item in st.block:
        before = len(diags)
        try:
            group_entry(item, diags)
        except v.Bad as b:
            diags.append(b.diagnostic)
        good += len(diags) == before
    if st.block and not good:
        diags.append(
            warning(
                st.where,
                "empty-group",
                f"virtual_server_group {' '.join(t.text for t in st.args)} has no usable entry; "
                "keepalived removes it",
            )
        )
    return good
