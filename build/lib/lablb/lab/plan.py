"""A topology derived from a config set: the lab a pair of keepalived.conf files implies.

Pure: configs in, a ``Plan`` out (hosts, their interfaces, addresses and routes); no
Mininet here (``lablb.lab.derived`` builds the ``Topo`` from a plan). What the configs
say is used as they say it; what they leave open is chosen and said so:

- balancers: one per file, named by the file (``alpha.conf`` -> ``alpha``), on the
  interface its cluster instance names; the same VRID on every file;
- the server LAN: the subnet of the cluster instance's first VIP with a prefix;
- addresses the configs do not give (the balancers' own, unless ``unicast_src_ip``;
  the router's) are the lowest free ones of the LAN;
- one web node per real server address, serving the real servers' ports; for Direct
  Routing and LVS-TUN holding every virtual server address on ``lo``
  (``arp_ignore``/``arp_announce`` so that it does not answer ARP for it), TUN's also
  unwrapping IPIP (``lablb.lab.decap``); DR's on the server LAN;
- LVS-NAT's real servers route through a gateway VIP (``lablb.config.edit.nat_gateway``:
  the file's VIP on their subnet, else one the lab adds and says): on the server LAN, or
  on a LAN of their own on the balancers' interface that holds the gateway;
- LVS-TUN's real servers off the server LAN sit on a LAN of their own behind r1;
- the router: on the LAN and on a client subnet (a TEST-NET that does not clash), with
  a route to each VIP outside the LAN; two clients behind it;
- the SMTP sink, when ``smtp_server`` is on the LAN.

Anything it cannot derive is a ``ConfigError`` naming the file and line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from ipaddress import IPv4Address, IPv4Interface, IPv4Network

from lablb.config import model as m
from lablb.config.diagnostics import Where
from lablb.config.edit import NatGateway, fwmark_as_addresses, nat_gateway, service_instance
from lablb.config.peer import unicast_peer_for
from lablb.errors import ConfigError

CLIENT_NETS = (IPv4Network("198.51.100.0/24"), IPv4Network("203.0.113.0/24"))
CLIENTS = ("cl01", "cl02")
HOST_NAME = re.compile(r"^[a-z][a-z0-9]{0,9}$")  # Mininet names its switch ports NAME-ethN
LAN_IFACE = "eth0"  # router, web nodes, mail sink and clients
SMTP_PORT = 25  # the lab's SMTP sink listens here only

ARP_FOR_DR = {  # real servers hold the VIP on lo but must not answer ARP for it
    "net.ipv4.conf.all.arp_ignore": 1,
    "net.ipv4.conf.all.arp_announce": 2,
    f"net.ipv4.conf.{LAN_IFACE}.arp_ignore": 1,
    f"net.ipv4.conf.{LAN_IFACE}.arp_announce": 2,
}


@dataclass(frozen=True)
class Link:
    interface: str
    address: IPv4Interface
    switch: str  # "lan" or "clients"


@dataclass(frozen=True)
class HostPlan:
    name: str
    role: str
    links: tuple[Link, ...]
    default_route: IPv4Address | None = None
    lo_addresses: tuple[IPv4Interface, ...] = ()
    routes: tuple[str, ...] = ()
    sysctls: Mapping[str, int] = field(default_factory=dict)
    ports: tuple[int, ...] = ()  # web nodes: the ports they serve
    decap: bool = False  # a web node of LVS-TUN: unwraps IPIP (``lablb.lab.decap``)


@dataclass(frozen=True)
class Plan:
    lan: IPv4Network
    clients: IPv4Network
    balancers: tuple[str, ...]
    hosts: tuple[HostPlan, ...]
    notes: tuple[str, ...] = ()

    def host(self, name: str) -> HostPlan:
        return next(h for h in self.hosts if h.name == name)

    def of_role(self, role: str) -> list[HostPlan]:
        return [h for h in self.hosts if h.role == role]


def _bad(where: Where, message: str, hint: str = "") -> ConfigError:
    return ConfigError(message, file=where.file, line=where.line, col=where.col, hint=hint)


def _free(lan: IPv4Network, taken: set[IPv4Address]) -> Iterator[IPv4Address]:
    for addr in lan.hosts():
        if addr not in taken:
            taken.add(addr)
            yield addr


def derive_plan(configs: Mapping[str, m.KeepalivedConfig]) -> Plan:
    """The topology ``configs`` (node name -> its parsed keepalived.conf) imply."""
    if not configs:
        raise ConfigError("the config set has no *.conf file: one per balancer")
    # A fwmark service as the lab runs it: VIP:port (``lablb.config.edit``).
    mapped = {n: fwmark_as_addresses(c) for n, c in sorted(configs.items())}
    configs = {n: config for n, (config, _) in mapped.items()}
    marks = next(iter(mapped.values()))[1]
    names = sorted(configs)
    _check_names(configs)
    instances = _cluster_instances(configs)
    first = instances[names[0]]
    lan, how = lan_of(first)
    notes: list[str] = [f"server LAN {lan}, from {first.name}'s {how} ({first.where})", *marks]
    placed = _Placed.of(configs, instances, lan)
    taken = placed.vips | set(placed.real)
    own = _unicast_sources(instances, lan, taken)
    mail = _mail_sink(configs, lan, taken, notes)
    free = _free(lan, taken)
    router_ip = next(free)
    for name in names:
        # Unicast without unicast_src_ip: the node sends from its interface's address,
        # which its peers' files list; a derived peer lists the one peer.py chose.
        listed = unicast_peer_for(configs[name], instances[name])
        if name not in own and listed is not None and listed not in taken and listed in lan:
            own[name] = listed
            taken.add(listed)
    for name in names:
        if name not in own:
            own[name] = next(free)
    notes.append(
        f"router r1 at {router_ip}; balancers at " + ", ".join(f"{n} {own[n]}" for n in names)
    )
    clients = next((n for n in CLIENT_NETS if not n.overlaps(lan)), None)
    if clients is None:
        raise _bad(first.where, f"the server LAN {lan} overlaps every client TEST-NET")
    client_gw = next(clients.hosts())
    outside = sorted(a for a in placed.vips | placed.services if a not in lan)
    router = HostPlan(
        "r1",
        "router",
        (
            Link(LAN_IFACE, IPv4Interface(f"{router_ip}/{lan.prefixlen}"), "lan"),
            Link("eth1", IPv4Interface(f"{client_gw}/{clients.prefixlen}"), "clients"),
        ),
        routes=tuple(f"{a}/32 dev {LAN_IFACE}" for a in outside),
        sysctls={"net.ipv4.ip_forward": 1},
    )
    extra = _other_lans(configs, names, instances, notes)
    gateway = nat_gateway(configs[names[0]])
    far = sorted(a for a in placed.real if a not in lan)  # real servers off the server LAN
    if gateway is not None and not far:
        notes.append(str(gateway))
    nat_lan = None
    if gateway is not None and any("NAT" in placed.methods[a] for a in far):
        nat_lan = _nat_lan(gateway, far, placed.methods, instances[names[0]], extra, names, notes)
    tun_far = [a for a in far if "TUN" in placed.methods[a] and a not in (nat_lan or ())]
    tun = _tun_lan(tun_far, first, notes) if tun_far else None
    if tun is not None:
        router = replace(router, links=(*router.links, tun[1]))
    hosts = [router]
    for name in names:
        iface = instances[name].interface or LAN_IFACE
        link = Link(iface, IPv4Interface(f"{own[name]}/{lan.prefixlen}"), "lan")
        more = tuple(links[name] for links in extra.values() if name in links)
        hosts.append(HostPlan(name, "balancer", (link, *more), default_route=router_ip))
    lans = _Lans(lan, router_ip, gateway, nat_lan, tun)
    hosts += [
        _web(f"web{i:02d}", addr, placed, lans, first)
        for i, addr in enumerate(sorted(placed.real), start=1)
    ]
    if mail is not None:
        link = Link(LAN_IFACE, IPv4Interface(f"{mail}/{lan.prefixlen}"), "lan")
        hosts.append(HostPlan("mx01", "mail", (link,), default_route=router_ip))
    addrs = _free(clients, {client_gw})
    hosts += [_client(name, next(addrs), clients, client_gw) for name in CLIENTS]
    return Plan(lan, clients, tuple(names), tuple(hosts), tuple(notes))


def _check_names(configs: Mapping[str, m.KeepalivedConfig]) -> None:
    for name in sorted(configs):
        if not HOST_NAME.match(name) or name in (*CLIENTS, "r1", "mx01"):
            raise _bad(
                Where(configs[name].path, 0, 0),
                f"{name!r} cannot name a lab host",
                "name each file after its balancer: a-z and digits, at most 10 characters, "
                "not r1, mx01 or a client's name",
            )


def _cluster_instances(configs: Mapping[str, m.KeepalivedConfig]) -> dict[str, m.VrrpInstance]:
    """Each file's cluster instance (the one its services hang on). Several pairs may
    share the LAN (each its own VRID), but a VRID that only one file uses is a balancer
    alone: a typo, most likely."""
    names = sorted(configs)
    instances: dict[str, m.VrrpInstance] = {}
    for name in names:
        inst = service_instance(configs[name])
        if inst is None:
            raise _bad(Where(configs[name].path, 0, 0), "no vrrp_instance: nothing to fail over")
        if inst.interface is None:
            raise _bad(inst.where, f"vrrp_instance {inst.name} has no interface")
        instances[name] = inst
    for name in names:
        inst = instances[name]
        peers = [n for n in names if instances[n].virtual_router_id == inst.virtual_router_id]
        if len(peers) < 2:
            others = sorted({instances[n].virtual_router_id or 0 for n in names if n != name})
            raise _bad(
                inst.where,
                f"vrrp_instance {inst.name} has VRID {inst.virtual_router_id}, which no other "
                f"file uses (theirs: {', '.join(map(str, others)) or 'no other file'}): "
                "a balancer alone",
                "a config set holds one file per balancer, two or more per VRID",
            )
    return instances


def _on_lan(lan: IPv4Network, addr: m.IPAddress, where: Where, what: str) -> IPv4Address:
    found = ipv4(addr, where, what)
    if found not in lan:
        raise _bad(
            where,
            f"{what} {found} is not on the server LAN {lan}",
            "Direct Routing needs the balancers and real servers on one LAN",
        )
    return found


@dataclass(frozen=True)
class _Placed:
    """What the configs place themselves: VIPs, services, real servers (with their
    ports and the lvs_methods they serve)."""

    vips: set[IPv4Address]
    services: set[IPv4Address]
    real: dict[IPv4Address, set[int]]
    methods: dict[IPv4Address, set[str]]

    @classmethod
    def of(
        cls,
        configs: Mapping[str, m.KeepalivedConfig],
        instances: Mapping[str, m.VrrpInstance],
        lan: IPv4Network,
    ) -> _Placed:
        vips = {
            ipv4(a.interface.ip, a.where, "virtual_ipaddress")
            for i in instances.values()
            for a in (*i.virtual_ipaddress, *i.virtual_ipaddress_excluded)
        }
        placed = cls(vips, set(), {}, {})
        for name in sorted(configs):
            for vs in configs[name].virtual_servers:
                if vs.address is None:
                    raise _bad(vs.where, f"virtual_server {vs.label}: lablb needs an address")
                placed.services.add(ipv4(vs.address, vs.where, "virtual_server"))
                for rs in vs.real_servers:
                    if vs.lvs_method == "DR":
                        rs_ip = _on_lan(lan, rs.address, rs.where, "real_server")
                    else:
                        rs_ip = ipv4(rs.address, rs.where, "real_server")
                    port = rs.port if rs.port is not None else vs.port
                    placed.real.setdefault(rs_ip, set()).update({port} if port else set())
                    placed.methods.setdefault(rs_ip, set()).add(vs.lvs_method)
        return placed


def _unicast_sources(
    instances: Mapping[str, m.VrrpInstance], lan: IPv4Network, taken: set[IPv4Address]
) -> dict[str, IPv4Address]:
    """The balancers' addresses their files give (unicast_src_ip), now taken."""
    own: dict[str, IPv4Address] = {}
    for name, inst in sorted(instances.items()):
        if inst.unicast_src_ip is not None:
            own[name] = _on_lan(lan, inst.unicast_src_ip, inst.where, "unicast_src_ip")
            taken.add(own[name])
    return own


def _mail_sink(
    configs: Mapping[str, m.KeepalivedConfig],
    lan: IPv4Network,
    taken: set[IPv4Address],
    notes: list[str],
) -> IPv4Address | None:
    """The smtp_server's address, when the lab can put its sink there (then taken)."""
    smtp = next(
        (c.global_defs.smtp_server for c in configs.values() if c.global_defs.smtp_server), None
    )
    if smtp is None:
        return None
    addr = IPv4Address(smtp.address)
    if addr in lan and smtp.port == SMTP_PORT and addr not in taken:
        taken.add(addr)
        return addr
    notes.append(f"smtp_server {smtp.address}:{smtp.port} is not on the LAN: no mail sink")
    return None


def _tun_lan(
    tun_far: list[IPv4Address], first: m.VrrpInstance, notes: list[str]
) -> tuple[IPv4Network, Link]:
    """LVS-TUN's real servers off the LAN: their subnet, and r1's link into it."""
    tun_lan = IPv4Network(f"{tun_far[0]}/24", strict=False)
    stray = [a for a in tun_far if a not in tun_lan]
    if stray:
        raise _bad(first.where, f"LVS-TUN real servers {tun_far[0]} and {stray[0]} are "
                   "on two subnets off the LAN", "the lab routes one such subnet")  # fmt: skip
    r1_there = next(_free(tun_lan, set(tun_far)))
    notes.append(f"LVS-TUN: real servers on {tun_lan}, behind r1 (eth2 {r1_there})")
    return tun_lan, Link("eth2", IPv4Interface(f"{r1_there}/{tun_lan.prefixlen}"), "lan-rs")


@dataclass(frozen=True)
class _Lans:
    """Where a real server may be: the server LAN (r1 its router), LVS-NAT's LAN behind
    the gateway VIP, LVS-TUN's behind r1."""

    lan: IPv4Network
    router_ip: IPv4Address
    gateway: NatGateway | None
    nat_lan: IPv4Network | None
    tun: tuple[IPv4Network, Link] | None


def _web(
    name: str, addr: IPv4Address, placed: _Placed, lans: _Lans, first: m.VrrpInstance
) -> HostPlan:
    """A real server: DR and TUN ones hold the services' VIPs on lo (and answer no ARP
    for them); its LAN, that LAN's switch, and its default route."""
    kinds = placed.methods[addr]
    dr_like = bool(kinds & {"DR", "TUN"})
    gateway = lans.gateway
    if addr in lans.lan:
        gw = gateway.address.ip if gateway is not None and kinds == {"NAT"} else lans.router_ip
        net, switch = lans.lan, "lan"
    elif lans.nat_lan is not None and addr in lans.nat_lan:
        assert gateway is not None
        net, switch, gw = lans.nat_lan, f"lan-{gateway.interface}", gateway.address.ip
    elif lans.tun is not None and addr in lans.tun[0]:
        net, switch, gw = lans.tun[0], "lan-rs", lans.tun[1].address.ip
    else:
        raise _bad(first.where, f"real_server {addr} is on no LAN the lab can place",
                   "DR: on the server LAN; NAT: on the gateway VIP's")  # fmt: skip
    return HostPlan(
        name,
        "web",
        (Link(LAN_IFACE, IPv4Interface(f"{addr}/{net.prefixlen}"), switch),),
        default_route=gw,
        lo_addresses=tuple(IPv4Interface(f"{s}/32") for s in sorted(placed.services))
        if dr_like else (),
        sysctls=ARP_FOR_DR if dr_like else {},
        ports=tuple(sorted(placed.real[addr])),
        decap="TUN" in kinds,
    )  # fmt: skip


def _nat_lan(
    gateway: NatGateway,
    far: list[IPv4Address],
    methods: Mapping[IPv4Address, set[str]],
    inst: m.VrrpInstance,
    extra: dict[str, dict[str, Link]],
    names: list[str],
    notes: list[str],
) -> IPv4Network:
    """LVS-NAT's real server LAN, off the server LAN: the gateway VIP's subnet, on the
    balancers' interface that holds it (a LAN of its own, ``extra``, made here when no
    instance runs on that interface)."""
    net = gateway.address.network
    stray = [a for a in far if "NAT" in methods[a] and a not in net]
    if stray:
        raise _bad(inst.where, f"LVS-NAT real server {stray[0]} is not on the gateway "
                   f"VIP's subnet {net}", "the lab routes one real server LAN a pair")  # fmt: skip
    if gateway.interface not in extra:
        free = _free(net, {gateway.address.ip, *far})
        extra[gateway.interface] = {
            n: Link(gateway.interface, IPv4Interface(f"{next(free)}/{net.prefixlen}"),
                    f"lan-{gateway.interface}")
            for n in names
        }  # fmt: skip
    where = ", ".join(f"{n} {link.address.ip}" for n, link in extra[gateway.interface].items())
    notes.append(f"{gateway}; real servers on {net} ({gateway.interface}: {where})")
    return net


def _other_lans(
    configs: Mapping[str, m.KeepalivedConfig],
    names: list[str],
    instances: Mapping[str, m.VrrpInstance],
    notes: list[str],
) -> dict[str, dict[str, Link]]:
    """The balancers' other interfaces: an instance on another interface than the
    cluster instance's (a sync group's back-end VIP on eth1, say) gets that LAN as a
    switch of its own, on the subnet of its first VIP with a prefix, each balancer at
    its lowest free address. interface -> balancer -> its link there."""
    out: dict[str, dict[str, Link]] = {}
    for name in names:
        for inst in configs[name].vrrp_instances:
            iface = inst.interface
            if iface is None or iface == instances[name].interface or iface in out:
                continue
            try:
                lan, how = lan_of(inst)
            except ConfigError:
                continue  # an instance the lab cannot place: its daemon will say so
            held = (*inst.virtual_ipaddress, *inst.virtual_ipaddress_excluded)
            free = _free(lan, {a.interface.ip for a in held if a.interface.version == 4})
            out[iface] = {
                n: Link(iface, IPv4Interface(f"{next(free)}/{lan.prefixlen}"), f"lan-{iface}")
                for n in names
            }
            where = ", ".join(f"{n} {link.address.ip}" for n, link in out[iface].items())
            notes.append(f"{iface}: a LAN of its own, {lan}, from {inst.name}'s {how}: {where}")
    # A tracked interface on no instance (bond0, say) exists on the real node:
    # keepalived will not start without it ("Non-existent interface", seen in the lab).
    # It gets a link of its own, on TEST-NET-1, so it is there and up (and can fail).
    tracked = sorted({
        t.name for n in names for i in configs[n].vrrp_instances for t in i.track_interface
        if t.name not in out and t.name != instances[n].interface
        and t.name not in {j.interface for j in configs[n].vrrp_instances}
    })  # fmt: skip
    for k, iface in enumerate(tracked[:4]):  # a /26 of TEST-NET-1 each
        net = IPv4Network(f"192.0.2.{64 * k}/26")
        free = _free(net, set())
        out[iface] = {
            n: Link(iface, IPv4Interface(f"{next(free)}/{net.prefixlen}"), f"lan-{iface}")
            for n in names
        }
        notes.append(f"{iface}: tracked, on no instance: a link of its own ({net}) so it "
                     "exists and is up, as on the real node")  # fmt: skip
    return out


def ipv4(addr: m.IPAddress, where: Where, what: str) -> IPv4Address:
    """``addr`` when it is IPv4; the lab runs IPv4 only, so IPv6 is refused here."""
    if not isinstance(addr, IPv4Address):
        raise _bad(where, f"{what} {addr} is IPv6", "lablb's lab runs IPv4 only")
    return addr


def ipv4_interface(iface: m.IPInterface, where: Where) -> IPv4Interface:
    if not isinstance(iface, IPv4Interface):
        raise _bad(where, f"virtual_ipaddress {iface} is IPv6", "lablb's lab runs IPv4 only")
    return iface


def server_lan(inst: m.VrrpInstance) -> IPv4Network:
    """The LAN an instance runs on: its first VIP with a prefix, else the /24 of its
    unicast_src_ip, of its first unicast peer, or of its first VIP (a VIP written
    without a prefix, keepalived's /32, as the Kubernetes HA guide writes it: the node's
    own address is on a LAN the file does not say; the lab takes the VIP's /24, which
    ``lablb topo derive`` shows); ConfigError naming the instance if none says."""
    return lan_of(inst)[0]


def lan_of(inst: m.VrrpInstance) -> tuple[IPv4Network, str]:
    """``server_lan``, and where it comes from, in words."""
    for a in (*inst.virtual_ipaddress, *inst.virtual_ipaddress_excluded):
        if a.interface.network.prefixlen <= 30:
            return ipv4_interface(a.interface, a.where).network, "first VIP"
    for addr, what in ((inst.unicast_src_ip, "unicast_src_ip"),
                       *((p, "first unicast peer") for p in inst.unicast_peer[:1])):  # fmt: skip
        if isinstance(addr, IPv4Address):
            return IPv4Network(f"{addr}/24", strict=False), f"{what}'s /24"
    first = next(iter(inst.virtual_ipaddress), None)
    if first is not None and isinstance(first.interface.ip, IPv4Address):
        how = "first VIP's /24 (the VIP has no prefix: the file does not say the LAN)"
        return IPv4Network(f"{first.interface.ip}/24", strict=False), how
    raise _bad(
        inst.where,
        f"vrrp_instance {inst.name}: no VIP with a prefix, so the server LAN is unknown",
        "give the first VIP its subnet's prefix, e.g. 10.0.0.10/24",
    )


def with_clients(plan: Plan, count: int) -> Plan:
    """``plan`` with ``count`` clients behind r1 (cl01, cl02, cl03...), each on the next
    free address of the client subnet: a benchmark's load from as many client links as
    it has web nodes."""
    have = plan.of_role("client")
    if count <= len(have):
        return plan
    if any(b.startswith("cl") for b in plan.balancers):
        raise ConfigError("balancer names starting with 'cl' would clash with extra clients")
    taken = {link.address.ip for h in plan.hosts for link in h.links}
    addrs = _free(plan.clients, taken)
    gw = have[0].default_route
    assert gw is not None, "derive_plan's clients route through r1"
    extra = tuple(
        _client(f"cl{i:02d}", next(addrs), plan.clients, gw)
        for i in range(len(have) + 1, count + 1)
    )
    return replace(plan, hosts=plan.hosts + extra)


def _client(name: str, addr: IPv4Address, net: IPv4Network, gw: IPv4Address) -> HostPlan:
    """A client behind r1: one link on the client subnet, r1 its default route."""
    link = Link(LAN_IFACE, IPv4Interface(f"{addr}/{net.prefixlen}"), "clients")
    return HostPlan(name, "client", (link,), default_route=gw)
