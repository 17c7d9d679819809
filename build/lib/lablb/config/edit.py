"""Config variants: named functions from the model to the model.

Pure. A scenario that runs a variant of the user's configs (faster checks, no GARP,
connection sync) says so as a ``Variant``, a function with a name (``@variant("no
GARP")``); ``derive`` in the lab layer applies it to every file of the set and renders
the result (``lablb.config.render``), the names in its header. Each variant works on any
config lablb can run, not on text shaped like the seed's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface, IPv4Network

from lablb.config import model as m

Change = Callable[[m.KeepalivedConfig], m.KeepalivedConfig]


@dataclass(frozen=True)
class Variant:
    """A change of a config, named for the header of the files it renders."""

    name: str
    change: Change

    def __call__(self, config: m.KeepalivedConfig) -> m.KeepalivedConfig:
        return self.change(config)


def variant(name: str) -> Callable[[Change], Variant]:
    """``@variant("no GARP")`` over a function of the model makes it a ``Variant``."""
    return lambda change: Variant(name, change)


def map_instances(
    config: m.KeepalivedConfig, fn: Callable[[m.VrrpInstance], m.VrrpInstance]
) -> m.KeepalivedConfig:
    return dataclasses.replace(config, vrrp_instances=tuple(fn(i) for i in config.vrrp_instances))


def map_real_servers(
    config: m.KeepalivedConfig, fn: Callable[[m.RealServer], m.RealServer]
) -> m.KeepalivedConfig:
    def vs(v: m.VirtualServer) -> m.VirtualServer:
        return dataclasses.replace(v, real_servers=tuple(fn(r) for r in v.real_servers))

    return dataclasses.replace(config, virtual_servers=tuple(vs(v) for v in config.virtual_servers))


def map_checkers(
    config: m.KeepalivedConfig, fn: Callable[[m.Checker], m.Checker]
) -> m.KeepalivedConfig:
    return map_real_servers(
        config, lambda r: dataclasses.replace(r, checkers=tuple(fn(c) for c in r.checkers))
    )


def checker_timings(
    delay_loop: float, connect_timeout: float, retry: int, delay_before_retry: float
) -> Variant:
    """Every checker on these timings (the ``healthcheck`` scenario's ``checks=fast``)."""

    @variant(
        f"checkers every {delay_loop:g} s (connect_timeout {connect_timeout:g} s, retry "
        f"{retry}, delay_before_retry {delay_before_retry:g} s)"
    )
    def timings(config: m.KeepalivedConfig) -> m.KeepalivedConfig:
        return map_checkers(
            config,
            lambda c: dataclasses.replace(
                c,
                delay_loop=delay_loop,
                connect_timeout=connect_timeout,
                retry=retry,
                delay_before_retry=delay_before_retry,
            ),
        )

    return timings


@variant("no GARP")
def no_garp(config: m.KeepalivedConfig) -> m.KeepalivedConfig:
    """No gratuitous ARP, ever: none on becoming master (repeat 0, delay 0), none
    refreshed; per-instance settings removed so that the global ones apply."""
    gd = dataclasses.replace(
        config.global_defs,
        vrrp_garp_master_repeat=0,
        vrrp_garp_master_delay=0.0,
        vrrp_garp_master_refresh=0.0,
    )
    config = dataclasses.replace(config, global_defs=gd)
    return map_instances(
        config,
        lambda i: dataclasses.replace(
            i, garp_master_delay=None, garp_master_repeat=None, garp_master_refresh=None
        ),
    )


def service_instance(config: m.KeepalivedConfig) -> m.VrrpInstance | None:
    """The VRRP instance that carries the first virtual server's address (the service
    VIP), else the first instance."""
    if not config.vrrp_instances:
        return None
    vs = next((v for v in config.virtual_servers if v.address is not None), None)
    if vs is not None:
        for inst in config.vrrp_instances:
            if any(a.interface.ip == vs.address for a in inst.virtual_ipaddress):
                return inst
    return config.vrrp_instances[0]


@variant("lvs_sync_daemon")
def with_sync_daemon(config: m.KeepalivedConfig) -> m.KeepalivedConfig:
    """Connection sync between the balancers (``lvs_sync_daemon``) on the interface of
    the instance that carries the service; a config that already syncs is kept as is."""
    inst = service_instance(config)
    if config.global_defs.lvs_sync_daemon is not None or inst is None or inst.interface is None:
        return config
    sync = m.SyncDaemon(inst.interface, inst.name)
    return dataclasses.replace(
        config, global_defs=dataclasses.replace(config.global_defs, lvs_sync_daemon=sync)
    )


DEMO_SCRIPT = m.VrrpScript(
    "chk_haproxy", m.Script("/usr/bin/killall -0 haproxy"), interval=1.0, weight=-2, rise=2, fall=2
)


@variant("VRRP only, in front of HAProxy")
def fronting_haproxy(config: m.KeepalivedConfig) -> m.KeepalivedConfig:
    """The config as the most common keepalived deployment has it: VRRP only, the VIP in
    front of HAProxy on the balancers themselves, watched by ``killall -0 haproxy``
    every second (two failures down, two passes up, weight -2: the gap between a
    pair's priorities of one is crossed). The virtual servers and their checkers go;
    the instance that carried the service tracks the script."""
    inst = service_instance(config)
    if inst is None:
        return config
    tracked = (*inst.track_script, m.Tracked(DEMO_SCRIPT.name))
    return dataclasses.replace(
        map_instances(
            config, lambda i: dataclasses.replace(i, track_script=tracked) if i is inst else i
        ),
        virtual_servers=(),
        vrrp_scripts=(*config.vrrp_scripts, DEMO_SCRIPT),
    )


@dataclasses.dataclass(frozen=True)
class NatGateway:
    """Where LVS-NAT's real servers send their replies: a VIP on their LAN, so that the
    return path fails over with the service. ``added``: the file has none, and the lab
    adds ``address dev interface`` to ``instance`` (a deployment has it somewhere; a
    real server routing through one balancer's own address would lose every reply
    after a failover)."""

    address: IPv4Interface
    interface: str
    instance: str
    added: bool

    def __str__(self) -> str:
        where = f"{self.address} dev {self.interface} on {self.instance}"
        if self.added:
            return (f"LVS-NAT: the real servers route through a gateway VIP; the file has "
                    f"none on their LAN, so the lab adds {where}")  # fmt: skip
        return f"LVS-NAT: the real servers' gateway is {where}"


NAT_LAN_PREFIX = 24  # a real server LAN the file does not give a VIP on: its /24


def nat_gateway(config: m.KeepalivedConfig) -> NatGateway | None:
    """The gateway LVS-NAT's real servers use (None: no NAT virtual server with real
    servers, or one the lab cannot place, which the plan refuses): a VIP of any instance
    whose subnet holds the first real server; else the highest free address of that
    real server's /24 on the first ``ethN`` no instance uses, added to the service's
    instance."""
    nat = [vs for vs in config.virtual_servers if vs.lvs_method == "NAT" and vs.real_servers]
    inst = service_instance(config)
    if not nat or inst is None or not isinstance(nat[0].real_servers[0].address, IPv4Address):
        return None
    rip = nat[0].real_servers[0].address
    for i in config.vrrp_instances:
        for a in (*i.virtual_ipaddress, *i.virtual_ipaddress_excluded):
            on = a.dev or i.interface
            net = a.interface.network
            placed = isinstance(a.interface, IPv4Interface) and net.prefixlen <= 30 and on
            if placed and rip in net and a.interface.ip != rip:
                return NatGateway(IPv4Interface(a.interface), on or "", i.name, False)
    used = {i.interface for i in config.vrrp_instances}
    used |= {t.name for i in config.vrrp_instances for t in i.track_interface}
    used |= {a.dev for i in config.vrrp_instances for a in i.virtual_ipaddress if a.dev}
    iface = next(f"eth{n}" for n in range(1, 64) if f"eth{n}" not in used)
    net = IPv4Network(f"{rip}/{NAT_LAN_PREFIX}", strict=False)
    servers = {rs.address for vs in nat for rs in vs.real_servers}
    addr = next(a for a in reversed(list(net.hosts())) if a not in servers)
    return NatGateway(IPv4Interface(f"{addr}/{net.prefixlen}"), iface, inst.name, True)


def with_nat_gateway(config: m.KeepalivedConfig) -> m.KeepalivedConfig:
    """``config`` with the gateway ``nat_gateway`` adds, if it adds one."""
    gw = nat_gateway(config)
    if gw is None or not gw.added:
        return config
    vip = m.VirtualAddress(gw.address, dev=gw.interface)
    return map_instances(
        config,
        lambda i: dataclasses.replace(i, virtual_ipaddress=(*i.virtual_ipaddress, vip))
        if i.name == gw.instance
        else i,
    )


def fwmark_ports(vs: m.VirtualServer) -> list[int]:
    """The ports a ``virtual_server fwmark`` serves, as far as the file says: its real
    servers' ports, else the ports their checkers connect to (the mark rule itself, an
    iptables or nftables line, is not in keepalived.conf)."""
    given = {rs.port for rs in vs.real_servers if rs.port}
    checked = {ck.connect_port for rs in vs.real_servers for ck in rs.checkers if ck.connect_port}
    return sorted(given or checked)


def fwmark_as_addresses(config: m.KeepalivedConfig) -> tuple[m.KeepalivedConfig, list[str]]:
    """``config`` with each ``virtual_server fwmark N`` as the lab runs it: one
    VIP:port service per port ``fwmark_ports`` finds, on the first VIP of the service's
    instance, as if the firewall marked that traffic (a deployment's mark rule, which
    the file does not hold); what was done, a line each. A mark on several ports keeps
    persistence per port here, not across them (said). A fwmark service with no port or
    no VIP to stand for is left as it is (``lablb.config.runnable`` refuses it)."""
    inst = service_instance(config)
    vips = [a.ip for a in inst.virtual_ipaddress if isinstance(a.ip, IPv4Address)] if inst else []
    out: list[m.VirtualServer] = []
    said: list[str] = []
    for vs in config.virtual_servers:
        ports = fwmark_ports(vs) if vs.fwmark is not None else []
        if vs.fwmark is None or not ports or not vips or inst is None:
            out.append(vs)
            continue
        for port in ports:
            if vs.lvs_method == "NAT":  # NAT may send a port elsewhere; DR and TUN cannot
                servers = tuple(dataclasses.replace(rs, port=rs.port or port)
                                for rs in vs.real_servers)  # fmt: skip
            else:
                once = {rs.address: rs for rs in reversed(vs.real_servers)}  # the first
                order = dict.fromkeys(rs.address for rs in vs.real_servers)
                servers = tuple(dataclasses.replace(once[a], port=port) for a in order)
            out.append(dataclasses.replace(vs, fwmark=None, address=vips[0], port=port,
                                           real_servers=servers))  # fmt: skip
        across = " (persistence per port here, not across them)" if len(ports) > 1 else ""
        said.append(
            f"virtual_server fwmark {vs.fwmark}: the mark comes from a firewall rule the file "
            f"does not hold; the lab serves it as {vips[0]} {vs.protocol} port "
            f"{', '.join(map(str, ports))} ({inst.name}'s VIP, the port its "
            f"{'real servers' if any(rs.port for rs in vs.real_servers) else 'checks'} "
            f"use){across}"
        )
    return dataclasses.replace(config, virtual_servers=tuple(out)), said
