"""Addresses, routes and rules as keepalived reads them: the lines of
``static_ipaddress``, ``virtual_ipaddress``, ``static_routes``, ``virtual_routes``,
``static_rules`` and ``virtual_rules`` (keepalived.conf(5), "Static
routes/addresses/rules"; the syntax is ``ip address``/``ip route``/``ip rule``'s,
without abbreviations).

Pure: a statement in, a small typed value and diagnostics out. lablb's lab does not
install routes or rules; it reads them so that ``lablb check`` reports what keepalived
reports (an invalid address, an unknown keyword, a missing value) at the word's own
position.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import ip_address

from lablb.config.diagnostics import Diagnostic, error
from lablb.config.lexer import Token
from lablb.config.tree import Statement

Family = int  # 4 or 6


@dataclass(frozen=True)
class Route:
    family: Family
    destination: str
    dev: str | None
    track: bool  # a virtual route is tracked unless no_track


@dataclass(frozen=True)
class Rule:
    family: Family
    table: str | None


def _family_of(text: str) -> Family | None:
    """4 or 6 for an address or prefix, None when it is neither."""
    addr, slash, prefix = text.partition("/")
    try:
        parsed = ip_address(addr)
    except ValueError:
        return None
    if slash:
        try:
            bits = int(prefix, 10)
        except ValueError:
            return None
        if not 0 <= bits <= parsed.max_prefixlen:
            return None
    return parsed.version


def _bad_address(tok: Token, what: str) -> Diagnostic:
    return error(
        tok.where,
        "bad-address",
        f"{what} '{tok.text}' is not an IPv4 or IPv6 address[/prefix]",
        "e.g. 192.168.100.0/24 or 2001:db8::/64",
    )


def _prefix_error(tok: Token) -> Diagnostic | None:
    """An address whose prefix length is out of range gets its own message."""
    addr, _, prefix = tok.text.partition("/")
    try:
        parsed = ip_address(addr)
        bits = int(prefix, 10)
    except ValueError:
        return None
    if bits > parsed.max_prefixlen:
        return error(
            tok.where,
            "bad-prefix",
            f"prefix length {bits} of {tok.text} is outside [0, {parsed.max_prefixlen}]",
            f"keepalived uses /{parsed.max_prefixlen} instead",
        )
    return None


def address_error(tok: Token, what: str) -> Diagnostic | None:
    """What is wrong with an address[/prefix], or None."""
    if _family_of(tok.text) is not None:
        return None
    return _prefix_error(tok) or _bad_address(tok, what)


def address_family(tok: Token, what: str, diags: list[Diagnostic]) -> Family | None:
    problem = address_error(tok, what)
    if problem is not None:
        diags.append(problem)
    return _family_of(tok.text)


# Values a keyword takes: a reader checks the word and reports what is wrong with it.
ValueCheck = Callable[[Token, str, list[Diagnostic]], None]


def _number(lo: int, hi: int) -> ValueCheck:
    def check(tok: Token, key: str, diags: list[Diagnostic]) -> None:
        text = tok.text
        try:
            value = int(text, 0)
        except ValueError:
            diags.append(error(tok.where, "bad-number", f"{key} wants a number, not '{text}'"))
            return
        if not lo <= value <= hi:
            diags.append(error(tok.where, "out-of-range", f"{key} {text} is outside [{lo}, {hi}]"))

    return check


def _any(tok: Token, key: str, diags: list[Diagnostic]) -> None:
    return None


def _addr(tok: Token, key: str, diags: list[Diagnostic]) -> None:
    address_family(tok, f"{key} address", diags)


def _range(tok: Token, key: str, diags: list[Diagnostic]) -> None:
    for part in tok.text.split("-", 1):
        _number(0, 2**32 - 1)(Token(part, tok.where), key, diags)


def _mark(tok: Token, key: str, diags: list[Diagnostic]) -> None:
    for part in tok.text.split("/", 1):
        _number(0, 2**32 - 1)(Token(part, tok.where), key, diags)


_U32 = _number(0, 2**32 - 1)
_U8 = _number(0, 255)

# ip route options: keyword -> value check (None: a flag with no value).
ROUTE_OPTIONS: dict[str, ValueCheck | None] = {
    "src": _addr,
    "from": _addr,
    "via": _addr,
    "gw": _addr,
    "or": _addr,
    "dev": _any,
    "oif": _any,
    "table": _any,
    "metric": _U32,
    "priority": _U32,
    "preference": _U32,
    "scope": _any,
    "protocol": _any,
    "proto": _any,
    "tos": _U8,
    "dsfield": _U8,
    "mtu": _any,
    "advmss": _U32,
    "rtt": _any,
    "rttvar": _any,
    "reordering": _U32,
    "window": _U32,
    "cwnd": _U32,
    "ssthresh": _any,
    "realms": _any,
    "rto_min": _any,
    "initcwnd": _U32,
    "initrwnd": _U32,
    "features": _any,
    "quickack": _number(0, 1),
    "fastopen_no_cookie": _number(0, 1),
    "congctl": _any,
    "pref": _any,
    "hoplimit": _U8,
    "expires": _U32,
    "vrf": _any,
    "track_group": _any,
    "lock": None,
    "onlink": None,
    "no_track": None,
    "append": None,
    "inet6": None,
    "inet": None,
    "nexthop": None,
    "weight": _number(1, 256),
    "encap": _any,
}
ROUTE_TYPES = (
    "unicast",
    "local",
    "broadcast",
    "multicast",
    "throw",
    "unreachable",
    "prohibit",
    "blackhole",
    "nat",
    "anycast",
)

RULE_OPTIONS: dict[str, ValueCheck | None] = {
    "from": _addr,
    "to": _addr,
    "table": _any,
    "lookup": _any,
    "priority": _U32,
    "preference": _U32,
    "order": _U32,
    "iif": _any,
    "dev": _any,
    "oif": _any,
    "tos": _U8,
    "dsfield": _U8,
    "fwmark": _mark,
    "realms": _any,
    "goto": _U32,
    "uidrange": _range,
    "protocol": _any,
    "ip_proto": _any,
    "sport": _range,
    "dport": _range,
    "suppress_prefixlength": _U32,
    "suppress_ifgroup": _any,
    "track_group": _any,
    "l3mdev": None,
    "not": None,
    "no_track": None,
    "inet6": None,
    "inet": None,
    "nop": None,
    "unreachable": None,
    "prohibit": None,
    "blackhole": None,
}


def _options(
    toks: list[Token], options: dict[str, ValueCheck | None], what: str, diags: list[Diagnostic]
) -> dict[str, Token | None]:
    seen: dict[str, Token | None] = {}
    i = 0
    while i < len(toks):
        tok = toks[i]
        key = tok.text
        if key not in options:
            diags.append(
                error(
                    tok.where,
                    f"unknown-{what}-keyword",
                    f"unknown {what} keyword '{key}'",
                    f"the syntax is ip {what}'s, without abbreviations (keepalived.conf(5))",
                )
            )
            return seen
        check = options[key]
        if check is None:
            seen[key] = None
            i += 1
            continue
        if i + 1 >= len(toks):
            diags.append(
                error(tok.where, "missing-argument", f"{what} keyword '{key}' needs a value")
            )
            return seen
        value = toks[i + 1]
        check(value, key, diags)
        seen[key] = value
        i += 2
    return seen


def read_route(st: Statement, diags: list[Diagnostic], *, virtual: bool) -> Route | None:
    """One ``static_routes``/``virtual_routes`` line."""
    toks = [st.keyword, *st.args]
    head: list[Token] = []
    # Leading "src ADDR" / "from ADDR" / "to", then the destination.
    while toks and toks[0].text in ("src", "from") and len(toks) > 1:
        head.extend(toks[:2])
        _addr(toks[1], toks[0].text, diags)
        toks = toks[2:]
    if toks and toks[0].text == "to":
        toks = toks[1:]
    if toks and toks[0].text in ROUTE_TYPES:
        toks = toks[1:]
    if not toks:
        diags.append(error(st.where, "missing-argument", "a route needs a destination"))
        return None
    dest = toks[0]
    family: Family | None = 4
    if dest.text != "default":
        family = address_family(dest, "route destination", diags)
        if family is None:
            return None
    opts = _options(toks[1:], ROUTE_OPTIONS, "route", diags)
    if "inet6" in opts:
        family = 6
    dev = opts.get("dev") or opts.get("oif")
    route = Route(family or 4, dest.text, dev.text if dev else None, "no_track" not in opts)
    if virtual and route.track and route.dev is None:
        diags.append(
            error(
                st.where,
                "route-no-interface",
                f"virtual route {dest.text} names no interface, so keepalived cannot track it",
                "add dev IFNAME, or no_track",
            )
        )
    return route


def read_rule(st: Statement, diags: list[Diagnostic]) -> Rule | None:
    """One ``static_rules``/``virtual_rules`` line."""
    opts = _options([st.keyword, *st.args], RULE_OPTIONS, "rule", diags)
    family: Family = 6 if "inet6" in opts else 4
    for key in ("from", "to"):
        tok = opts.get(key)
        if tok is not None and _family_of(tok.text) == 6:
            family = 6
    table = opts.get("table") or opts.get("lookup")
    return Rule(family, table.text if table else None)
