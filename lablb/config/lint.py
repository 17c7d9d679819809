"""Lint rules: what keepalived accepts but a network engineer would want to hear.

Pure. ``lint_config`` looks at one parsed config; ``lint_cluster`` at the configs of
the nodes that run one service together (lb01 and lb02), where the VRRP peers must
agree. ``lint_docroot`` compares HTTP_GET digests with the pages a web root serves.
Each rule yields ``Diagnostic`` values with a stable code.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from ipaddress import IPv4Address

from lablb.config.diagnostics import Diagnostic, Where, error, warning
from lablb.config.model import KeepalivedConfig, VirtualServer, VrrpInstance


def _carried(config: KeepalivedConfig) -> dict[IPv4Address, VrrpInstance]:
    return {vip: inst for inst in config.vrrp_instances for vip in inst.vips}


def lint_config(config: KeepalivedConfig) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    carried = _carried(config)
    scripts = {s.name for s in config.vrrp_scripts}
    instances = {i.name for i in config.vrrp_instances}
    for vs in config.virtual_servers:
        out.extend(_virtual_server(vs, carried))
    for inst in config.vrrp_instances:
        version = config.version_of(inst)
        if inst.nopreempt and inst.state == "MASTER":
            out.append(
                warning(
                    inst.where,
                    "nopreempt-master",
                    f"vrrp_instance {inst.name} has nopreempt with state MASTER; "
                    "keepalived ignores nopreempt unless the initial state is BACKUP",
                    "set state BACKUP on every node that should not pre-empt",
                )
            )
        if version == 2 and inst.advert_int != int(inst.advert_int):
            out.append(
                warning(
                    inst.where,
                    "advert-int-v2",
                    f"advert_int {inst.advert_int:g} is not whole seconds; VRRPv2 "
                    f"carries whole seconds (RFC 3768 section 5.3.7)",
                    "use version 3 for sub-second adverts",
                )
            )
        if version == 3 and inst.authentication is not None:
            out.append(
                error(
                    inst.where,
                    "auth-v3",
                    f"vrrp_instance {inst.name}: VRRPv3 has no authentication (RFC 5798 section 9)",
                    "remove the authentication block",
                )
            )
        if not inst.virtual_ipaddress:
            out.append(
                warning(
                    inst.where,
                    "no-vip",
                    f"vrrp_instance {inst.name} carries no virtual_ipaddress",
                    "a VRRP instance exists to move addresses",
                )
            )
        for t in inst.track_script:
            if t.name not in scripts:
                out.append(
                    error(
                        t.where,
                        "unknown-script",
                        f"track_script {t.name} names no vrrp_script",
                        f"declared scripts: {', '.join(sorted(scripts)) or 'none'}",
                    )
                )
    vrids: dict[tuple[str | None, int | None], VrrpInstance] = {}
    for inst in config.vrrp_instances:
        key = (inst.interface, inst.virtual_router_id)
        if inst.virtual_router_id is not None and key in vrids and not inst.unicast_peer:
            out.append(
                error(
                    inst.where,
                    "vrid-reused",
                    f"virtual_router_id {inst.virtual_router_id} is used on "
                    f"{inst.interface} by both {vrids[key].name} and {inst.name}",
                    "each instance on one interface needs its own virtual_router_id",
                )
            )
        vrids.setdefault(key, inst)
    member_of: dict[str, str] = {}
    for group in config.vrrp_sync_groups:
        for name in group.group:
            if name not in instances:
                out.append(
                    error(
                        group.where,
                        "unknown-instance",
                        f"vrrp_sync_group {group.name} names no vrrp_instance {name}",
                    )
                )
            elif name in member_of:
                out.append(
                    error(
                        group.where,
                        "sync-group-overlap",
                        f"vrrp_instance {name} is in both {member_of[name]} and {group.name}",
                        "an instance belongs to one sync group",
                    )
                )
            member_of.setdefault(name, group.name)
    return out


def _virtual_server(
    vs: VirtualServer, carried: dict[IPv4Address, VrrpInstance]
) -> Iterator[Diagnostic]:
    if vs.address is not None and vs.address not in carried:
        have = ", ".join(str(a) for a in sorted(carried)) or "none"
        yield error(
            vs.where,
            "vip-not-carried",
            f"virtual_server {vs.label}: no vrrp_instance carries {vs.address}, so no "
            "balancer answers ARP for it and no client packet reaches the forwarder "
            f"(the VRRP instances carry: {have})",
            f"add {vs.address} to the virtual_ipaddress of the instance that fronts this service",
        )
    if not vs.real_servers:
        yield warning(vs.where, "no-real-server", f"virtual_server {vs.label} has no real_server")
    for rs in vs.real_servers:
        if vs.lvs_method == "DR" and vs.port is not None and rs.port not in (None, vs.port):
            yield error(
                rs.where,
                "dr-port-remap",
                f"real_server {rs.address}:{rs.port} behind DR virtual_server "
                f"{vs.label}: Direct Routing rewrites only the MAC, so the port "
                "cannot change",
                f"use port {vs.port} on the real server, or NAT",
            )
        if not rs.checkers:
            yield warning(
                rs.where,
                "no-checker",
                f"real_server {rs.address} has no health checker: it stays in the "
                "pool when it dies",
                "add HTTP_GET, TCP_CHECK or MISC_CHECK",
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

    ``read_page(path)`` returns the body the web nodes serve at ``path``, or None.
    """
    out: list[Diagnostic] = []
    for vs in config.virtual_servers:
        for rs in vs.real_servers:
            for ck in rs.checkers:
                for url in ck.urls:
                    if url.digest is None:
                        continue
                    body = read_page(url.path)
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
