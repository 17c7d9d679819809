"""``KeepalivedConfig`` -> keepalived.conf text: the parser's inverse.

Pure. A scenario that needs a variant of a config changes the model (a function from
``KeepalivedConfig`` to ``KeepalivedConfig``, ``dataclasses.replace`` all the way down)
and renders it; no scenario edits config text.

The text is canonical, not a copy of the original: comments and includes are gone (the
model holds the included statements in place), every checker states its own timings
(keepalived's inheritance from real_server and virtual_server is already resolved in
the model), and legacy keyword names are written in their modern form. What lablb
parses but does not act on (``Unsupported``) is written back as it was read, blocks
included, so keepalived still sees it. ``parse(render(c)) == c`` up to ``where`` and
``path``; the suite checks that and that ``keepalived -t`` accepts the text.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from lablb.config import model as m
from lablb.config.tree import Statement

INDENT = "    "
_PLAIN_FORBIDDEN = set(" \t\r\n\v\f\"'#!{}\\")


class Unrenderable(ValueError):
    """A value keepalived's reader could not read back (e.g. a string holding both
    kinds of quote)."""


def word(text: str) -> str:
    """One token as keepalived's lexer reads it back: bare when it can be, else quoted."""
    if text and not (_PLAIN_FORBIDDEN & set(text)):
        return text
    if "\\" in text or "\n" in text:
        raise Unrenderable(f"{text!r} cannot be written as one keepalived token")
    if '"' not in text:
        return f'"{text}"'
    if "'" not in text:
        return f"'{text}'"
    raise Unrenderable(f"{text!r} holds both kinds of quote")


def seconds(value: float) -> str:
    """A timer as keepalived reads it: decimal, never an exponent (``1e-05``)."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text or "0"


def statement_lines(stmts: Iterable[Statement], depth: int = 0) -> Iterator[str]:
    """Statements as text (for blocks lablb keeps but does not model)."""
    for st in stmts:
        head = " ".join(word(t.text) for t in (st.keyword, *st.args))
        if st.block is None:
            yield INDENT * depth + head
        else:
            yield INDENT * depth + head + " {"
            yield from statement_lines(st.block, depth + 1)
            yield INDENT * depth + "}"


def _line(depth: int, keyword: str, *args: object) -> str:
    parts = [keyword, *(a if isinstance(a, str) else str(a) for a in args)]
    return INDENT * depth + " ".join(parts)


def _unsupported(items: Iterable[m.Unsupported], depth: int) -> Iterator[str]:
    for u in items:
        head = " ".join(word(t) for t in (u.keyword, *u.args))
        if u.block is None:
            yield INDENT * depth + head
        else:
            yield INDENT * depth + head + " {"
            yield from (INDENT * (depth + 1) + line for line in u.block)
            yield INDENT * depth + "}"


def _script(depth: int, keyword: str, s: m.Script | None) -> Iterator[str]:
    if s is not None:
        extra = [word(x) for x in (s.user, s.group) if x is not None]
        yield _line(depth, keyword, word(s.command), *extra)


def _block(depth: int, head: str, body: Iterable[str]) -> Iterator[str]:
    yield INDENT * depth + head + " {"
    yield from body
    yield INDENT * depth + "}"


def _global_defs(g: m.GlobalDefs) -> Iterator[str]:
    d = 1
    if g.notification_email:
        yield from _block(
            d, "notification_email", (_line(d + 1, word(e)) for e in g.notification_email)
        )
    if g.notification_email_from is not None:
        yield _line(d, "notification_email_from", word(g.notification_email_from))
    if g.smtp_server is not None:
        yield _line(d, "smtp_server", g.smtp_server.address, g.smtp_server.port)
    if g.smtp_helo_name is not None:
        yield _line(d, "smtp_helo_name", word(g.smtp_helo_name))
    if g.smtp_connect_timeout != m.DEFAULT_SMTP_CONNECT_TIMEOUT:
        yield _line(d, "smtp_connect_timeout", seconds(g.smtp_connect_timeout))
    if g.router_id is not None:
        yield _line(d, "router_id", word(g.router_id))
    # Only what differs from keepalived's defaults: some defaults are not values keepalived
    # accepts when written (vrrp_garp_interval 0 is "invalid" to it).
    defaults = m.GlobalDefs()
    integers = (
        "vrrp_version",
        "vrrp_garp_master_repeat",
        "vrrp_garp_master_refresh_repeat",
        "vrrp_priority",
        "vrrp_rt_priority",
        "vrrp_rlimit_rttime",
    )
    for key in integers:
        if getattr(g, key) != getattr(defaults, key):
            yield _line(d, key, getattr(g, key))
    for key in ("vrrp_garp_master_delay", "vrrp_garp_master_refresh", "vrrp_garp_interval"):
        if getattr(g, key) != getattr(defaults, key):
            yield _line(d, key, seconds(getattr(g, key)))
    if g.vrrp_check_unicast_src:
        yield _line(d, "vrrp_check_unicast_src")
    if g.lvs_sync_daemon is not None:
        s = g.lvs_sync_daemon
        yield _line(
            d,
            "lvs_sync_daemon",
            word(s.interface),
            word(s.instance),
            "id",
            s.sync_id,
            "port",
            s.port,
            "group",
            s.group,
        )
    yield from _unsupported(g.unsupported, d)


def _vrrp_script(s: m.VrrpScript) -> Iterator[str]:
    yield from _script(1, "script", s.script)
    yield _line(1, "interval", seconds(s.interval))
    if s.timeout is not None:
        yield _line(1, "timeout", seconds(s.timeout))
    yield _line(1, "weight", s.weight)
    yield _line(1, "rise", s.rise)
    yield _line(1, "fall", s.fall)
    if s.init_fail:
        yield _line(1, "init_fail")
    yield from _unsupported(s.unsupported, 1)


_NOTIFY = ("notify_master", "notify_backup", "notify_fault", "notify_stop", "notify")


def _sync_group(g: m.SyncGroup) -> Iterator[str]:
    yield from _block(1, "group", (_line(2, word(n)) for n in g.group))
    for key in _NOTIFY:
        yield from _script(1, key, getattr(g, key))
    if g.smtp_alert:
        yield _line(1, "smtp_alert")
    yield from _unsupported(g.unsupported, 1)


def _vip(a: m.VirtualAddress, depth: int) -> str:
    opts: list[object] = []
    for key, value in (("brd", a.brd), ("dev", a.dev), ("scope", a.scope), ("label", a.label)):
        if value is not None:
            opts += [key, word(str(value))]
    return _line(depth, str(a.interface), *opts)


def _tracked(t: m.Tracked, depth: int) -> str:
    opts: list[object] = [] if t.weight is None else ["weight", t.weight]
    if t.reverse:
        opts.append("reverse")
    return _line(depth, word(t.name), *opts)


def _instance(i: m.VrrpInstance) -> Iterator[str]:
    d = 1
    yield _line(d, "state", i.state)
    if i.interface is not None:
        yield _line(d, "interface", word(i.interface))
    if i.virtual_router_id is not None:
        yield _line(d, "virtual_router_id", i.virtual_router_id)
    yield _line(d, "priority", i.priority)
    if i.version is not None:
        yield _line(d, "version", i.version)
    yield _line(d, "advert_int", seconds(i.advert_int))
    if i.nopreempt:
        yield _line(d, "nopreempt")
    if i.preempt_delay:
        yield _line(d, "preempt_delay", seconds(i.preempt_delay))
    if i.authentication is not None:
        a = i.authentication
        yield from _block(
            d,
            "authentication",
            (_line(d + 1, "auth_type", a.auth_type), _line(d + 1, "auth_pass", word(a.auth_pass))),
        )
    yield from _instance_addresses(i, d)
    yield from _instance_events(i, d)
    yield from _unsupported(i.unsupported, d)


def _instance_addresses(i: m.VrrpInstance, d: int) -> Iterator[str]:
    """Its VIPs, unicast peers and what it tracks."""
    for key in ("virtual_ipaddress", "virtual_ipaddress_excluded"):
        addrs: tuple[m.VirtualAddress, ...] = getattr(i, key)
        if addrs:
            yield from _block(d, key, (_vip(a, d + 1) for a in addrs))
    if i.unicast_src_ip is not None:
        yield _line(d, "unicast_src_ip", i.unicast_src_ip)
    if i.unicast_peer:
        yield from _block(d, "unicast_peer", (_line(d + 1, str(p)) for p in i.unicast_peer))
    if i.check_unicast_src:
        yield _line(d, "check_unicast_src")
    for key in ("track_interface", "track_script"):
        tracked: tuple[m.Tracked, ...] = getattr(i, key)
        if tracked:
            yield from _block(d, key, (_tracked(t, d + 1) for t in tracked))


def _instance_events(i: m.VrrpInstance, d: int) -> Iterator[str]:
    """What it does on a change: notify scripts, mail, GARPs, and its down timer."""
    for key in _NOTIFY:
        yield from _script(d, key, getattr(i, key))
    if i.smtp_alert:
        yield _line(d, "smtp_alert")
    for key in ("garp_master_delay", "garp_master_refresh"):
        value = getattr(i, key)
        if value is not None:
            yield _line(d, key, seconds(value))
    for key in ("garp_master_repeat", "garp_master_refresh_repeat"):
        value = getattr(i, key)
        if value is not None:
            yield _line(d, key, value)
    if i.down_timer_adverts != m.DEFAULT_DOWN_TIMER_ADVERTS:
        yield _line(d, "down_timer_adverts", i.down_timer_adverts)


def _url(u: m.Url, depth: int) -> Iterator[str]:
    body = [_line(depth + 1, "path", word(u.path))]
    if u.digest is not None:
        body.append(_line(depth + 1, "digest", word(u.digest)))
    codes = [str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in u.status_code]
    if u.status_code != ((200, 299),):
        body.append(_line(depth + 1, "status_code", *codes))
    if u.virtualhost is not None:
        body.append(_line(depth + 1, "virtualhost", word(u.virtualhost)))
    body.extend(_unsupported(u.unsupported, depth + 1))
    yield from _block(depth, "url", body)


def _file_check(c: m.Checker, d: int) -> Iterator[str]:
    """FILE_CHECK has none of the standard options."""
    if c.track_file is not None:
        yield _line(d, "track_file", word(c.track_file))
    if c.file_weight or c.file_reverse:
        yield _line(d, "weight", c.file_weight, *(["reverse"] if c.file_reverse else []))


def _checker(c: m.Checker, depth: int, rs_port: int | None = None) -> Iterator[str]:
    """``rs_port``: the real server's port, which the model's connect_port defaults to
    (and which keepalived would refuse as a connect_port when it is 0)."""
    d = depth + 1
    if c.kind == "FILE_CHECK":
        yield from _block(depth, c.kind, list(_file_check(c, d)))
        return
    body = [] if c.kind == "MISC_CHECK" else list(_connection(c, d, rs_port))
    body.append(_line(d, "retry", c.retry))
    body.append(_line(d, "delay_before_retry", seconds(c.delay_before_retry)))
    body.append(_line(d, "delay_loop", seconds(c.delay_loop)))
    if c.warmup is not None:
        body.append(_line(d, "warmup", seconds(c.warmup)))
    for u in c.urls:
        body.extend(_url(u, d))
    body.extend(_script(d, "misc_path", c.misc_path))
    if c.misc_timeout is not None:
        body.append(_line(d, "misc_timeout", seconds(c.misc_timeout)))
    if c.misc_dynamic:
        body.append(_line(d, "misc_dynamic"))
    body.extend(_exchange(c, d))
    body.extend(_unsupported(c.unsupported, d))
    yield from _block(depth, c.kind, body)


def _connection(c: m.Checker, d: int, rs_port: int | None) -> Iterator[str]:
    """Where a checker connects from and to (a MISC_CHECK, a script, has none)."""
    for key, addr in (("connect_ip", c.connect_ip), ("bindto", c.bindto)):
        if addr is not None:
            yield _line(d, key, addr)
    connect_port = None if c.connect_port == rs_port else c.connect_port
    for key, port in (("connect_port", connect_port), ("bind_port", c.bind_port)):
        if port is not None:
            yield _line(d, key, port)
    yield _line(d, "connect_timeout", seconds(c.connect_timeout))


def _exchange(c: m.Checker, d: int) -> Iterator[str]:
    """What a checker sends and expects back (UDP, SMTP, DNS)."""
    body: list[str] = []
    if c.payload is not None:
        body.append(_line(d, "payload", c.payload.hex()))
    if c.require_reply is not None:
        body.append(
            _line(d, "require_reply", *([c.require_reply.hex()] if c.require_reply else []))
        )
    if c.min_reply_length:
        body.append(_line(d, "min_reply_length", c.min_reply_length))
    if c.max_reply_length != m.DEFAULT_MAX_REPLY_LENGTH:
        body.append(_line(d, "max_reply_length", c.max_reply_length))
    if c.helo_name is not None:
        body.append(_line(d, "helo_name", word(c.helo_name)))
    if c.kind == "DNS_CHECK":
        body.append(_line(d, "type", c.dns_type))
        body.append(_line(d, "name", word(c.dns_name)))
    yield from body


def _real_server(rs: m.RealServer, vs: m.VirtualServer) -> Iterator[str]:
    head = f"real_server {rs.address}" + ("" if rs.port is None else f" {rs.port}")
    body: list[str] = [_line(2, "weight", rs.weight)]
    if rs.inhibit_on_failure != vs.inhibit_on_failure:
        body.append(_line(2, "inhibit_on_failure", "true" if rs.inhibit_on_failure else "false"))
    # (keepalived 2.2.7 reads "inhibit_on_failure false" in a real_server; lablb too)
    body.extend(_script(2, "notify_up", rs.notify_up))
    body.extend(_script(2, "notify_down", rs.notify_down))
    for c in rs.checkers:
        body.extend(_checker(c, 2, rs.port))
    body.extend(_unsupported(rs.unsupported, 2))
    yield from _block(1, head, body)


def _virtual_server(vs: m.VirtualServer) -> Iterator[str]:
    d = 1
    yield _line(d, "delay_loop", seconds(vs.delay_loop))
    yield _line(d, "lvs_sched", vs.lvs_sched)
    yield _line(d, "lvs_method", vs.lvs_method)
    if vs.persistence_timeout is not None:
        yield _line(d, "persistence_timeout", vs.persistence_timeout)
    if vs.fwmark is None:
        yield _line(d, "protocol", vs.protocol)
    if vs.sorry_server is not None:
        ip, port = vs.sorry_server
        yield _line(d, "sorry_server", ip, *([] if port is None else [port]))
    if vs.quorum != 1:
        yield _line(d, "quorum", vs.quorum)
    if vs.hysteresis:
        yield _line(d, "hysteresis", vs.hysteresis)
    for key in ("alpha", "omega", "inhibit_on_failure"):
        if getattr(vs, key):
            yield _line(d, key)
    if vs.ha_suspend:
        yield _line(d, "ha_suspend")
    if vs.virtualhost is not None:
        yield _line(d, "virtualhost", word(vs.virtualhost))
    for rs in vs.real_servers:
        yield from _real_server(rs, vs)
    yield from _unsupported(vs.unsupported, d)


def _vs_head(vs: m.VirtualServer) -> str:
    if vs.fwmark is not None:
        return f"virtual_server fwmark {vs.fwmark}"
    port = "" if vs.port is None else f" {vs.port}"
    return f"virtual_server {vs.address}{port}"


def render(config: m.KeepalivedConfig, header: str = "") -> str:
    """The config as keepalived.conf text; ``header`` lines become ``!`` comments."""
    out = [f"! {line}".rstrip() for line in header.splitlines()]
    if out:
        out.append("")
    out.extend(_block(0, "global_defs", _global_defs(config.global_defs)))
    # The blocks lablb keeps whole are declarations (track_file, bfd_instance, groups...):
    # keepalived resolves some references as it reads (a FILE_CHECK's track_file must be
    # declared above it), so they come before anything that can name them.
    if config.unsupported:
        out += ["", *_unsupported(config.unsupported, 0)]
    for s in config.vrrp_scripts:
        out += ["", *_block(0, f"vrrp_script {word(s.name)}", _vrrp_script(s))]
    for g in config.vrrp_sync_groups:
        out += ["", *_block(0, f"vrrp_sync_group {word(g.name)}", _sync_group(g))]
    for i in config.vrrp_instances:
        out += ["", *_block(0, f"vrrp_instance {word(i.name)}", _instance(i))]
    for vs in config.virtual_servers:
        out += ["", *_block(0, _vs_head(vs), _virtual_server(vs))]
    return "\n".join(out) + "\n"
