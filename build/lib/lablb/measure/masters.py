"""Two masters at once, read from the capture's adverts. Pure.

A node is *advertising* for a VRID from an advert with priority above 0 until it falls
silent for longer than its advert interval plus the slack, or says goodbye (priority 0).
Two nodes advertising the same VRID at once are two masters. The protocol allows it
briefly: a pre-empting master's first advert and the old master's step-down (the old one
may send one more advert before it hears the new one: one advert interval plus epsilon),
and a split brain, which the soak does not make. ``overlaps`` gives every such period.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Advert:
    t: float
    src: str
    vrid: int
    priority: int


@dataclass(frozen=True)
class Overlap:
    vrid: int
    nodes: tuple[str, str]
    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start


def streaks(adverts: Iterable[Advert], silence: float) -> list[tuple[str, int, float, float]]:
    """(source, vrid, first, last advert) of each run of adverts with no pause longer
    than ``silence``; a goodbye (priority 0) ends a run and belongs to none."""
    out: list[tuple[str, int, float, float]] = []
    open_: dict[tuple[str, int], list[float]] = {}
    for a in sorted(adverts, key=lambda a: a.t):
        key = (a.src, a.vrid)
        run = open_.get(key)
        if run is not None and (a.priority == 0 or a.t - run[1] > silence):
            out.append((a.src, a.vrid, run[0], run[1]))
            del open_[key]
            run = None
        if a.priority == 0:
            continue
        if run is None:
            open_[key] = [a.t, a.t]
        else:
            run[1] = a.t
    out += [(src, vrid, run[0], run[1]) for (src, vrid), run in open_.items()]
    return sorted(out, key=lambda s: s[2])


def overlaps(adverts: Iterable[Advert], silence: float) -> list[Overlap]:
    """Every period two sources advertised the same VRID at once (first to last advert
    of each run, so a single advert of the old master after the new one's first counts
    for the time between them)."""
    runs = streaks(adverts, silence)
    out = []
    for i, (a_src, a_vrid, a_first, a_last) in enumerate(runs):
        for b_src, b_vrid, b_first, b_last in runs[i + 1 :]:
            if b_vrid != a_vrid or b_src == a_src:
                continue
            start, end = max(a_first, b_first), min(a_last, b_last)
            if start <= end:
                out.append(Overlap(a_vrid, (a_src, b_src), start, end))
    return out
