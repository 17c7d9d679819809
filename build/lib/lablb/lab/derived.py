"""A Mininet topology built from a config set (``lablb.lab.plan``), and the test of
whether a named topology fits a config set at all. Lab layer.

``lablb run SCENARIO --configs DIR`` without ``--topo`` runs on the seed topology when
the configs fit it (same balancer names, interfaces and server LAN), and on the
topology derived from DIR otherwise; ``lablb topo derive DIR`` shows that one.
"""

from __future__ import annotations

from ipaddress import IPv4Interface
from pathlib import Path
from typing import Any

from mininet.topo import Topo

from lablb.config import model as m
from lablb.config.edit import service_instance
from lablb.config.load import carried_on, load_lenient, load_running
from lablb.config.pair import IGNORED
from lablb.config.runnable import require_runnable
from lablb.errors import ConfigError
from lablb.lab.graph import describe
from lablb.lab.plan import CLIENTS, Plan, derive_plan, server_lan, with_clients
from lablb.lab.registry import TopoEntry, topologies_dir

DOCROOT = "www"  # under topologies/: the pages the seed's checkers ask for, and the video
LINK_MBIT = 1000


class DerivedTopo(Topo):  # type: ignore[misc]  # Mininet has no type hints
    """The lab a config set implies (``lablb.lab.plan``)."""

    plan: Plan  # set on the subclass made for one config set
    balancers: tuple[str, ...] = ()
    default_configs = ""
    docroot = DOCROOT

    @classmethod
    def made(cls, name: str, plan: Plan, configs: str, doc: str) -> type[DerivedTopo]:
        """The Topo class of one config set (``configs``: its folder, absolute or
        relative to topologies/)."""
        attrs = {
            "plan": plan,
            "balancers": plan.balancers,
            "default_configs": configs,
            "__doc__": doc,
        }
        return type(name, (cls,), attrs)

    def build(
        self, bw: float = LINK_MBIT, router_bw: float | None = LINK_MBIT, **_opts: Any
    ) -> None:
        """Every link at ``bw`` Mbit/s (htb), the router's at ``router_bw`` (None: not
        shaped, so a benchmark's clients are capped by their own links, not r1's)."""
        switches = {"lan": self.addSwitch("s1"), "clients": self.addSwitch("s2")}
        for h in self.plan.hosts:  # a balancer's other LANs: a switch each (s3, ...)
            for link in h.links:
                if link.switch not in switches:
                    switches[link.switch] = self.addSwitch(f"s{len(switches) + 1}")
        for h in self.plan.hosts:
            opts: dict[str, Any] = {"ip": None, "role": h.role}
            if h.default_route is not None:
                opts["defaultRoute"] = f"via {h.default_route}"
            if h.lo_addresses:
                opts["lo_addresses"] = [str(a) for a in h.lo_addresses]
            if h.routes:
                opts["routes"] = list(h.routes)
            if h.sysctls:
                opts["sysctls"] = dict(h.sysctls)
            if h.ports:
                opts["web_ports"] = h.ports
            if h.decap:
                opts["decap"] = True
            node = self.addHost(h.name, **opts)
            for link in h.links:
                self.addLink(
                    node,
                    switches[link.switch],
                    intfName1=link.interface,
                    params1={"ip": str(link.address)},
                    bw=router_bw if h.role == "router" else bw,
                )


def ignored_lines(configs: Path) -> list[str]:
    """What keepalived would ignore, truncate or rewrite in a config set and run
    anyway (the lab does the same): one ``file:line:col: message`` per line, each once
    (two files including one fragment name it once)."""
    out: dict[str, None] = {}
    for f in sorted(configs.glob("*.conf")):
        for d in load_running(str(f))[1]:
            out.setdefault(carried_on(d))
    # A file rendered for the lab (its /etc/keepalived includes read from --root) keeps
    # the given file's own lines here (``lablb.config.pair``).
    kept = configs / IGNORED
    if kept.is_file():
        out.update((line, None) for line in kept.read_text().splitlines() if line)
    return list(out)


def load_set(configs: Path) -> dict[str, m.KeepalivedConfig]:
    """Each ``NODE.conf`` of a config set, parsed as keepalived starts it (ConfigError
    at the first thing keepalived would not start with, or the lab cannot run)."""
    files = sorted(configs.glob("*.conf"))
    if not files:
        raise ConfigError(f"{configs}: no *.conf files (one per balancer, named after it)")
    loaded = {f.stem: load_lenient(str(f)) for f in files}
    for config in loaded.values():
        require_runnable(config, lab=True)
    return loaded


def derived_entry(configs: Path, clients: int = len(CLIENTS)) -> TopoEntry:
    """The topology ``configs`` imply, as a registry entry (its name: ``derived:DIR``),
    with at least ``clients`` clients."""
    loaded = load_set(configs)
    plan = with_clients(derive_plan(loaded), clients)
    docroot = topologies_dir() / DOCROOT
    for config in loaded.values():
        for vs in config.virtual_servers:
            for rs in vs.real_servers:
                for ck in rs.checkers:
                    for url in ck.urls:
                        # A page the lab lacks is served for the check (``checked_pages``),
                        # but not one whose MD5 the config fixes: no page can be made to it.
                        if url.digest and not (docroot / url.path.lstrip("/")).is_file():
                            raise ConfigError(
                                f"url path {url.path} with digest {url.digest}: the lab's web "
                                "nodes cannot serve a page with that MD5",
                                file=url.where.file,
                                line=url.where.line,
                                col=url.where.col,
                                hint=f"the web nodes serve {docroot}; or check status_code",
                            )
    doc = f"Derived from {configs}: " + "; ".join(plan.notes)
    cls = DerivedTopo.made("DerivedTopo", plan, str(configs.resolve()), doc)
    return TopoEntry(f"derived:{configs.name}", cls, topologies_dir() / "derived")


def misfit(entry: TopoEntry, configs: Path) -> str | None:
    """Why ``entry`` cannot run ``configs`` (None: it can): a balancer without its file,
    an interface its host lacks, or a server LAN its address is not on."""
    views = {v.name: v for v in describe(entry.cls())}
    for b in entry.balancers:
        conf = configs / f"{b}.conf"
        if not conf.is_file():
            return f"{configs} has no {b}.conf for {entry.name}'s balancer {b}"
    loaded = load_set(configs)
    extra = sorted(set(loaded) - set(entry.balancers))
    if extra:
        return f"{', '.join(extra)}: not balancers of {entry.name}"
    webs = {
        str(IPv4Interface(a).ip) for v in views.values() if v.role == "web" for a in v.addresses
    }
    for config in loaded.values():
        for vs in config.virtual_servers:
            for rs in vs.real_servers:
                if str(rs.address) not in webs:
                    return f"real_server {rs.address} ({rs.where}) is no web node of {entry.name}"
    for b in entry.balancers:
        inst = service_instance(loaded[b])
        try:
            plan_lan = server_lan(inst) if inst is not None else None
        except ConfigError as exc:
            return str(exc)
        ifaces = {i.name: i.address for i in views[b].interfaces}
        if inst is None or inst.interface not in ifaces:
            return f"{b}: {entry.name} gives it no interface {inst.interface if inst else '?'}"
        addr = ifaces[inst.interface]
        if addr is None or plan_lan is None or IPv4Interface(addr).ip not in plan_lan:
            return f"{b}: its {inst.interface} ({addr}) is not on the configs' LAN {plan_lan}"
    return None
