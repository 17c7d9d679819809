"""A topology as data: per-host roles, interfaces and addresses, a networkx graph, a
terminal table and a matplotlib picture.

Needs no root and starts nothing: it reads a ``Topo`` object (hosts, switches, link
parameters) the way Mininet would before building it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import networkx as nx

ROLE_COLOURS = {
    "balancer": "#d95f02",
    "web": "#1b9e77",
    "router": "#7570b3",
    "client": "#66a61e",
    "mail": "#e6ab02",
    "switch": "#999999",
}


@dataclass(frozen=True)
class Interface:
    name: str
    address: str | None
    peer: str


@dataclass(frozen=True)
class HostView:
    name: str
    role: str
    interfaces: tuple[Interface, ...]
    lo_addresses: tuple[str, ...]
    routes: tuple[str, ...]

    @property
    def addresses(self) -> list[str]:
        return [i.address for i in self.interfaces if i.address]


def describe(topo: Any) -> list[HostView]:
    """What each host of ``topo`` will look like once built."""
    ifaces: dict[str, list[Interface]] = {h: [] for h in topo.hosts()}
    for a, b, info in topo.links(sort=True, withInfo=True):
        for me, other, n in ((a, b, "1"), (b, a, "2")):
            if me in ifaces:
                name = info.get(f"intfName{n}") or f"{me}-eth{len(ifaces[me])}"
                ip = (info.get(f"params{n}") or {}).get("ip")
                ifaces[me].append(Interface(name, ip, other))
    views = []
    for host in topo.hosts(sort=True):
        opts = topo.nodeInfo(host)
        routes = list(opts.get("routes", ()))
        if opts.get("defaultRoute"):
            routes.insert(0, f"default {opts['defaultRoute']}")
        views.append(
            HostView(
                host,
                opts.get("role", "host"),
                tuple(sorted(ifaces[host], key=lambda i: i.name)),
                tuple(opts.get("lo_addresses", ())),
                tuple(routes),
            )
        )
    return views


def to_graph(topo: Any) -> nx.Graph:
    g = nx.Graph()
    for view in describe(topo):
        g.add_node(view.name, role=view.role, addresses=view.addresses + list(view.lo_addresses))
    for sw in topo.switches(sort=True):
        g.add_node(sw, role="switch", addresses=[])
    for a, b, info in topo.links(sort=True, withInfo=True):
        g.add_edge(a, b, bw=info.get("bw"))
    # Layers for drawing: hops from the clients, so traffic reads top to bottom.
    sources = [n for n, d in g.nodes(data=True) if d["role"] == "client"] or list(g.nodes)[:1]
    hops = nx.multi_source_dijkstra_path_length(g, sources) if sources else {}
    for n in g.nodes:
        g.nodes[n]["layer"] = -hops.get(n, 0)
    return g


def render_text(name: str, views: list[HostView], switches: list[str]) -> str:
    lines = [
        f"topology {name}: {len(views)} hosts, {len(switches)} switches ({', '.join(switches)})",
        "",
    ]
    head = f"{'host':<7} {'role':<9} {'interface':<10} {'address':<18} {'link to':<8}"
    lines += [head, "-" * len(head)]
    for v in views:
        first = True
        for i in v.interfaces:
            lead = f"{v.name:<7} {v.role:<9}" if first else f"{'':<7} {'':<9}"
            lines.append(f"{lead} {i.name:<10} {i.address or '-':<18} {i.peer:<8}")
            first = False
        for addr in v.lo_addresses:
            lines.append(f"{'':<7} {'':<9} {'lo':<10} {addr:<18} (no ARP)")
        for route in v.routes:
            lines.append(f"{'':<7} {'':<9} route {route}")
    return "\n".join(lines)


def draw_png(name: str, topo: Any, path: str) -> None:
    """Draw the topology with matplotlib (Agg: no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    g = to_graph(topo)
    pos = nx.multipartite_layout(g, subset_key="layer", align="horizontal", scale=2.0)
    fig, ax = plt.subplots(figsize=(10, 7))
    colours = [ROLE_COLOURS.get(g.nodes[n]["role"], "#cccccc") for n in g.nodes]
    sizes = [600 if g.nodes[n]["role"] == "switch" else 1400 for n in g.nodes]
    nx.draw_networkx_edges(g, pos, ax=ax, width=1.5, edge_color="#555555")
    nx.draw_networkx_nodes(
        g, pos, ax=ax, node_color=colours, node_size=sizes, node_shape="o", edgecolors="black"
    )
    labels = {n: "\n".join([n, *g.nodes[n]["addresses"]]) for n in g.nodes}
    nx.draw_networkx_labels(g, pos, labels=labels, ax=ax, font_size=7)
    for role, colour in ROLE_COLOURS.items():
        ax.scatter([], [], c=colour, label=role, s=80, edgecolors="black")
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    ax.set_title(f"lablb topology {name}")
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
