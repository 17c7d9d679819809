"""Readers of keyword arguments: one typed value from one statement, or a diagnostic.

Pure. A reader takes a ``Statement`` and the list diagnostics go to; it returns the
value, or raises ``Bad`` carrying the error that makes the statement unusable. Extra
arguments, which keepalived ignores, are a warning and do not stop the value.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from ipaddress import AddressValueError, IPv4Address, ip_address
from typing import Any

from lablb.config.diagnostics import Diagnostic, error, warning
from lablb.config.lexer import Token
from lablb.config.model import IPAddress, Script, SyncDaemon
from lablb.config.tree import Statement

Reader = Callable[[Statement, list[Diagnostic]], Any]
BOOLEANS = {"on": True, "true": True, "yes": True, "off": False, "false": False, "no": False}
# What a web page shows in place of an address it hides from crawlers.
EMAIL_PLACEHOLDER = "[email protected]"


class Bad(Exception):
    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


def bad(tok: Token, code: str, message: str, hint: str = "") -> Bad:
    return Bad(error(tok.where, code, message, hint))


def arg(stmt: Statement, diags: list[Diagnostic], what: str) -> Token:
    """The one argument of ``stmt``; more than one is a warning (keepalived ignores them)."""
    if not stmt.args:
        # (the keywords after which keepalived stops reading are caught before this:
        # ``lablb.config.blocks.read_block``, from ``lablb.config.no_value``)
        raise bad(
            stmt.keyword,
            "missing-argument",
            f"{stmt.name} needs {what}",
            f"write it as: {stmt.name} <{what}>",
        )
    if len(stmt.args) > 1:
        extra = " ".join(t.text for t in stmt.args[1:])
        whole = " ".join(t.text for t in stmt.args)
        hint = (
            f"'{EMAIL_PLACEHOLDER}' is what a web page shows in place of an address it "
            "hides: the real address was lost when the text was copied"
            if EMAIL_PLACEHOLDER in whole
            else "remove them, or quote a value with spaces"
        )
        diags.append(
            warning(
                stmt.args[1].where,
                "extra-argument",
                f"{stmt.name} takes one value; keepalived ignores '{extra}'",
                hint,
            )
        )
    return stmt.args[0]


def no_args(stmt: Statement, diags: list[Diagnostic]) -> None:
    if stmt.args:
        diags.append(
            warning(
                stmt.args[0].where,
                "extra-argument",
                f"{stmt.name} takes no value; keepalived ignores "
                f"'{' '.join(t.text for t in stmt.args)}'",
            )
        )


def parse_int(tok: Token, lo: int, hi: int, name: str) -> int:
    try:
        value = int(tok.text, 10)
    except ValueError:
        raise bad(
            tok,
            "bad-number",
            f"{name} wants a whole number, not '{tok.text}'",
            f"a whole number from {lo} to {hi}",
        ) from None
    if not lo <= value <= hi:
        raise bad(
            tok,
            "out-of-range",
            f"{name} {value} is outside [{lo}, {hi}]",
            f"use a value from {lo} to {hi}",
        )
    return value


def parse_float(tok: Token, lo: float, hi: float, name: str) -> float:
    try:
        value = float(tok.text)
    except ValueError:
        raise bad(
            tok,
            "bad-number",
            f"{name} wants a number of seconds, not '{tok.text}'",
            "seconds, fractions allowed (e.g. 0.5)",
        ) from None
    if math.isnan(value) or not lo <= value <= hi:
        raise bad(
            tok,
            "out-of-range",
            f"{name} {tok.text} is outside [{lo:g}, {hi:g}]",
            f"use a value from {lo:g} to {hi:g}",
        )
    return value


def parse_ipv4(tok: Token, name: str) -> IPv4Address:
    try:
        return IPv4Address(tok.text)
    except AddressValueError:
        raise bad(
            tok,
            "bad-address",
            f"{name} wants an IPv4 address, not '{tok.text}'",
            "dotted quad, e.g. 172.30.0.22",
        ) from None


def parse_ip(tok: Token, name: str) -> IPAddress:
    """An IPv4 or IPv6 address, as keepalived takes wherever it takes an address."""
    try:
        return ip_address(tok.text)
    except ValueError:
        raise bad(
            tok,
            "bad-address",
            f"{name} wants an IPv4 or IPv6 address, not '{tok.text}'",
            "e.g. 172.30.0.22 or 2001:db8::22",
        ) from None


def ip(stmt: Statement, diags: list[Diagnostic]) -> IPAddress:
    return parse_ip(arg(stmt, diags, "an address"), stmt.name)


def ip_prefix_ignored(stmt: Statement, diags: list[Diagnostic]) -> IPAddress:
    """An address where keepalived also takes ``ADDR/PREFIX`` and drops the prefix
    (``unicast_src_ip 10.0.0.2/24`` runs: measured on 2.2.7); said as a warning."""
    tok = arg(stmt, diags, "an address")
    if "/" in tok.text:
        addr, _, prefix = tok.text.partition("/")
        if prefix.isdigit():
            diags.append(
                warning(
                    tok.where,
                    "prefix-ignored",
                    f"{stmt.name} {tok.text}: keepalived uses the address and ignores /{prefix}",
                    f"write {stmt.name} {addr}",
                )
            )
            return parse_ip(Token(addr, tok.where), stmt.name)
    return parse_ip(tok, stmt.name)


def integer(lo: int, hi: int) -> Reader:
    def read(stmt: Statement, diags: list[Diagnostic]) -> int:
        return parse_int(arg(stmt, diags, "a number"), lo, hi, stmt.name)

    return read


def weight_reverse(lo: int, hi: int) -> Reader:
    """``weight W [reverse|noreverse]`` (track files, FILE_CHECK): (W, reverse)."""

    def read(stmt: Statement, diags: list[Diagnostic]) -> tuple[int, bool]:
        if not stmt.args:
            raise bad(stmt.keyword, "missing-argument", "weight needs a number")
        w = parse_int(stmt.args[0], lo, hi, "weight")
        option = stmt.args[1].text if len(stmt.args) > 1 else "noreverse"
        if option not in ("reverse", "noreverse"):
            raise bad(stmt.args[1], "bad-value", f"weight option {option!r}", "reverse")
        return w, option == "reverse"

    return read


def timer(lo: float = 0.0, hi: float = 86400.0) -> Reader:
    def read(stmt: Statement, diags: list[Diagnostic]) -> float:
        return parse_float(arg(stmt, diags, "seconds"), lo, hi, stmt.name)

    return read


def string(stmt: Statement, diags: list[Diagnostic]) -> str:
    return arg(stmt, diags, "a value").text


def ipv4(stmt: Statement, diags: list[Diagnostic]) -> IPv4Address:
    return parse_ipv4(arg(stmt, diags, "an address"), stmt.name)


def port(stmt: Statement, diags: list[Diagnostic]) -> int:
    return parse_int(arg(stmt, diags, "a port"), 0, 65535, stmt.name)


def flag(stmt: Statement, diags: list[Diagnostic]) -> bool:
    no_args(stmt, diags)
    return True


def boolean(stmt: Statement, diags: list[Diagnostic]) -> bool:
    """``keyword [on|off|true|false|yes|no]``; the bare keyword means on."""
    if not stmt.args:
        return True
    tok = arg(stmt, diags, "on|off")
    try:
        return BOOLEANS[tok.text.lower()]
    except KeyError:
        raise bad(
            tok, "bad-value", f"{stmt.name} wants on|off|true|false|yes|no, not '{tok.text}'"
        ) from None


def choice(*names: str) -> Reader:
    def read(stmt: Statement, diags: list[Diagnostic]) -> str:
        tok = arg(stmt, diags, "|".join(names))
        if tok.text in names:
            return tok.text
        folded = {n.lower(): n for n in names}
        hint = (
            f"did you mean {folded[tok.text.lower()]}? keepalived is case-sensitive here"
            if tok.text.lower() in folded
            else f"one of: {', '.join(names)}"
        )
        raise bad(tok, "bad-value", f"{stmt.name} does not know '{tok.text}'", hint)

    return read


def script(stmt: Statement, diags: list[Diagnostic]) -> Script:
    """``keyword <STRING>|<QUOTED-STRING> [username [groupname]]``."""
    if not stmt.args:
        raise bad(
            stmt.keyword,
            "missing-argument",
            f"{stmt.name} needs a command",
            'quote a command with arguments: "/path/script arg"',
        )
    toks = stmt.args
    if len(toks) > 3:
        diags.append(
            warning(
                toks[3].where,
                "extra-argument",
                f"{stmt.name} takes a command, a user and a group; keepalived ignores the rest",
                "quote a command with arguments",
            )
        )
    return Script(
        toks[0].text,
        toks[1].text if len(toks) > 1 else None,
        toks[2].text if len(toks) > 2 else None,
    )


def words(stmt: Statement, diags: list[Diagnostic]) -> tuple[str, ...]:
    """A block that is a plain list: ``notification_email { a@b c@d }``."""
    assert stmt.block is not None
    out: list[str] = []
    for item in stmt.block:
        if item.block is not None:
            diags.append(
                error(
                    item.where, "unexpected-block", f"{stmt.name} holds a list of words, not blocks"
                )
            )
            continue
        out.extend(t.text for t in (item.keyword, *item.args))
    return tuple(out)


def address_port(stmt: Statement, diags: list[Diagnostic]) -> tuple[IPAddress, int | None]:
    """``keyword <IPADDR> [<PORT>]``."""
    if not stmt.args:
        raise bad(stmt.keyword, "missing-argument", f"{stmt.name} needs an address")
    addr = parse_ip(stmt.args[0], stmt.name)
    port_ = parse_int(stmt.args[1], 0, 65535, f"{stmt.name} port") if len(stmt.args) > 1 else None
    if len(stmt.args) > 2:
        diags.append(
            warning(
                stmt.args[2].where,
                "extra-argument",
                f"{stmt.name} takes an address and a port; keepalived ignores the rest",
            )
        )
    return addr, port_


def parse_hex(tok: Token, name: str) -> bytes:
    """Hex digits (keepalived's <HEX_STR>), any case, an even count."""
    text = tok.text[2:] if tok.text.lower().startswith("0x") else tok.text
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise bad(
            tok, "bad-value", f"{name} wants hex digits, not '{tok.text}'", "e.g. 0a0b0c"
        ) from None


def hex_bytes(stmt: Statement, diags: list[Diagnostic]) -> bytes:
    return parse_hex(arg(stmt, diags, "hex digits"), stmt.name)


def optional_hex(stmt: Statement, diags: list[Diagnostic]) -> bytes:
    """``require_reply [<HEX_STR>]``: the bare keyword is an empty prefix (any reply)."""
    return parse_hex(stmt.args[0], stmt.name) if stmt.args else b""


def status_codes(stmt: Statement, diags: list[Diagnostic]) -> tuple[tuple[int, int], ...]:
    """``status_code 200 200-299 ...`` as inclusive ranges."""
    if not stmt.args:
        raise bad(
            stmt.keyword,
            "missing-argument",
            "status_code needs codes or ranges",
            "e.g. status_code 200 or status_code 200-299",
        )
    out: list[tuple[int, int]] = []
    for tok in stmt.args:
        lo_s, _, hi_s = tok.text.partition("-")
        lo = parse_int(Token(lo_s, tok.where), 100, 599, "status_code")
        hi = parse_int(Token(hi_s, tok.where), 100, 599, "status_code") if hi_s else lo
        if hi < lo:
            raise bad(tok, "bad-value", f"status_code range {tok.text} runs backwards")
        out.append((lo, hi))
    return tuple(out)


def sync_daemon(stmt: Statement, diags: list[Diagnostic]) -> SyncDaemon:
    """``lvs_sync_daemon INTERFACE VRRP_INSTANCE [id N] [maxlen N] [port P] [ttl N]
    [group G]``."""
    if len(stmt.args) < 2:
        raise bad(
            stmt.keyword,
            "missing-argument",
            f"{stmt.name} needs an interface and a vrrp_instance name",
        )
    iface, inst = stmt.args[0].text, stmt.args[1].text
    opts: dict[str, Any] = {}
    rest = list(stmt.args[2:])
    while rest:
        key = rest.pop(0)
        if not rest:
            raise bad(key, "missing-argument", f"{stmt.name} {key.text} needs a value")
        val = rest.pop(0)
        if key.text == "id":
            opts["sync_id"] = parse_int(val, 0, 255, "lvs_sync_daemon id")
        elif key.text == "port":
            opts["port"] = parse_int(val, 1, 65535, "lvs_sync_daemon port")
        elif key.text == "group":
            opts["group"] = parse_ipv4(val, "lvs_sync_daemon group")
        elif key.text in ("maxlen", "ttl"):
            parse_int(val, 1, 65535, f"lvs_sync_daemon {key.text}")
        else:
            raise bad(
                key,
                "bad-value",
                f"{stmt.name}: unknown option {key.text!r}",
                "options are id, maxlen, port, ttl, group",
            )
    return SyncDaemon(iface, inst, **opts)
