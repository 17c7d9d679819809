"""``lablb check``: parse configs and report what ``keepalived -t`` would, then lab
lints, alone and as one cluster.

The edge of the config checker: it reads files (through ``FileReader``) and the host
``keepalived -t`` would look at (the network namespace's interfaces, the programs
scripts name, the users they run as), and nothing else; printing is the CLI's job.
"""

from __future__ import annotations

import os
import pwd
import socket
import stat
from collections.abc import Callable
from dataclasses import dataclass

from lablb.config.diagnostics import Diagnostic, exit_status, strict
from lablb.config.files import FileReader, node_config_id
from lablb.config.lint import lint_carried, lint_cluster, lint_config, lint_docroot
from lablb.config.load import parse
from lablb.config.model import KeepalivedConfig
from lablb.config.programs import resolve
from lablb.config.semantics import Host, check_config


@dataclass(frozen=True)
class CheckResult:
    configs: tuple[KeepalivedConfig, ...]
    diagnostics: tuple[Diagnostic, ...]

    @property
    def status(self) -> int:
        return exit_status(self.diagnostics)


def docroot_reader(docroot: str) -> Callable[[str], bytes | None]:
    def read(path: str) -> bytes | None:
        full = os.path.normpath(os.path.join(docroot, path.lstrip("/")))
        if not full.startswith(os.path.normpath(docroot)) or not os.path.isfile(full):
            return None
        with open(full, "rb") as fh:  # OSError: lint_docroot says which page and why
            return fh.read()

    return read


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _insecure(path: str) -> bool:
    """Writable by someone other than root: the file or any directory above it."""
    here = os.path.realpath(path)
    while True:
        try:
            st = os.stat(here)
        except OSError:
            return False
        if st.st_uid != 0 or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            # A sticky world-writable directory (/tmp) still lets others replace files.
            return True
        parent = os.path.dirname(here)
        if parent == here:
            return False
        here = parent


def this_host() -> Host:
    """The host keepalived -t would see, from the current network namespace."""
    interfaces = frozenset(name for _, name in socket.if_nameindex())
    return Host(interfaces, resolve, _user_exists, _insecure)


def check(
    paths: list[str],
    *,
    strict_mode: bool = False,
    docroot: str | None = None,
    config_id: str | None = None,
    offline: bool = False,
) -> CheckResult:
    reader = FileReader()
    host = None if offline else this_host()
    cid = node_config_id() if config_id is None else config_id
    diags: list[Diagnostic] = []
    configs: list[KeepalivedConfig] = []
    per_file: list[list[Diagnostic]] = []
    for path in paths:
        parsed = parse(path, reader, cid)
        found = list(parsed.diagnostics)
        per_file.append(found)
        if any(d.fatal or d.code == "template" for d in parsed.diagnostics):
            continue  # a template's one line says it: nothing that follows is news
        configs.append(parsed.config)
        found.extend(check_config(parsed.config, host))
    cluster = one_cluster(configs)
    diags = [d for found in per_file for d in found]
    for config in configs:
        diags.extend(lint_config(config, cluster=cluster))
        if docroot is not None:
            diags.extend(lint_docroot(config, docroot_reader(docroot)))
    if cluster:
        diags.extend(lint_carried(configs))
        diags.extend(lint_cluster(configs))
    return CheckResult(tuple(configs), tuple(strict(diags) if strict_mode else diags))


def one_cluster(configs: list[KeepalivedConfig]) -> bool:
    """Are these the nodes of one cluster (linted together), or files that only share a
    command line (each checked alone)? One cluster when every file shares a VRID or a
    virtual address with another, directly or through others."""
    if len(configs) < 2:
        return False
    keys = [
        {("vrid", i.virtual_router_id) for i in c.vrrp_instances}
        | {("vip", str(a.interface.ip)) for i in c.vrrp_instances for a in i.virtual_ipaddress}
        for c in configs
    ]
    joined, frontier = {0}, [0]
    while frontier:
        a = frontier.pop()
        for b in range(len(configs)):
            if b not in joined and keys[a] & keys[b]:
                joined.add(b)
                frontier.append(b)
    return len(joined) == len(configs)
