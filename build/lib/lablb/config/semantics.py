"""What keepalived checks once it has read a whole file, and reports or rewrites:
references between blocks, address families, settings that cancel each other, script
security, and the interfaces and scripts of the host it runs on.

Pure. Every rule here mirrors a message of keepalived 2.2.7's ``-t`` (its exit class
too; ``tests/corpus`` holds a file for each, run through the binary in the suite).
What only depends on the host comes in as a ``Host`` (the namespace's interfaces, how a
command resolves, which users exist), read at the edge by ``lablb.check``; with no
``Host`` (``lablb check --offline``) those rules are skipped.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from lablb.config import model as m
from lablb.config.diagnostics import Diagnostic, Where, error, warning
from lablb.config.track_files import TRACK_FILE_BLOCKS


@dataclass(frozen=True)
class Host:
    """What ``keepalived -t`` looks up on the machine it runs on."""

    interfaces: frozenset[str]
    resolve: Callable[[str], str | None]  # a command's program -> its path, None if not found
    user_exists: Callable[[str], bool]
    insecure: Callable[[str], bool]  # a script's path is writable by a non-root user
    namespace: str = "this network namespace"


DEFAULT_SCRIPT_USER = "keepalived_script"  # keepalived's default, when that user exists
TRACK_PROCESS_BLOCKS = ("vrrp_track_process", "track_process")


def check_config(config: m.KeepalivedConfig, host: Host | None) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    out.extend(_instances(config))
    out.extend(_strict(config))
    out.extend(_sync_groups(config))
    out.extend(_virtual_servers(config))
    interfaces = list(_interfaces(config, host)) if host is not None else []
    # keepalived -t stops validating VRRP at "Non-existent interface specified in
    # configuration": its scripts' security is then never judged (measured).
    vrrp_checked = not any(d.code == "no-such-interface" for d in interfaces)
    out.extend(_scripts(config, host, vrrp_checked))
    out.extend(interfaces)
    return out


# -- VRRP instances -------------------------------------------------------------------


def _kept_names(items: tuple[m.Unsupported, ...], keywords: tuple[str, ...]) -> set[str]:
    return {u.args[0] for u in items if u.keyword in keywords and u.args}


def _listed(inst: m.VrrpInstance, keyword: str) -> Iterator[tuple[str, Where]]:
    """The names an instance's kept ``track_file { ... }``-style block lists."""
    for u in inst.unsupported:
        if u.keyword == keyword:
            for st in u.statements:
                yield st.name, st.where


def _strict(config: m.KeepalivedConfig) -> Iterator[Diagnostic]:
    """``vrrp_strict`` (RFC conformance): keepalived reports and ignores what the RFC
    does not allow (measured: "(VI_1) Strict mode does not support authentication.
    Ignoring.", "(VI_1) State MASTER must match being address owner")."""
    if _kept(config, "vrrp_strict") is None:
        return
    for inst in config.vrrp_instances:
        if inst.authentication is not None:
            yield error(
                m.at(inst, "authentication"),
                "strict-mode",
                f"vrrp_instance {inst.name}: vrrp_strict does not allow authentication; "
                "keepalived ignores it",
                "remove authentication, or vrrp_strict",
            )
        if inst.state == "MASTER" and inst.priority != 255:
            yield error(
                m.at(inst, "state"),
                "strict-mode",
                f"vrrp_instance {inst.name}: with vrrp_strict, state MASTER is for the "
                f"address owner (priority 255), not priority {inst.priority}",
                "state BACKUP (the election decides), or priority 255",
            )


def _instances(config: m.KeepalivedConfig) -> Iterator[Diagnostic]:
    scripts = {s.name for s in config.vrrp_scripts}
    files = _kept_names(config.unsupported, TRACK_FILE_BLOCKS)
    processes = _kept_names(config.unsupported, TRACK_PROCESS_BLOCKS)
    vrids: dict[tuple[str | None, int, int], m.VrrpInstance] = {}
    for inst in config.vrrp_instances:
        family = _family(inst)
        yield from _instance(config, inst, family)
        yield from _tracks(inst, scripts, files, processes)
        if inst.virtual_router_id is None or inst.unicast_peer:
            continue
        key = (inst.interface, inst.virtual_router_id, family)
        if key in vrids:
            yield error(
                inst.where,
                "vrid-reused",
                f"vrrp_instances {vrids[key].name} and {inst.name} both use VRID "
                f"{inst.virtual_router_id} with IPv{family} on {inst.interface}",
                "each instance on one interface and family needs its own virtual_router_id",
            )
        vrids.setdefault(key, inst)


def _instance(
    config: m.KeepalivedConfig, inst: m.VrrpInstance, family: int
) -> Iterator[Diagnostic]:
    """What keepalived ignores, clears or rounds in one instance's own lines."""
    for vip in inst.virtual_ipaddress:
        if vip.ip.version != family:
            yield error(
                vip.where,
                "family-mismatch",
                f"vrrp_instance {inst.name}: {vip.interface} is IPv{vip.ip.version} in an "
                f"IPv{family} instance; keepalived ignores it",
                "one family per instance (virtual_ipaddress_excluded may mix)",
            )
    if not inst.virtual_ipaddress:
        yield error(
            inst.where,
            "no-vip",
            f"vrrp_instance {inst.name} carries no virtual_ipaddress",
            "a VRRP instance exists to move addresses; keepalived requires one",
        )
    if inst.nopreempt and inst.state == "MASTER":
        yield error(
            m.at(inst, "nopreempt"),
            "nopreempt-master",
            f"vrrp_instance {inst.name}: nopreempt with state MASTER; keepalived "
            "clears nopreempt (it works only from an initial state BACKUP)",
            "set state BACKUP on every node that should not pre-empt",
        )
    version = config.version_of(inst)
    if inst.authentication is not None and version == 3:
        yield error(
            m.at(inst, "authentication"),
            "auth-v3",
            f"vrrp_instance {inst.name}: VRRPv3 has no authentication "
            "(RFC 5798 section 9); keepalived ignores the block",
            "remove the authentication block",
        )
    if (
        inst.authentication is not None
        and inst.authentication.auth_type == "AH"
        and inst.state == "MASTER"
    ):
        yield error(
            m.at(inst, "state"),
            "auth-ah-master",
            f"vrrp_instance {inst.name}: initial state MASTER is incompatible with "
            "AH authentication; keepalived starts it as BACKUP",
            "state BACKUP (the highest priority still becomes master)",
        )
    if version == 2 and inst.advert_int != int(inst.advert_int):
        yield error(
            m.at(inst, "advert_int"),
            "advert-int-v2",
            f"vrrp_instance {inst.name}: advert_int {inst.advert_int:g} is not whole "
            "seconds; VRRPv2 carries whole seconds (RFC 3768 section 5.3.7) and "
            "keepalived rounds it",
            "version 3 for sub-second adverts",
        )


def _tracks(
    inst: m.VrrpInstance, scripts: set[str], files: set[str], processes: set[str]
) -> Iterator[Diagnostic]:
    """What an instance tracks that keepalived ignores: its own interface, or a script,
    file or process nothing declares."""
    for t in inst.track_interface:
        if t.name == inst.interface:
            yield error(
                t.where,
                "track-own-interface",
                f"vrrp_instance {inst.name} tracks its own interface {t.name}; "
                "keepalived ignores the entry (it tracks that interface anyway)",
                "remove it",
            )
    for t in inst.track_script:
        if t.name not in scripts:
            yield error(
                t.where,
                "unknown-script",
                f"track_script {t.name} names no vrrp_script; keepalived ignores it",
                f"declared scripts: {', '.join(sorted(scripts)) or 'none'}",
            )
    for name, where in _listed(inst, "track_file"):
        if name not in files:
            yield error(
                where,
                "unknown-track-file",
                f"vrrp_instance {inst.name} tracks track_file {name}, which is not "
                "declared; keepalived ignores it",
                f"declared: {', '.join(sorted(files)) or 'none'}",
            )
    for name, where in _listed(inst, "track_process"):
        if name not in processes:
            yield error(
                where,
                "unknown-track-process",
                f"vrrp_instance {inst.name} tracks vrrp_track_process {name}, which is "
                "not declared; keepalived ignores it",
                f"declared: {', '.join(sorted(processes)) or 'none'}",
            )


def _family(inst: m.VrrpInstance) -> int:
    """The instance's address family: its first VIP's (keepalived's rule), else 4."""
    if inst.virtual_ipaddress:
        return inst.virtual_ipaddress[0].ip.version
    return inst.unicast_src_ip.version if inst.unicast_src_ip is not None else 4


def _sync_groups(config: m.KeepalivedConfig) -> Iterator[Diagnostic]:
    instances = {i.name for i in config.vrrp_instances}
    member_of: dict[str, str] = {}
    for group in config.vrrp_sync_groups:
        known = 0
        for name in group.group:
            if name not in instances:
                yield error(
                    m.at(group, "group"),
                    "unknown-instance",
                    f"vrrp_sync_group {group.name} names no vrrp_instance {name}; "
                    "keepalived drops it from the group",
                )
                continue
            known += 1
            if name in member_of:
                yield error(
                    m.at(group, "group"),
                    "sync-group-overlap",
                    f"vrrp_instance {name} is in both {member_of[name]} and {group.name}",
                    "an instance belongs to one sync group",
                )
            member_of.setdefault(name, group.name)
        if known == 1:
            yield error(
                group.where,
                "sync-group-single",
                f"vrrp_sync_group {group.name} holds one vrrp_instance; a sync group "
                "synchronises two or more",
                "add the instances that must fail over together, or drop the group",
            )


# -- virtual servers --------------------------------------------------------------------


def _virtual_servers(config: m.KeepalivedConfig) -> Iterator[Diagnostic]:
    for vs in config.virtual_servers:
        written = dict(vs.lines)
        if "lvs_sched" not in written:
            yield error(
                vs.where,
                "no-scheduler",
                f"virtual_server {vs.label} sets no lvs_sched; keepalived defaults to wlc",
                "say which: lvs_sched rr|wrr|lc|wlc|...",
            )
        if "lvs_method" not in written:
            yield error(
                vs.where,
                "no-method",
                f"virtual_server {vs.label} sets no lvs_method; keepalived defaults to NAT",
                "say which: lvs_method DR|NAT|TUN",
            )
        if vs.fwmark is not None:
            if "protocol" in written:
                yield error(
                    written["protocol"],
                    "fwmark-protocol",
                    f"virtual_server {vs.label}: a protocol for an fwmark service; "
                    "keepalived ignores it (the mark selects the packets)",
                    "remove protocol",
                )
            for rs in vs.real_servers:
                if rs.port is not None:
                    yield error(
                        rs.where,
                        "fwmark-port",
                        f"real_server {rs.address} port {rs.port} behind fwmark service "
                        f"{vs.fwmark}; keepalived clears the port",
                        f"real_server {rs.address} {{ ... }}",
                    )
            continue
        if vs.port == 0 and vs.persistence_timeout is None:
            yield error(
                vs.where,
                "zero-port",
                f"virtual_server {vs.label}: port 0 (every port) without "
                "persistence_timeout; keepalived sets persistence",
                "persistence_timeout N, or a port",
            )
        if "protocol" not in written:
            yield error(
                vs.where,
                "no-protocol",
                f"virtual_server {vs.label} sets no protocol; keepalived defaults to UDP",
                "protocol TCP",
            )
        declared = {
            u.args[0]: u.where
            for u in config.unsupported
            if u.keyword in TRACK_FILE_BLOCKS and u.args
        }
        for rs in vs.real_servers:
            for c in rs.checkers:
                if c.track_file is None:
                    continue
                at = m.at(c, "track_file")
                decl = declared.get(c.track_file)
                # keepalived looks the name up as it reads the FILE_CHECK: a block further
                # down the same file is not declared yet.
                if decl is None or (decl.file == at.file and decl.line > at.line):
                    later = "" if decl is None else f" above it (it is at line {decl.line})"
                    yield error(
                        at,
                        "unknown-track-file",
                        f"real_server {rs.address}: FILE_CHECK tracks track_file "
                        f"{c.track_file}, which is not declared{later}; keepalived ignores "
                        "the checker",
                        "declare it before the virtual_server: track_file NAME { file PATH }",
                    )
            if vs.lvs_method == "DR" and vs.port is not None and rs.port not in (None, vs.port):
                yield error(
                    rs.where,
                    "dr-port-remap",
                    f"real_server {rs.address}:{rs.port} behind DR virtual_server "
                    f"{vs.label}: Direct Routing rewrites only the MAC, so keepalived "
                    "resets the port",
                    f"use port {vs.port} on the real server, or NAT",
                )


# -- scripts ----------------------------------------------------------------------------


def _all_scripts(config: m.KeepalivedConfig, vrrp: bool = True) -> Iterator[tuple[str, Where]]:
    """Every command keepalived would run: (command line, where it is configured).

    As keepalived 2.2.7 counts them for script security: the VRRP process checks its
    scripts (vrrp_script, notify) only when there is a vrrp_instance
    (``check_vrrp_script_security`` returns at once otherwise), the checker process its
    own (MISC_CHECK, notify_up/down, quorum) only when there is a virtual_server."""
    if config.vrrp_instances and vrrp:
        yield from _vrrp_scripts(config)
    yield from _checker_scripts(config)
    for u in config.global_defs.unsupported:
        if u.keyword.endswith("_script") and u.keyword != "script_user" and u.args:
            yield u.args[0], u.where


def _vrrp_scripts(config: m.KeepalivedConfig) -> Iterator[tuple[str, Where]]:
    """The VRRP process's: vrrp_script, and the instances' and groups' notify."""
    notify = ("notify_master", "notify_backup", "notify_fault", "notify_stop", "notify")
    for s in config.vrrp_scripts:
        if s.script is not None:
            yield s.script.command, m.at(s, "script")
    for block in (*config.vrrp_instances, *config.vrrp_sync_groups):
        for key in notify:
            script = getattr(block, key)
            if script is not None:
                yield script.command, m.at(block, key)


def _checker_scripts(config: m.KeepalivedConfig) -> Iterator[tuple[str, Where]]:
    """The checker process's: quorum, real servers' notify, MISC_CHECK."""
    for vs in config.virtual_servers:
        for u in vs.unsupported:
            if u.keyword in ("quorum_up", "quorum_down") and u.args:
                yield u.args[0], u.where
        for rs in vs.real_servers:
            for key in ("notify_up", "notify_down"):
                script = getattr(rs, key)
                if script is not None:
                    yield script.command, m.at(rs, key)
            for ck in rs.checkers:
                if ck.misc_path is not None:
                    yield ck.misc_path.command, m.at(ck, "misc_path")


def _kept(config: m.KeepalivedConfig, keyword: str) -> m.Unsupported | None:
    return next((u for u in config.global_defs.unsupported if u.keyword == keyword), None)


def _scripts(
    config: m.KeepalivedConfig, host: Host | None, vrrp_checked: bool = True
) -> Iterator[Diagnostic]:
    scripts = list(_all_scripts(config, vrrp_checked))
    if host is not None:
        # A script whose program cannot be found is disabled (SC_NOTFOUND) and is not a
        # script to run (no SC_ISSCRIPT): it raises no security violation. Host-dependent,
        # as the binary is; offline, every script counts.
        scripts = [(c, w) for c, w in scripts if c.split() and host.resolve(c.split()[0])]
    security = _kept(config, "enable_script_security") is not None
    if scripts:
        yield from _script_user(config, host, scripts, security)
    if host is not None:
        yield from _missing_programs(config, host, security, vrrp_checked)


def _script_user(
    config: m.KeepalivedConfig, host: Host | None, scripts: list[tuple[str, Where]], security: bool
) -> Iterator[Diagnostic]:
    """Who the scripts would run as, and whether that is root with security off."""
    user_line = _kept(config, "script_user")
    if user_line is not None and user_line.args:
        user = user_line.args[0]
        as_root = user == "root" or (host is not None and not host.user_exists(user))
    elif host is not None and host.user_exists(DEFAULT_SCRIPT_USER):
        as_root = False
    else:
        as_root = True
        if security and user_line is None:
            yield error(
                config.global_defs.where,
                "script-user-missing",
                f"enable_script_security with no script_user, and user "
                f"{DEFAULT_SCRIPT_USER} does not exist here; keepalived removes every script",
                f"script_user USER in global_defs, or create {DEFAULT_SCRIPT_USER}",
            )
    if as_root and not security:
        command, where = scripts[0]
        yield error(
            where,
            "script-security",
            f"scripts would run as root with script security off ({len(scripts)} "
            f"configured, first: {command.split()[0] if command.split() else command!r})",
            "enable_script_security and script_user in global_defs",
            security=True,
        )


def _missing_programs(
    config: m.KeepalivedConfig, host: Host, security: bool, vrrp_checked: bool
) -> Iterator[Diagnostic]:
    """keepalived checks the programs of vrrp_script and MISC_CHECK before running them.
    A vrrp_script's is judged with the VRRP instances (none, or validation stopped at a
    missing interface: not at all) and a missing one is an error ("Disabling track
    script ... since not found"); a MISC_CHECK's missing program only disables the
    checker (keepalived -t exits 0: measured on its own doc/samples)."""
    checked = []
    if config.vrrp_instances and vrrp_checked:
        checked = [(s.script.command, m.at(s, "script"), f"vrrp_script {s.name}")
                   for s in config.vrrp_scripts if s.script is not None]  # fmt: skip
    for vs in config.virtual_servers:
        for rs in vs.real_servers:
            for ck in rs.checkers:
                if ck.misc_path is not None:
                    checked.append((ck.misc_path.command, m.at(ck, "misc_path"), "MISC_CHECK"))
    for command, where, what in checked:
        words = command.split()
        if not words:
            continue
        path = host.resolve(words[0])
        if path is None:
            message = (
                f"{what}: {words[0]} is not found or not executable here; keepalived disables it"
            )
            hint = "an absolute path to an executable file"
            if what.startswith("vrrp_script"):
                yield error(where, "script-not-found", message, hint)
            else:
                yield warning(where, "script-not-found", message, hint)
        elif security and host.insecure(path):
            yield error(
                where,
                "script-insecure",
                f"{what}: {path} (or a directory above it) is writable by a non-root "
                "user; with script security keepalived disables it",
                "chmod go-w the file and its directories",
            )


# -- the host's interfaces ----------------------------------------------------------------


def _interfaces(config: m.KeepalivedConfig, host: Host) -> Iterator[Diagnostic]:
    def missing(name: str | None) -> bool:
        return name is not None and name not in host.interfaces

    have = ", ".join(sorted(host.interfaces)) or "none"
    hint = f"{host.namespace} has: {have} (lablb check --offline skips this check)"
    for inst in config.vrrp_instances:
        if missing(inst.interface):
            yield error(
                m.at(inst, "interface"),
                "no-such-interface",
                f"vrrp_instance {inst.name}: interface {inst.interface} does not exist "
                f"in {host.namespace}",
                hint,
            )
        for t in inst.track_interface:
            if missing(t.name) and t.name != inst.interface:
                yield error(
                    t.where,
                    "no-such-interface",
                    f"vrrp_instance {inst.name} tracks interface {t.name}, which does not "
                    f"exist in {host.namespace}",
                    hint,
                )
        for vip in (*inst.virtual_ipaddress, *inst.virtual_ipaddress_excluded):
            if missing(vip.dev):
                yield error(
                    vip.where,
                    "no-such-interface",
                    f"{vip.interface} is on dev {vip.dev}, which does not exist in "
                    f"{host.namespace}",
                    hint,
                )
        for u in inst.unsupported:
            if u.keyword == "virtual_routes":
                yield from _block_devs(u, host, hint)
    for u in config.unsupported:
        if u.keyword in ("static_ipaddress", "static_routes"):
            yield from _block_devs(u, host, hint)
        if u.keyword == "linkbeat_interfaces":
            for st in u.statements:
                if missing(st.name):
                    yield error(
                        st.where,
                        "no-such-interface",
                        f"linkbeat interface {st.name} does not exist in {host.namespace}",
                        hint,
                        fatal=True,  # keepalived's CONFIG_BAD_IF: exit 4
                    )


def _block_devs(u: m.Unsupported, host: Host, hint: str) -> Iterator[Diagnostic]:
    for st in u.statements:
        words = [st.keyword, *st.args]
        for key, value in itertools.pairwise(words):
            if key.text == "dev" and value.text not in host.interfaces:
                yield error(
                    value.where,
                    "no-such-interface",
                    f"{u.keyword}: {st.name} names dev {value.text}, which does not "
                    f"exist in {host.namespace}",
                    hint,
                )
