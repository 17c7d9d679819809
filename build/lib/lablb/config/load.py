"""Assemble a ``KeepalivedConfig`` from the statement tree; the parser's entry point.

Pure, like the rest of ``lablb.config``: ``parse(path, reader)`` reads through the
reader it is given. Here the top-level blocks are built and the checker timings are
resolved the way keepalived inherits them: checker, else real_server, else
virtual_server, else the checker type's default.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lablb.config import check_parser as lvs
from lablb.config import global_parser as glob
from lablb.config import model as m
from lablb.config import values as v
from lablb.config import vrrp_parser as vrrp
from lablb.config.blocks import BlockSpec, Field, Read, read_block, unsupported_of
from lablb.config.diagnostics import Diagnostic, Severity, Where, error
from lablb.config.files import FileReader, node_config_id
from lablb.config.tree import Reader, Statement, read_tree
from lablb.errors import ConfigError


def _block_name(st: Statement, diags: list[Diagnostic]) -> str:
    if not st.args:
        raise v.bad(
            st.keyword, "missing-argument", f"{st.name} needs a name", f"{st.name} NAME {{ ... }}"
        )
    return v.arg(st, diags, "a name").text


def _global_defs(st: Statement, diags: list[Diagnostic]) -> Read:
    assert st.block is not None
    v.no_args(st, diags)
    return read_block(st.block, glob.GLOBAL_DEFS, diags, st.where)


def _vrrp_script(st: Statement, diags: list[Diagnostic]) -> m.VrrpScript:
    assert st.block is not None
    name = _block_name(st, diags)
    r = read_block(st.block, vrrp.VRRP_SCRIPT, diags, st.where)
    if "script" not in r.values:
        diags.append(error(st.where, "missing-required", f"vrrp_script {name} has no script"))
    return m.VrrpScript(name, **_block(r), **r.values)


def _sync_group(st: Statement, diags: list[Diagnostic]) -> m.SyncGroup:
    assert st.block is not None
    name = _block_name(st, diags)
    r = read_block(st.block, vrrp.VRRP_SYNC_GROUP, diags, st.where)
    return m.SyncGroup(name, **_block(r), **r.values)


def _instance(st: Statement, diags: list[Diagnostic]) -> m.VrrpInstance:
    assert st.block is not None
    name = _block_name(st, diags)
    r = read_block(st.block, vrrp.VRRP_INSTANCE, diags, st.where)
    values = dict(r.values)
    values.pop("_preempt", None)  # "preempt" is keepalived's default, kept for compatibility
    for required in ("interface", "virtual_router_id"):
        if required not in values and required not in r.lines:
            diags.append(
                error(
                    st.where,
                    "missing-required",
                    f"vrrp_instance {name} has no {required}",
                    "keepalived refuses an instance without it",
                )
            )
    return m.VrrpInstance(name, **_block(r), **values)


def _block(r: Read) -> dict[str, Any]:
    """The fields every model block has: where, kept keywords, keyword lines."""
    return {"where": r.where, "unsupported": tuple(r.unsupported), "lines": tuple(r.lines.items())}


def _checker(pc: lvs.PartialChecker, inherited: dict[str, Any], rs_port: int | None) -> m.Checker:
    own = pc.read.values

    def pick(key: str, default: Any) -> Any:
        return own.get(key, inherited.get(key, default))

    delay_loop = pick("delay_loop", m.DEFAULT_DELAY_LOOP)
    retry_delay = m.CHECKER_DEFAULT_DELAY_BEFORE_RETRY.get(pc.kind, delay_loop)
    file_weight, file_reverse = own.get("file_weight", (0, False))
    return m.Checker(
        kind=pc.kind,  # type: ignore[arg-type]
        connect_ip=own.get("connect_ip"),
        connect_port=own.get("connect_port", rs_port),
        bindto=own.get("bindto"),
        bind_port=own.get("bind_port"),
        connect_timeout=pick("connect_timeout", m.DEFAULT_CONNECT_TIMEOUT),
        retry=pick("retry", m.CHECKER_DEFAULT_RETRY[pc.kind]),
        delay_before_retry=pick("delay_before_retry", retry_delay),
        delay_loop=delay_loop,
        warmup=pick("warmup", None),
        urls=tuple(own.get("urls", ())),
        misc_path=own.get("misc_path"),
        misc_timeout=own.get("misc_timeout"),
        misc_dynamic=own.get("misc_dynamic", False),
        payload=own.get("payload"),
        require_reply=own.get("require_reply"),
        min_reply_length=own.get("min_reply_length", 0),
        max_reply_length=own.get("max_reply_length", m.DEFAULT_MAX_REPLY_LENGTH),
        helo_name=own.get("helo_name"),
        dns_type=own.get("dns_type", "SOA"),
        dns_name=own.get("dns_name", "."),
        track_file=own.get("track_file"),
        file_weight=file_weight,
        file_reverse=file_reverse,
        **_block(pc.read),
    )


def _virtual_server(st: Statement, diags: list[Diagnostic]) -> m.VirtualServer | m.Unsupported:
    assert st.block is not None
    head: dict[str, Any] = {}
    if st.args and st.args[0].text == "group":
        if len(st.args) < 2:
            raise v.bad(st.keyword, "missing-argument", "virtual_server group needs a name")
        # Read for its diagnostics; kept whole (lablb's lab does not run groups).
        read_block(st.block, lvs.VIRTUAL_SERVER, diags, st.where)
        return unsupported_of(st)
    if st.args and st.args[0].text == "fwmark":
        if len(st.args) < 2:
            raise v.bad(st.keyword, "missing-argument", "virtual_server fwmark needs a number")
        head["fwmark"] = v.parse_int(st.args[1], 1, 2**32 - 1, "fwmark")
    else:
        head["address"], head["port"] = v.address_port(st, diags)
    r = read_block(st.block, lvs.VIRTUAL_SERVER, diags, st.where)
    values = dict(r.values)
    inherited = {k: values.pop(k) for k in lvs.CHECK_TIMING if k in values and k != "delay_loop"}
    inherited["delay_loop"] = values.get("delay_loop", m.DEFAULT_DELAY_LOOP)
    real_servers = []
    for prs in values.pop("real_servers", []):
        rs = dict(prs.read.values)
        rs_inherited = {**inherited, **{k: rs.pop(k) for k in lvs.CHECK_TIMING if k in rs}}
        port_ = prs.port if prs.port is not None else head.get("port")
        checkers = tuple(_checker(pc, rs_inherited, port_) for pc in rs.pop("checkers", []))
        rs.setdefault("inhibit_on_failure", values.get("inhibit_on_failure", False))
        real_servers.append(
            m.RealServer(
                prs.address,
                port_,
                checkers=checkers,
                **_block(prs.read),
                **rs,
            )
        )
    return m.VirtualServer(
        **head,
        **values,
        real_servers=tuple(real_servers),
        **_block(r),
    )


TOP = BlockSpec(
    "the top level",
    {
        "global_defs": Field("global_defs", _global_defs, block=True, repeat=True),
        "vrrp_script": Field("vrrp_scripts", _vrrp_script, block=True, repeat=True),
        "vrrp_sync_group": Field("vrrp_sync_groups", _sync_group, block=True, repeat=True),
        "vrrp_instance": Field("vrrp_instances", _instance, block=True, repeat=True),
        "virtual_server": Field("virtual_servers", _virtual_server, block=True, repeat=True),
    },
    unsupported=glob.TOP_KEPT,
    checks=glob.TOP_CHECKS,
)


@dataclass(frozen=True)
class Parsed:
    config: m.KeepalivedConfig
    diagnostics: tuple[Diagnostic, ...]

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity is Severity.ERROR)


def _unique(items: list[Any], what: str, diags: list[Diagnostic]) -> tuple[Any, ...]:
    seen: dict[str, Any] = {}
    for item in items:
        if item.name in seen:
            diags.append(
                error(
                    item.where,
                    "duplicate-name",
                    f"{what} {item.name} is declared twice (first at {seen[item.name].where})",
                    "give each a name of its own",
                )
            )
        seen.setdefault(item.name, item)
    return tuple(items)


def parse(path: str, reader: Reader, config_id: str = "") -> Parsed:
    """Parse ``path`` (and its includes) into a config and its diagnostics, reading
    conditional lines for ``config_id``; never raises for a mistake in the file."""
    tree = read_tree(path, reader, config_id)
    diags = list(tree.diagnostics)
    r = read_block(tree.statements, TOP, diags, Where(path, 1, 1))
    template = next((d for d in diags if d.code == "template"), None)
    if template is not None:
        # Every other error follows from the placeholders: say the one cause.
        diags = [template]
    values = r.values
    gd_values: dict[str, Any] = {}
    gd_unsupported: list[m.Unsupported] = []
    gd_lines: dict[str, Where] = {}
    for gd in values.get("global_defs", []):
        gd_values.update(gd.values)
        gd_unsupported.extend(gd.unsupported)
        gd_lines.update(gd.lines)
    if "smtp_server" in gd_values:
        ip, port_ = gd_values["smtp_server"]
        gd_values["smtp_server"] = m.SmtpServer(str(ip), port_ or m.DEFAULT_SMTP_PORT)
    first_gd = values["global_defs"][0].where if values.get("global_defs") else Where(path, 0, 0)
    config = m.KeepalivedConfig(
        path=path,
        files=tree.files,
        global_defs=m.GlobalDefs(
            where=first_gd,
            unsupported=tuple(gd_unsupported),
            lines=tuple(gd_lines.items()),
            **gd_values,
        ),
        vrrp_scripts=_unique(values.get("vrrp_scripts", []), "vrrp_script", diags),
        vrrp_sync_groups=_unique(values.get("vrrp_sync_groups", []), "vrrp_sync_group", diags),
        vrrp_instances=_unique(values.get("vrrp_instances", []), "vrrp_instance", diags),
        virtual_servers=tuple(
            vs for vs in values.get("virtual_servers", []) if isinstance(vs, m.VirtualServer)
        ),
        unsupported=tuple(r.unsupported)
        + tuple(vs for vs in values.get("virtual_servers", []) if isinstance(vs, m.Unsupported)),
    )
    return Parsed(config, tuple(diags))


def _parsed(path: str, reader: Reader | None, config_id: str | None) -> Parsed:
    if reader is None:
        reader = FileReader()
    if config_id is None:
        config_id = node_config_id()
    return parse(path, reader, config_id)


def _refuse(path: str, errors: Sequence[Diagnostic], why: str = "") -> ConfigError:
    first = errors[0]
    more = f" (and {len(errors) - 1} more; run lablb check {path})" if len(errors) > 1 else ""
    return ConfigError(
        why + first.message + more,
        file=first.where.file,
        line=first.where.line,
        col=first.where.col,
        hint=first.hint,
    )


def load(
    path: str, reader: Reader | None = None, config_id: str | None = None
) -> m.KeepalivedConfig:
    """Parse strictly: the config, or ``ConfigError`` naming the first error (what
    lablb writes itself must load this way). The config id defaults to keepalived's:
    the node name up to its first dot."""
    parsed = _parsed(path, reader, config_id)
    if parsed.errors:
        raise _refuse(path, parsed.errors)
    return parsed.config


def load_running(
    path: str, reader: Reader | None = None, config_id: str | None = None
) -> tuple[m.KeepalivedConfig, tuple[Diagnostic, ...]]:
    """Parse as keepalived starts: the config with what it ignores, truncates or
    rewrites left out or done (an unknown or obsolete keyword, an over-long auth_pass,
    a value out of range), and those errors, which the lab reports as warnings.
    ``ConfigError`` only for what keepalived would not start with (a fatal error) and
    for an unrendered template (it would start, on placeholders: nothing to learn)."""
    parsed = _parsed(path, reader, config_id)
    # keepalived exits at start, seen in the lab, on a keyword without the value it
    # needs ("permanent error CONFIG. Terminating") and on an includem/includea/includew
    # that matches no file ("Config files missing", then "Stopped").
    must_match = ("include-missing",)
    fatal = [
        d for d in parsed.errors
        if d.fatal or d.stops or d.code in UNRUNNABLE or (d.code in must_match and d.security)
    ]  # fmt: skip
    if fatal:
        unbalanced = "the lab cannot run a file whose blocks do not close: "
        odd = "the lab does not run a file with a no-break or other odd space: "
        why = {
            "template": "",
            "missing-brace": unbalanced,
            "unexpected-brace": unbalanced,
            "nbsp": odd,
            "odd-space": odd,
        }.get(fatal[0].code, "keepalived would not start: ")
        raise _refuse(path, fatal, why)
    config, rewritten = as_keepalived_runs(parsed.config)
    return config, (*parsed.errors, *rewritten)


def as_keepalived_runs(
    config: m.KeepalivedConfig,
) -> tuple[m.KeepalivedConfig, list[Diagnostic]]:
    """What keepalived 2.2.7 rewrites as it starts, done, and said: a VRRPv2
    ``advert_int`` that is not whole seconds is rounded, half up and to at least 1 s
    ("must be an integer. rounding"; measured on the wire: 0.3, 0.5 and 1.4 all
    advertise every 1 s)."""
    said: list[Diagnostic] = []

    def whole(inst: m.VrrpInstance) -> m.VrrpInstance:
        if config.version_of(inst) != 2 or inst.advert_int == int(inst.advert_int):
            return inst
        rounded = float(max(1, math.floor(inst.advert_int + 0.5)))
        said.append(error(
            m.at(inst, "advert_int"),
            "advert-int-v2",
            f"vrrp_instance {inst.name}: advert_int {inst.advert_int:g} is not whole seconds; "
            f"VRRPv2 carries whole seconds and keepalived rounds it to {rounded:g}",
            "version 3 for sub-second adverts",
        ))  # fmt: skip
        return dataclasses.replace(inst, advert_int=rounded)

    instances = tuple(map(whole, config.vrrp_instances))
    return dataclasses.replace(config, vrrp_instances=instances), said


def carried_on(d: Diagnostic) -> str:
    """One line of what keepalived ignores, truncates or rewrites and runs without."""
    return f"{d.where}: {d.message} (keepalived carries on)"


# Errors keepalived starts with that the lab will not run: an unrendered template (it
# would run on placeholders), braces that do not balance (keepalived reads the rest of
# the file into the open block: what runs is an accident of the file's layout; a
# reload of such a file keeps the running config), and a no-break space (keepalived
# glues it to the word beside it and skips that line, or a whole block; lablb reads
# past it to report everything, so its model is not what keepalived would run).
UNRUNNABLE = ("template", "missing-brace", "unexpected-brace", "nbsp", "odd-space")


def load_lenient(
    path: str, reader: Reader | None = None, config_id: str | None = None
) -> m.KeepalivedConfig:
    """``load_running``'s config alone: for the lab's own reads of a set it already
    reported on."""
    return load_running(path, reader, config_id)[0]
