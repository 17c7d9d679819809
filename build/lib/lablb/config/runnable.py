"""What lablb's lab and engine cannot run, though keepalived would: the reasons
``lablb up``, ``lablb run`` and ``lablb daemon`` refuse a config that ``lablb check``
accepts.

Pure: a parsed config in, ``ConfigError`` (file:line and the reason) out. ``check``
never calls this: a file is valid or not as keepalived reads it, whatever lablb's lab
can do with it.
"""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import IPv4Address

from lablb.config import model as m
from lablb.config.diagnostics import Where
from lablb.config.edit import fwmark_as_addresses
from lablb.errors import ConfigError

RUNS_CHECKERS = (
    "HTTP_GET", "SSL_GET", "TCP_CHECK", "MISC_CHECK", "UDP_CHECK", "PING_CHECK", "SMTP_CHECK",
    "DNS_CHECK", "FILE_CHECK",
)  # fmt: skip


def _strict(inst: m.VrrpInstance, everywhere: bool) -> bool:
    """Is the instance in strict mode (``vrrp_strict``, or its own ``strict_mode``)?"""
    own = next((u for u in inst.unsupported if u.keyword == "strict_mode"), None)
    if own is not None:
        return not own.args or own.args[0].lower() not in ("off", "false", "no", "0")
    return everywhere


def _measurable(config: m.KeepalivedConfig) -> Iterator[tuple[Where, str]]:
    """What the lab could start but not measure (the lab refuses it; the daemon runs it)."""
    strict = any(u.keyword == "vrrp_strict" for u in config.global_defs.unsupported)
    for inst in config.vrrp_instances:
        kept = {u.keyword for u in inst.unsupported}
        if _strict(inst, strict) and "accept" not in kept:
            # Seen in the lab: keepalived's master answered no probe at all.
            yield inst.where, (
                f"vrrp_instance {inst.name} in strict mode without accept: keepalived "
                "drops every packet to its VIPs (the firewall rules it installs), so no "
                "client reaches them and there is nothing to measure (add accept)"
            )


def _vrrp(config: m.KeepalivedConfig) -> Iterator[tuple[Where, str]]:
    for inst in config.vrrp_instances:
        six = bool(inst.vips) and inst.vips[0].version == 6
        if six and inst.authentication is not None:
            yield inst.where, f"vrrp_instance {inst.name}: authentication over IPv6"
        for key, addr in (
            ("unicast_src_ip", inst.unicast_src_ip),
            *(("unicast_peer", p) for p in inst.unicast_peer),
        ):
            if addr is not None and not isinstance(addr, IPv4Address):
                where = m.at(inst, key)
                yield where, f"vrrp_instance {inst.name}: IPv6 unicast address {addr}"


def _lvs(config: m.KeepalivedConfig, lab: bool) -> Iterator[tuple[Where, str]]:
    for u in config.unsupported:
        if u.keyword == "virtual_server":
            yield u.where, f"virtual_server {' '.join(u.args)} (a virtual_server_group)"
    # The lab stands VIP:port in for a mark (``fwmark_as_addresses``); the forwarder
    # itself, run by hand, forwards IP:port services only.
    for vs in (fwmark_as_addresses(config)[0] if lab else config).virtual_servers:
        if vs.fwmark is not None:
            why = " without a port or VIP to mark" if lab else ""
            yield vs.where, f"virtual_server fwmark {vs.fwmark}{why}"
        if vs.address is not None and not isinstance(vs.address, IPv4Address):
            yield vs.where, f"virtual_server {vs.label} (IPv6)"
        ports = sorted({rs.port or vs.port or 0 for rs in vs.real_servers})
        if vs.lvs_method == "NAT" and len(ports) > 1:  # the forwarder's return path
            listed = ", ".join(map(str, ports))
            yield vs.where, f"virtual_server {vs.label}: LVS-NAT to real servers on ports {listed}"
        for rs in vs.real_servers:
            if not isinstance(rs.address, IPv4Address):
                yield rs.where, f"real_server {rs.address} (IPv6)"
            for u in rs.unsupported:
                if u.keyword.endswith("_CHECK") and u.keyword not in RUNS_CHECKERS:
                    yield u.where, f"real_server {rs.address}: {u.keyword}"


def refusals(
    config: m.KeepalivedConfig, *, vrrp: bool = True, lvs: bool = True, lab: bool = False
) -> list[tuple[Where, str]]:
    """What of ``config`` lablb cannot run (the VRRP part, the LVS part, or both; with
    ``lab``, also what a lab could not measure)."""
    out: list[tuple[Where, str]] = []
    if lab:
        out.extend(_measurable(config))
    if vrrp:
        out.extend(_vrrp(config))
    if lvs:
        out.extend(_lvs(config, lab))
    return out


def require_runnable(
    config: m.KeepalivedConfig, *, vrrp: bool = True, lvs: bool = True, lab: bool = False
) -> None:
    """``ConfigError`` at the first thing lablb cannot run, naming how many more."""
    found = refusals(config, vrrp=vrrp, lvs=lvs, lab=lab)
    if not found:
        return
    where, what = found[0]
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    raise ConfigError(
        f"lablb's lab does not run {what}{more}; keepalived would (lablb check accepts it)",
        file=where.file,
        line=where.line,
        col=where.col,
        hint="lablb runs VRRP over IPv4 and IPv6 (multicast), and IPv4 DR, NAT and TUN "
        "services with "
        f"{', '.join(RUNS_CHECKERS[:-1])} or {RUNS_CHECKERS[-1]}",
    )
