"""Lint rules: what keepalived accepts but a network engineer would want to hear.

Pure. What keepalived itself reports is in ``lablb.config.semantics``; these are lab
lints, which keepalived does not make: warnings, or errors only where the mistake is
certain. ``lint_config`` looks at one parsed config; ``lint_cluster`` at the configs of
the nodes that run one service together (lb01 and lb02), where the VRRP peers must
agree. ``lint_docroot`` compares HTTP_GET digests with the pages a web root serves.
Each rule yields ``Diagnostic`` values with a stable code.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from ipaddress import ip_interface

from lablb.config.diagnostics import Diagnostic, Where, error, warning
from lablb.config.model import IPAddress, KeepalivedConfig, VirtualServer, VrrpInstance


def _carried(config: KeepalivedConfig) -> set[IPAddress]:
    """Addresses this node can hold: its VRRP instances' VIPs and static addresses."""
    held: set[IPAddress] = {vip for inst in config.vrrp_instances for vip in inst.vips}
    for u in config.unsupported:
        if u.keyword == "static_ipaddress":
            for st in u.statements:
                try:
                    held.add(ip_interface(st.name).ip)
                except ValueError:
                    continue  # reported by the parser
    return held


def lint_config(config: KeepalivedConfig, *, cluster: bool = False) -> list[Diagnostic]:
    """Lab lints for one file. ``cluster``: the file is one of several checked as one
    cluster, so a VIP no file carries is certain to be unreachable (an error); alone,
    another box may carry it (a warning)."""
    out: list[Diagnostic] = []
    groups = {
        u.args[0] for u in config.unsupported if u.keyword == "virtual_server_group" and u.args
    }
    for u in config.unsupported:
        if u.keyword == "virtual_server" and len(u.args) > 1 and u.args[1] not in groups:
            out.append(
                warning(
                    u.where,
                    "unknown-group",
                    f"virtual_server group {u.args[1]} names no virtual_server_group; "
                    "keepalived accepts it and runs no service",
                    f"declared groups: {', '.join(sorted(groups)) or 'none'}",
                )
            )
    held = _carried(config)
    for vs in config.virtual_servers:
        out.extend(_virtual_server(vs, held, cluster))
    return out


def lint_carried(configs: list[KeepalivedConfig]) -> list[Diagnostic]:
    """vip-not-carried across a cluster: a service address no file carries."""
    held = set().union(*(_carried(c) for c in configs)) if configs else set()
    out = []
    for c in configs:
        for vs in c.virtual_servers:
            if vs.address is not None and vs.address not in held:
                out.append(_not_carried(vs, held, cluster=True))
    return out


def _not_carried(vs: VirtualServer, held: set[IPAddress], *, cluster: bool) -> Diagnostic:
    have = ", ".join(str(a) for a in sorted(held, key=str)) or "none"
    where = "in any file of the cluster" if cluster else "in this file"
    make = error if cluster else warning
    return make(
        vs.where,
        "vip-not-carried",
        f"virtual_server {vs.label}: no vrrp_instance or static_ipaddress {where} carries "
        f"{vs.address}, so no balancer answers ARP for it and no client packet reaches "
        f"the forwarder (carried: {have})",
        f"add {vs.address} to the virtual_ipaddress of the instance that fronts this service"
        + ("" if cluster else ", or check the files together: lablb check lb01.conf lb02.conf"),
    )


def _virtual_server(vs: VirtualServer, held: set[IPAddress], cluster: bool) -> Iterator[Diagnostic]:
    if not cluster and vs.address is not None and vs.address not in held:
        yield _not_carried(vs, held, cluster=False)
    if not vs.real_servers:
        yield warning(vs.where, "no-real-server", f"virtual_server {vs.label} has no real_server")
    for rs in vs.real_servers:
        others = [u.keyword for u in rs.unsupported if u.keyword.endswith("_CHECK")]
        if not rs.checkers and not others:
            yield warning(
                rs.where,
                "no-checker",
                f"real_server {rs.address} has no health checker: it stays in the "
                "pool when it dies",
                "add HTTP_GET, TCP_CHECK, MISC_CHECK or another checker",
            )


def _pair(
    a: KeepalivedConfig, b: KeepalivedConfig, name: str
) -> tuple[VrrpInstance, VrrpInstance] | None:
    ia, ib = a.instance(name), b.instance(name)
    return (ia, ib) if ia is not None and ib is not None else None


# What must be equal across the peers of one instance: (what, how to read it, code).
AGREE: tuple[tuple[str, Callable[[KeepalivedConfig, VrrpInstance], object], str], ...] = (
    ("virtual_router_id", lambda c, i: i.virtual_router_id, "vrid-mismatch"),
    ("advert_int", lambda c, i: i.advert_int, "advert-int-mismatch"),
    ("version", lambda c, i: c.version_of(i), "version-mismatch"),
    ("authentication", lambda c, i: i.authentication, "auth-mismatch"),
    (
        "virtual_ipaddress",
        lambda c, i: sorted(str(v.interface) for v in i.virtual_ipaddress),
        "vips-mismatch",
    ),
    ("down_timer_adverts", lambda c, i: i.down_timer_adverts, "down-timer-mismatch"),
)


def lint_cluster(configs: list[KeepalivedConfig]) -> list[Diagnostic]:
    """Rules across the nodes of one cluster (two or more configs)."""
    out: list[Diagnostic] = []
    if len(configs) < 2:
        return out
    names = sorted({i.name for c in configs for i in c.vrrp_instances})
    for name in names:
        holders = [(c, c.instance(name)) for c in configs]
        present = [(c, i) for c, i in holders if i is not None]
        for c, i in holders:
            if i is None:
                out.append(
                    warning(
                        Where(c.path, 1, 1),
                        "instance-missing",
                        f"vrrp_instance {name} is on {present[0][0].path} but not here",
                        "every node of the cluster should run the same instances",
                    )
                )
        base_c, base = present[0]
        for c, inst in present[1:]:
            for what, get, code in AGREE:
                if get(base_c, base) != get(c, inst):
                    out.append(
                        error(
                            inst.where,
                            code,
                            f"vrrp_instance {name}: {what} differs from {base.where} "
                            f"({get(c, inst)} here, {get(base_c, base)} there)",
                            "VRRP peers must agree on it, or they form two routers",
                        )
                    )
        by_prio: dict[int, VrrpInstance] = {}
        for _, inst in present:
            if inst.priority in by_prio:
                out.append(
                    warning(
                        inst.where,
                        "priority-tie",
                        f"vrrp_instance {name}: priority {inst.priority} is also the "
                        f"priority at {by_prio[inst.priority].where}; the higher "
                        "primary address wins the tie (RFC 3768 section 6.4.3)",
                        "give each node its own priority",
                    )
                )
            by_prio.setdefault(inst.priority, inst)
        masters = [i for _, i in present if i.state == "MASTER"]
        if len(masters) > 1:
            out.append(
                warning(
                    masters[1].where,
                    "both-master",
                    f"vrrp_instance {name} says state MASTER on {len(masters)} nodes; "
                    "priority decides anyway, and the initial state misleads readers",
                    "state MASTER on the highest priority only, BACKUP elsewhere",
                )
            )
    labels = [sorted(vs.label for vs in c.virtual_servers) for c in configs]
    for c, lab in zip(configs[1:], labels[1:], strict=True):
        if lab != labels[0]:
            out.append(
                warning(
                    Where(c.path, 1, 1),
                    "virtual-servers-differ",
                    f"virtual servers {lab} differ from {labels[0]} on {configs[0].path}",
                    "after a failover the backup serves what its own config says",
                )
            )
    return out


def lint_docroot(
    config: KeepalivedConfig, read_page: Callable[[str], bytes | None]
) -> list[Diagnostic]:
    """HTTP_GET/SSL_GET digests against the pages a web root serves.

    ``read_page(path)`` returns the body the web nodes serve at ``path``, or None; an
    ``OSError`` from it is a page that exists but cannot be read.
    """
    out: list[Diagnostic] = []
    for vs in config.virtual_servers:
        for rs in vs.real_servers:
            for ck in rs.checkers:
                for url in ck.urls:
                    if url.digest is None:
                        continue
                    try:
                        body = read_page(url.path)
                    except OSError as exc:
                        out.append(
                            error(
                                url.where,
                                "page-unreadable",
                                f"{ck.kind} checks {url.path}: the web root's page cannot "
                                f"be read ({exc.strerror or exc})",
                                "check the page's permissions",
                            )
                        )
                        continue
                    if body is None:
                        out.append(
                            error(
                                url.where,
                                "page-missing",
                                f"{ck.kind} checks {url.path}, which the web root does not serve",
                                "every check would fail",
                            )
                        )
                        continue
                    actual = hashlib.md5(body, usedforsecurity=False).hexdigest()
                    if actual != url.digest:
                        out.append(
                            error(
                                url.where,
                                "digest-mismatch",
                                f"{ck.kind} {url.path} on {rs.address}: digest "
                                f"{url.digest} does not match the page served "
                                f"(MD5 {actual}); the checker would mark every real "
                                "server down",
                                f"digest {actual}  (the MD5 of the page body: md5sum PAGE)",
                            )
                        )
    return out
