"""The VRRP side of keepalived.conf: ``vrrp_script``, ``vrrp_sync_group``,
``vrrp_instance`` and what they hold (after keepalived's ``vrrp_parser.c``).

Pure: statements in, typed values and diagnostics out. Addresses are IPv4 or IPv6
wherever keepalived takes either; routes and rules are read by ``lablb.config.routes``.
"""

from __future__ import annotations

from ipaddress import ip_address, ip_interface

from lablb.config import model as m
from lablb.config import routes
from lablb.config import values as v
from lablb.config.blocks import BlockSpec, each_line, f, kept, read_block, same, value_of
from lablb.config.diagnostics import Diagnostic, error
from lablb.config.lexer import Token
from lablb.config.tree import Statement

SCRIPTS = {
    k: v.script for k in ("notify_master", "notify_backup", "notify_fault", "notify_stop", "notify")
}
# Options of an address line, and whether each takes a value (ip address add's).
ADDRESS_OPTIONS = {
    "brd": True,
    "broadcast": True,
    "dev": True,
    "scope": True,
    "label": True,
    "peer": True,
    "track_group": True,
    "preferred_lft": True,
    "home": False,
    "-nodad": False,
    "nodad": False,
    "noprefixroute": False,
    "mngtmpaddr": False,
    "autojoin": False,
    "no_track": False,
}


def vip_entry(st: Statement, diags: list[Diagnostic]) -> m.VirtualAddress:
    """``ADDR[/PREFIX] [brd X] [dev IF] [scope S] [label L] [peer P] [home] ...``."""
    addr = st.keyword
    problem = routes.address_error(addr, "address")
    if problem is not None:
        raise v.Bad(problem)
    iface = ip_interface(addr.text)
    opts: dict[str, Token] = {}
    args = list(st.args)
    while args:
        key = args.pop(0)
        takes = ADDRESS_OPTIONS.get(key.text)
        if takes is None or (takes and not args):
            diags.append(
                error(
                    key.where,
                    "bad-value",
                    f"address option '{key.text}' is not understood"
                    if takes is None
                    else f"address option '{key.text}' needs a value",
                    "ADDR[/PREFIX] [brd ADDR] [dev IFNAME] [scope SCOPE] [label LABEL] ...",
                )
            )
            break
        opts[key.text] = args.pop(0) if takes else key
    brd_tok = opts.get("brd") or opts.get("broadcast")
    brd: m.IPAddress | None = None
    if brd_tok is not None and brd_tok.text not in ("-", "+"):
        brd = v.parse_ip(brd_tok, "brd")
    if "peer" in opts:
        routes.address_family(opts["peer"], "peer", diags)

    def text(key: str) -> str | None:
        tok = opts.get(key)
        return tok.text if tok is not None else None

    return m.VirtualAddress(iface, text("dev"), brd, text("scope"), text("label"), addr.where)


def entries(entry: v.Reader) -> v.Reader:
    def read(stmt: Statement, diags: list[Diagnostic]) -> tuple[object, ...]:
        assert stmt.block is not None
        out = []
        for item in stmt.block:
            try:
                out.append(entry(item, diags))
            except v.Bad as b:
                diags.append(b.diagnostic)
        return tuple(out)

    return read


def tracked(st: Statement, diags: list[Diagnostic]) -> m.Tracked:
    """``NAME [weight <-253..253> [reverse]]`` (track_interface, track_script, ...)."""
    weight: int | None = None
    reverse = False
    args = list(st.args)
    while args:
        key = args.pop(0)
        if key.text == "weight" and args:
            weight = v.parse_int(args.pop(0), -254, 254, "weight")
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


def peer(st: Statement, diags: list[Diagnostic]) -> m.IPAddress:
    """``ADDR [min_ttl N] [max_ttl N]``."""
    args = list(st.args)
    while args:
        key = args.pop(0)
        if key.text in ("min_ttl", "max_ttl") and args:
            v.parse_int(args.pop(0), 0, 255, key.text)
        else:
            diags.append(
                error(
                    key.where,
                    "bad-value",
                    f"unicast_peer: '{key.text}' is not understood",
                    "ADDR [min_ttl N] [max_ttl N], one address a line",
                )
            )
            break
    try:
        return ip_address(st.name)
    except ValueError:
        raise v.bad(
            st.keyword,
            "bad-address",
            f"unicast_peer '{st.name}' is not an IPv4 or IPv6 address",
            "one address a line, e.g. 172.30.0.12",
        ) from None


AUTH = BlockSpec(
    "authentication",
    {"auth_type": f("auth_type", v.choice("PASS", "AH")), "auth_pass": f("auth_pass", v.string)},
)


def authentication(st: Statement, diags: list[Diagnostic]) -> m.Authentication | None:
    assert st.block is not None
    r = read_block(st.block, AUTH, diags, st.where)
    if "auth_type" not in r.values:
        raise v.bad(st.keyword, "missing-required", "authentication needs auth_type PASS|AH")
    password: str = r.values.get("auth_pass", "")
    if len(password) > 8:
        diags.append(
            error(
                r.at("auth_pass"),
                "auth-pass-truncated",
                f"auth_pass is {len(password)} characters; keepalived truncates it to "
                f"the first 8 ('{password[:8]}')",
                "use at most 8 characters (VRRPv2's authentication field holds 8)",
            )
        )
    return m.Authentication(r.values["auth_type"], password[:8])


def _route(virtual: bool) -> v.Reader:
    def check(st: Statement, diags: list[Diagnostic]) -> None:
        routes.read_route(st, diags, virtual=virtual)

    return check


def _rule(st: Statement, diags: list[Diagnostic]) -> None:
    routes.read_rule(st, diags)


def _address(st: Statement, diags: list[Diagnostic]) -> None:
    vip_entry(st, diags)


static_addresses = each_line(_address)
virtual_routes = each_line(_route(virtual=True))
static_routes = each_line(_route(virtual=False))
rules = each_line(_rule)


def _tracked_line(st: Statement, diags: list[Diagnostic]) -> None:
    tracked(st, diags)


# A block listing tracked names: ``track_file { NAME [weight W [reverse]] }``.
_names = each_line(_tracked_line)


VRRP_SCRIPT = BlockSpec(
    "vrrp_script",
    {
        "script": f("script", v.script),
        **same(
            {
                # 2.2.7 reads whole seconds here (vrrp_parser.c: read_unsigned_strvec).
                "interval": v.integer(1, 4294),
                "timeout": v.integer(1, 4294),
                "weight": v.integer(-254, 254),
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
        "group": f("group", v.words, block=True),
        **same(SCRIPTS),
        "smtp_alert": f("smtp_alert", v.boolean),
    },
    unsupported=frozenset(
        {
            "track_interface",
            "track_script",
            "track_file",
            "track_process",
            "track_bfd",
            "global_tracking",
            "sync_group_tracking_weight",
            "notify_priority_changes",
            "notify_deleted",
        }
    ),
    checks={k: _names for k in ("track_interface", "track_script", "track_file", "track_process")},
)

VRRP_INSTANCE = BlockSpec(
    "vrrp_instance",
    {
        **same(
            {
                "interface": v.string,
                "virtual_router_id": v.integer(1, 255),
                "state": v.choice("MASTER", "BACKUP"),
                "priority": v.integer(1, 255),
                "advert_int": v.timer(0.01, 255),
                "version": v.integer(2, 3),
                "nopreempt": v.flag,
                "preempt_delay": v.timer(0, 1000),
                "unicast_src_ip": v.ip_prefix_ignored,
                "smtp_alert": v.boolean,
                "garp_master_delay": v.timer(0, 255),
                "garp_master_repeat": v.integer(0, 255),
                "garp_master_refresh": v.timer(0, 86400),
                "garp_master_refresh_repeat": v.integer(0, 255),
                "down_timer_adverts": v.integer(1, 100),
                "check_unicast_src": v.flag,
                **SCRIPTS,
            }
        ),
        "preempt": f("_preempt", v.flag),
        "authentication": f("authentication", authentication, block=True),
        "virtual_ipaddress": f("virtual_ipaddress", entries(vip_entry), block=True),
        "virtual_ipaddress_excluded": f(
            "virtual_ipaddress_excluded", entries(vip_entry), block=True
        ),
        "unicast_peer": f("unicast_peer", entries(peer), block=True),
        "track_interface": f("track_interface", entries(tracked), block=True),
        "track_script": f("track_script", entries(tracked), block=True),
    },
    unsupported=frozenset(
        {
            "use_vmac",
            "use_vmac_addr",
            "use_ipvlan",
            "vmac_xmit_base",
            "native_ipv6",
            "dont_track_primary",
            "mcast_src_ip",
            "mcast_dst_ip",
            "track_src_ip",
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
            "notify_priority_changes",
            "notify_deleted",
            "unicast_ttl",
            "old_unicast_checksum",
            "kernel_rx_buf_size",
            "linkbeat_use_polling",
            "unicast_fault_no_peer",
            "garp_extra_if",
            "promote_secondaries",
            "vrf",
        }
    ),
    checks={
        "virtual_routes": virtual_routes,
        "virtual_rules": rules,
        "track_file": _names,
        "track_process": _names,
        "track_bfd": _names,
        "mcast_src_ip": value_of(v.ip),
        "mcast_dst_ip": value_of(v.ip),
        "unicast_ttl": value_of(v.integer(1, 255)),
    },
)


# Top-level blocks the VRRP side reads but lablb does not model.
def _init_file(st: Statement, diags: list[Diagnostic]) -> None:
    """``init_file [VALUE] [overwrite]``."""
    for tok in st.args:
        if tok.text != "overwrite":
            v.parse_int(tok, -(2**31), 2**31 - 1, "init_file")


TRACK_FILE = BlockSpec(
    "track_file",
    {},
    unsupported=frozenset({"file", "weight", "init_file"}),
    checks={
        "file": value_of(v.string),
        "weight": value_of(v.weight_reverse(-2147483647, 2147483647)),
        "init_file": _init_file,
    },
)
TRACK_PROCESS = BlockSpec(
    "vrrp_track_process",
    {},
    unsupported=frozenset(
        {
            "process",
            "param_match",
            "weight",
            "quorum",
            "quorum_max",
            "fork_delay",
            "terminate_delay",
            "delay",
            "full_command",
        }
    ),
    checks={
        "quorum": value_of(v.integer(0, 65535)),
        "quorum_max": value_of(v.integer(0, 65535)),
    },
)
BFD_INSTANCE = BlockSpec(
    "bfd_instance",
    {},
    unsupported=frozenset(
        {
            "neighbor_ip",
            "source_ip",
            "min_rx",
            "min_tx",
            "idle_tx",
            "multiplier",
            "passive",
            "ttl",
            "hoplimit",
            "max_hops",
            "weight",
            "vrrp",
            "checker",
        }
    ),
    checks={
        "neighbor_ip": value_of(v.ip),
        "source_ip": value_of(v.ip),
        "multiplier": value_of(v.integer(1, 255)),
    },
)
track_file_block = kept(TRACK_FILE, args=True)
track_process_block = kept(TRACK_PROCESS, args=True)
bfd_instance_block = kept(BFD_INSTANCE, args=True)
