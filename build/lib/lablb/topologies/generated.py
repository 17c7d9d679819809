"""Topologies beyond the seed, each the lab its config set implies.

The config sets under ``configs/`` are written by ``lablb topo make KIND N DIR`` from
the seed pair (``configs/seed-v3-100ms``; the suite checks they are what it writes
today), and each topology is derived from its set (``lablb.lab.plan``): the same
``Topo.build()`` that ``lablb run --configs DIR`` uses for a config set of your own.

- ``webfarm``: the pair in front of 16 web nodes (other sizes, 2 to 64: ``lablb topo
  make webfarm N DIR``, then ``--configs DIR``);
- ``multi-pair``: 8 balancer pairs on one LAN, each its own VRID and VIP (1 to 16);
- ``unicast``: the pair advertising to each other by ``unicast_peer``, no multicast;
- ``active-active``: two instances and two services, each balancer master of one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lablb.lab.derived import DerivedTopo, load_set
from lablb.lab.plan import derive_plan

CONFIGS = Path(__file__).resolve().parent / "configs"


def _topology(kind: str, summary: str) -> Any:
    plan = derive_plan(load_set(CONFIGS / kind))
    return DerivedTopo.made(
        f"{kind.title().replace('-', '')}Topo", plan, f"configs/{kind}", summary
    )


TOPOS = {
    "webfarm": _topology("webfarm", "The seed's pair in front of 16 web nodes."),
    "multi-pair": _topology("multi-pair", "8 balancer pairs on one LAN, each its own VRID."),
    "unicast": _topology("unicast", "The seed's pair on unicast_peer, no multicast VRRP."),
    "active-active": _topology(
        "active-active", "Two instances, two services: each balancer master of one."
    ),
}
