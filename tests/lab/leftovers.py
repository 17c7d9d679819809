"""What a lab may leave behind in the root namespace, to compare before and after."""

from __future__ import annotations

from dataclasses import dataclass

from lablb.lab import procs


@dataclass(frozen=True)
class Snapshot:
    """What a lab may leave behind in the root namespace."""

    netns: tuple[str, ...]
    links: tuple[str, ...]
    lab_processes: tuple[int, ...]


def snapshot() -> Snapshot:
    root = procs.own_netns()
    in_other_netns = [p for p in procs.all_pids() if procs.netns_of(p) not in (None, root)]
    return Snapshot(
        tuple(procs.named_netns()),
        tuple(sorted(n for n, _ in procs.links())),
        tuple(sorted(set(in_other_netns) | set(procs.host_shells()))),
    )
