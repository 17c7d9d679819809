"""Outages seen by a client that probes an address at a fixed interval. Pure.

The probe's replies are timestamps; an outage is a gap between consecutive replies much
longer than the probe interval. ``outage_around`` picks the gap that spans a fault's time
(all hosts share one kernel clock, so a fault injected on a balancer and replies seen by
a client can be compared directly).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

_REPLY = re.compile(r"^\[(?P<ts>\d+\.\d+)\] \d+ bytes from (?P<src>[\d.]+): icmp_seq=(?P<seq>\d+)")


@dataclass(frozen=True)
class Gap:
    start: float  # last reply before the gap
    end: float  # first reply after it

    @property
    def seconds(self) -> float:
        return self.end - self.start


def ping_replies(text: str) -> list[float]:
    """Reply timestamps from ``ping -D`` output (seconds, the clock ping read)."""
    return [float(m["ts"]) for line in text.splitlines() if (m := _REPLY.match(line))]


def gaps(replies: Sequence[float], interval: float, slack: float = 2.5) -> list[Gap]:
    """Gaps longer than ``slack`` probe intervals, in time order."""
    out = []
    for a, b in itertools.pairwise(replies):
        if b - a > slack * interval:
            out.append(Gap(a, b))
    return out


def outage_around(
    replies: Sequence[float], at: float, interval: float, grace: float = 1.0
) -> Gap | None:
    """The first gap that ends after ``at`` and starts no later than ``grace`` seconds
    after it (a graceful stop takes a moment to bite); None if the probe never stopped
    being answered around ``at``."""
    for g in gaps(replies, interval):
        if g.end >= at and g.start <= at + grace:
            return g
    return None
