"""Parse iputils ``ping`` summaries. Pure: text in, numbers out."""

from __future__ import annotations

import re
from dataclasses import dataclass

from lablb.errors import LabError

_COUNTS = re.compile(r"(\d+) packets transmitted, (\d+) (?:packets )?received")
_RTT = re.compile(r"= ([\d.]+)/([\d.]+)/([\d.]+)/([\d.]+) ms")


@dataclass(frozen=True)
class PingResult:
    transmitted: int
    received: int
    rtt_avg_ms: float | None

    @property
    def ok(self) -> bool:
        return self.transmitted > 0 and self.received == self.transmitted


def parse_ping(text: str) -> PingResult:
    counts = _COUNTS.search(text)
    if counts is None:
        raise LabError(f"ping printed no summary: {text.strip()[-200:]!r}")
    rtt = _RTT.search(text)
    return PingResult(
        int(counts.group(1)), int(counts.group(2)), float(rtt.group(2)) if rtt else None
    )
