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


# The picture's grid: hosts in rows by hop from the clients, then by role, at most
# ROW_MAX to a row; each cell is CELL_W x CELL_H inches, room for a node and the
# addresses under it (ADDRESS_LINES at most, the rest counted). A switch with BUS_MIN
# hosts or more below it draws them on a bus, as a LAN is drawn: a trunk down from the
# switch, a bar above each row (BUS_RISE rows up) and a drop to each host; the trunk's
# column stays free in those rows, so no line passes behind a host it does not reach.
ROLE_RANK = {"client": 0, "switch": 1, "router": 2, "balancer": 3, "mail": 4, "web": 5}
ROW_MAX = 8
CELL_W, CELL_H = 1.5, 1.3
ADDRESS_LINES = 3
NODE_PT = 40.0  # a host's marker, in points across (a switch's: half)
BUS_MIN = 3
BUS_RISE = 0.3
Point = tuple[float, float]
Segment = tuple[Point, Point]


def _natural(name: str) -> tuple[str, int]:
    head = name.rstrip("0123456789")
    tail = name[len(head) :]
    return head, int(tail) if tail else -1


def _below(g: nx.Graph, switch: str) -> list[str]:
    """The hosts a switch serves further from the clients than itself."""
    layer = g.nodes[switch]["layer"]
    return [n for n in g[switch] if g.nodes[n]["layer"] < layer and g.nodes[n]["role"] != "switch"]


def _xs(n: int, gap: bool) -> list[float]:
    """``n`` places centred on 0; with ``gap``, 0 itself left free (for a bus trunk)."""
    xs = [i - (n - 1) / 2 for i in range(n)]
    if gap and n % 2:  # an odd row has a host at 0: the right half a cell out, recentred
        xs = [(x + 1 if x >= 0 else x) - 0.5 for x in xs]
    return xs


def layout(g: nx.Graph) -> dict[str, Point]:
    """Each node's place on the picture's grid (x in cells, y in rows, 0 at the top):
    a row per hop from the clients and role, wrapped at ``ROW_MAX``; rows on a bus
    keep the trunk's column (x = 0) free."""
    on_bus = {n for sw in g.nodes if g.nodes[sw]["role"] == "switch"
              if len(hosts := _below(g, sw)) >= BUS_MIN for n in hosts}  # fmt: skip
    groups: dict[tuple[int, int], list[str]] = {}
    for n, d in g.nodes(data=True):
        key = (-int(d["layer"]), ROLE_RANK.get(str(d["role"]), len(ROLE_RANK)))
        groups.setdefault(key, []).append(str(n))
    pos: dict[str, Point] = {}
    row = 0
    for key in sorted(groups):
        names = sorted(groups[key], key=_natural)
        for k in range(0, len(names), ROW_MAX):
            chunk = names[k : k + ROW_MAX]
            xs = _xs(len(chunk), gap=any(n in on_bus for n in chunk))
            for x, n in zip(xs, chunk, strict=True):
                pos[n] = (x, -float(row))
            row += 1
    return pos


def lines(g: nx.Graph, pos: dict[str, Point]) -> list[Segment]:
    """The picture's links: a bus for a switch with ``BUS_MIN`` hosts or more below it
    (``layout``), a straight line for every other link."""
    out: list[Segment] = []
    drawn: set[frozenset[str]] = set()
    for sw in g.nodes:
        hosts = _below(g, sw) if g.nodes[sw]["role"] == "switch" else []
        if len(hosts) < BUS_MIN:
            continue
        sx, sy = pos[sw]
        rows: dict[float, list[str]] = {}
        for n in hosts:
            rows.setdefault(pos[n][1], []).append(n)
        out.append(((sx, sy), (sx, min(rows) + BUS_RISE)))
        for y, members in rows.items():
            xs = [pos[n][0] for n in members]
            out.append(((min(*xs, sx), y + BUS_RISE), (max(*xs, sx), y + BUS_RISE)))
            out += [((pos[n][0], y + BUS_RISE), pos[n]) for n in members]
            drawn |= {frozenset((sw, n)) for n in members}
    out += [(pos[a], pos[b]) for a, b in g.edges if frozenset((a, b)) not in drawn]
    return out


def _addresses(addresses: list[str]) -> str:
    shown = addresses[:ADDRESS_LINES]
    more = len(addresses) - len(shown)
    return "\n".join([*shown, *([f"+{more} more"] if more else [])])


def figure(name: str, topo: Any) -> Any:
    """The topology as a matplotlib figure (Agg: no display needed): hosts in rows by
    role (``layout``), LANs as buses (``lines``), each host named in its node with its
    addresses under it, the roles' legend below."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    g = to_graph(topo)
    pos = layout(g)
    xs = [x for x, _ in pos.values()]
    rows = 1 - min(y for _, y in pos.values())
    width = max(xs) - min(xs) + 1.4
    fig, ax = plt.subplots(figsize=(max(6.0, width * CELL_W), (rows + 0.6) * CELL_H))
    ax.set_xlim(min(xs) - 0.7, max(xs) + 0.7)
    ax.set_ylim(-rows + 0.3, 0.6)
    ax.add_collection(LineCollection(lines(g, pos), colors="#888888", linewidths=1.0, zorder=1))
    for role, colour in ROLE_COLOURS.items():
        nodes = [n for n in g.nodes if g.nodes[n]["role"] == role]
        if not nodes:
            continue
        size = (NODE_PT / 2 if role == "switch" else NODE_PT) ** 2
        drawn = nx.draw_networkx_nodes(g, pos, nodelist=nodes, ax=ax, node_color=colour,
                                       node_size=size, edgecolors="black", label=role)  # fmt: skip
        drawn.set_zorder(2)
    for n, (x, y) in pos.items():
        ax.text(x, y, n, ha="center", va="center", fontsize=7, zorder=3, gid=f"name:{n}")
        text = _addresses(list(g.nodes[n]["addresses"]))
        if text:
            ax.annotate(text, (x, y), xytext=(0, -NODE_PT / 2 - 3), textcoords="offset points",
                        ha="center", va="top", fontsize=6.5, zorder=3,
                        gid=f"addresses:{n}")  # fmt: skip
    roles = sum(1 for r in ROLE_COLOURS if any(d["role"] == r for _, d in g.nodes(data=True)))
    fig.legend(loc="lower center", ncol=roles, fontsize=8, frameon=False, markerscale=0.5)
    ax.set_title(f"lablb topology {name}")
    ax.axis("off")
    fig.tight_layout(rect=(0.0, 0.3 / ((rows + 0.6) * CELL_H), 1.0, 1.0))
    return fig


def draw_png(name: str, topo: Any, path: str) -> None:
    """Draw the topology to a PNG file."""
    import matplotlib.pyplot as plt

    fig = figure(name, topo)
    try:
        fig.savefig(path, dpi=120)
    finally:
        plt.close(fig)
