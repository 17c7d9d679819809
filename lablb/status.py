"""``lablb status``: per node, VRRP state and, per virtual server, the real servers with
weight, health and connections (what ``ipvsadm -Ln`` shows). Reads the status files the
daemons write in their run directories; ``render`` is pure."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lablb.logs import keepalived_states, lablb_states


@dataclass
class NodeStatus:
    name: str
    vrrp: dict[str, str] = field(default_factory=dict)  # instance -> state
    engine: str = ""
    forwarder: dict[str, Any] | None = None
    checker: dict[str, Any] | None = None


def read_node(run_dir: Path, name: str | None = None) -> NodeStatus:
    node = NodeStatus(name or run_dir.name)
    for engine, states in (("lablb", lablb_states), ("keepalived", keepalived_states)):
        log = run_dir / f"{engine}.log"
        if log.exists():
            node.engine = engine
            node.vrrp.update(states(log))
    for attr in ("forwarder", "checker"):
        path = run_dir / f"{attr}.json"
        if path.exists():
            with contextlib.suppress(ValueError):
                setattr(node, attr, json.loads(path.read_text()))
    return node


def render(nodes: list[NodeStatus]) -> str:
    lines = []
    for n in nodes:
        vrrp = ", ".join(f"{i} {s}" for i, s in n.vrrp.items()) or "no VRRP"
        fwd = n.forwarder or {}
        on = "forwarding" if fwd.get("forwarding") else "not forwarding"
        lines.append(f"{n.name}  [{n.engine or '-'}]  {vrrp}  ({on})")
        health: dict[tuple[str, str], bool] = {}
        for vs in (n.checker or {}).get("virtual_servers", []):
            for rs in vs["real_servers"]:
                health[(vs["vs"], rs["rs"])] = rs["up"]
        for svc in fwd.get("services", []):
            persist = f" persistent {svc['persistence']:g}" if svc.get("persistence") else ""
            path = (f"; kernel data plane, {svc.get('kernel_forwarded', 0):,} packets"
                    if svc.get("dataplane") == "kernel" else "")  # fmt: skip
            lines.append(
                f"  TCP  {svc['vs']} {svc['scheduler']}{persist}  ({svc['conns']} conns{path})"
            )
            lines.append(
                f"    {'-> RemoteAddress:Port':<26}{'Forward':<9}{'Weight':>6}"
                f"{'ActiveConn':>12}{'InActConn':>11}  Health"
            )
            for d in svc["dests"]:
                key = f"{d['addr']}:{d['port']}"
                up = health.get((svc["vs"], key))
                h = "UP" if up else "DOWN" if up is False else "-"
                lines.append(
                    f"    -> {key:<23}{'Route':<9}{d['weight']:>6}{d['active']:>12}"
                    f"{d['inactive']:>11}  {h}"
                )
            for (vs, key), up in health.items():
                if vs == svc["vs"] and not any(
                    f"{d['addr']}:{d['port']}" == key for d in svc["dests"]
                ):
                    lines.append(
                        f"    (removed) {key:<19}{'':<9}{'':>6}{'':>12}{'':>11}  "
                        f"{'UP' if up else 'DOWN'}"
                    )
    return "\n".join(lines)
