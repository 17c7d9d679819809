"""What a client saw of a fault: every gap in a probe's answers, and the one the fault
explains. Pure: the prober's record in, an ``Outage`` out; no clock, no sockets.

A probe number is *sent* at one instant and *answered* at another (or never). A gap is a
run of consecutive unanswered probes. Its edges are not known exactly: the service
stopped somewhere between the send of the last answered probe and the send of the first
lost one, and came back between the send of the last lost probe and the send of the
first answered one after it. Each edge is estimated as the middle of its bracket, so::

    seconds = (send[last lost] + send[first after]) / 2 - (send[last before] + send[first lost]) / 2

and the estimate is within ``resolution`` = half of each bracket, summed (one probe
interval when the prober kept its pace). A gap with no answered probe after it is
*never recovered*: it has no length, and a trial that has one fails; it is never 0.
A window where every probe was answered is an outage of 0 s *seen*: nothing as long
as one probe interval happened in it.

Only probes sent in [since, until] are judged; the caller keeps the prober running a
little past ``until`` so that their answers are not still in flight when it stops.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ProbeLog:
    """One probe's record: (number, send instant) in send order, and number -> answer
    instant (seconds on the lab's clock, CLOCK_REALTIME)."""

    kind: str  # "icmp" | "tcp"
    target: str
    interval: float
    sent: tuple[tuple[int, float], ...]
    answered: Mapping[int, float] = field(default_factory=dict)

    @classmethod
    def from_json(cls, kind: str, interval: float, data: Mapping[str, object]) -> ProbeLog:
        """From the prober's JSON (nanosecond integers)."""
        sent = tuple((int(str(n)), int(str(t)) / 1e9) for n, t in _pairs(data.get("sent")))
        answered = {int(str(n)): int(str(t)) / 1e9 for n, t in _pairs(data.get("answered"))}
        return cls(kind, str(data.get("target", "")), interval, sent, answered)


def _pairs(value: object) -> Iterable[tuple[object, object]]:
    if not isinstance(value, list):
        return []
    return [(p[0], p[1]) for p in value if isinstance(p, list | tuple) and len(p) == 2]


@dataclass(frozen=True)
class Gap:
    """A run of unanswered probes, edges estimated from the sends around it."""

    first_lost: int
    last_lost: int
    lost: int
    start: float  # estimated instant the service stopped
    end: float | None  # estimated instant it came back; None: never recovered
    resolution: float  # |estimate - truth| of ``seconds`` is at most this
    last_answer_before: float | None  # answer instant of the last answered probe before
    first_answer_after: float | None  # answer instant of the first answered probe after

    @property
    def seconds(self) -> float | None:
        return None if self.end is None else self.end - self.start

    @property
    def never_recovered(self) -> bool:
        return self.end is None


def find_gaps(log: ProbeLog, since: float, until: float) -> list[Gap]:
    """Every gap among the probes sent in [since, until], in time order."""
    sends = [(n, t) for n, t in log.sent if since <= t <= until]
    gaps: list[Gap] = []
    i = 0
    while i < len(sends):
        n, t = sends[i]
        if n in log.answered:
            i += 1
            continue
        j = i
        while j + 1 < len(sends) and sends[j + 1][0] not in log.answered:
            j += 1
        before = sends[i - 1] if i > 0 else None
        after = sends[j + 1] if j + 1 < len(sends) else None
        start = (before[1] + t) / 2 if before else t
        lead = (t - before[1]) / 2 if before else log.interval
        if after is not None:
            end: float | None = (sends[j][1] + after[1]) / 2
            tail = (after[1] - sends[j][1]) / 2
        else:
            end, tail = None, 0.0
        gaps.append(
            Gap(
                first_lost=n,
                last_lost=sends[j][0],
                lost=j - i + 1,
                start=start,
                end=end,
                resolution=lead + tail,
                last_answer_before=log.answered.get(before[0]) if before else None,
                first_answer_after=log.answered.get(after[0]) if after else None,
            )
        )
        i = j + 1
    return gaps


@dataclass(frozen=True)
class Outage:
    """A probe's view of one fault window."""

    kind: str
    target: str
    interval: float
    sent: int
    answered: int
    answered_before_fault: int
    gaps: tuple[Gap, ...]
    judged: Gap | None  # the gap the fault explains; None: no probe was lost
    unexplained: tuple[Gap, ...]  # every other gap: a failure
    max_send_gap: float = 0.0  # the prober's longest pause between sends: the lab's CPU
    # The judged gap's first lost probe was sent this long before the fault could have
    # held it (``outage``): its loss began before the fault, a failure. 0: it did not.
    began_early: float = 0.0

    @property
    def seconds(self) -> float | None:
        """The judged outage: 0.0 when every probe was answered (seen, at the probe's
        resolution), None when it never recovered."""
        return 0.0 if self.judged is None else self.judged.seconds

    @property
    def never_recovered(self) -> bool:
        return any(g.never_recovered for g in self.gaps)

    @property
    def longest_s(self) -> float | None:
        if self.never_recovered:
            return None
        return max((g.seconds or 0.0 for g in self.gaps), default=0.0)

    @property
    def total_s(self) -> float | None:
        if self.never_recovered:
            return None
        return sum(g.seconds or 0.0 for g in self.gaps)

    @property
    def resolution(self) -> float:
        return self.judged.resolution if self.judged else self.interval

    def problems(self) -> list[str]:
        """Why this probe's view fails the trial, whatever the bound says."""
        out = []
        if self.sent == 0:
            out.append(f"{self.kind} probe: sent nothing")
        elif self.answered_before_fault == 0:
            out.append(f"{self.kind} probe of {self.target}: no answer before the fault")
        if self.never_recovered:
            last = next(g for g in self.gaps if g.never_recovered)
            out.append(
                f"{self.kind} probe of {self.target}: never recovered "
                f"({last.lost} probes lost to the end of the window)"
            )
        for g in self.unexplained:
            out.append(
                f"{self.kind} probe of {self.target}: a gap of {g.lost} probes "
                f"({(g.seconds or 0) * 1000:.1f} ms) the fault does not explain"
            )
        if self.judged is not None and self.began_early > 0:
            out.append(
                f"{self.kind} probe of {self.target}: its loss began "
                f"{self.began_early * 1000:.2f} ms before the fault could have caused it "
                f"(the gap of {self.judged.lost} probes, "
                f"{(self.judged.seconds or 0) * 1000:.1f} ms, is longer than the fault's)"
            )
        return out


def outage(
    log: ProbeLog,
    fault_at: float,
    since: float,
    until: float,
    latest_start: float,
    fault_from: float | None = None,
) -> Outage:
    """The probe's view of a fault at ``fault_at``, over probes sent in [since, until].
    A fault's kernel call takes time (taking a bridge port down waits for an RCU grace
    period: up to 2.3 ms seen), and it may act anywhere in it: ``fault_from`` is when
    the call began (default ``fault_at``). The judged gap is the first one that starts
    at or after ``fault_from`` (or whose first lost probe was still in flight then: sent
    within one interval plus the slowest answer before it) and no later than ``fault_at
    + latest_start`` (what the fault can explain); every other gap is unexplained.

    A gap that began earlier and lasted into the fault is still the fault's gap (its
    probes were lost up to the fault and past it: a client saw one outage), judged as
    seen, never read as none; but the fault does not explain its start, so
    ``began_early`` says by how much, and the probe's view fails."""
    gaps = find_gaps(log, since, until)
    start = fault_at if fault_from is None else min(fault_from, fault_at)
    # A probe sent shortly before the fault may still have been on its way (through a
    # forwarder's queue, say) when the fault hit: as long as the slowest answer before
    # the fault took, plus one interval.
    in_flight = max(
        (log.answered[n] - t for n, t in log.sent if since <= t < start and n in log.answered),
        default=0.0,
    )
    edge = start - log.interval - in_flight  # the earliest send the fault can hold
    judged = next(
        (
            g
            for g in gaps
            if _send_of(log, g.last_lost) >= edge and g.start <= fault_at + latest_start
        ),
        None,
    )
    early = 0.0 if judged is None else max(0.0, edge - _send_of(log, judged.first_lost))
    sends = [t for _n, t in log.sent if since <= t <= until]
    answered_before = sum(1 for n, t in log.sent if since <= t < fault_at and n in log.answered)
    return Outage(
        kind=log.kind,
        target=log.target,
        interval=log.interval,
        sent=len(sends),
        answered=sum(1 for n, t in log.sent if since <= t <= until and n in log.answered),
        answered_before_fault=answered_before,
        gaps=tuple(gaps),
        judged=judged,
        unexplained=tuple(g for g in gaps if g is not judged),
        max_send_gap=max((b - a for a, b in itertools.pairwise(sends)), default=0.0),
        began_early=early,
    )


def _send_of(log: ProbeLog, number: int) -> float:
    numbers = [n for n, _t in log.sent]
    i = bisect.bisect_left(numbers, number)
    return log.sent[i][1] if i < len(numbers) and numbers[i] == number else float("nan")


def summary(o: Outage, origin: float) -> dict[str, object]:
    """The JSON a trial keeps: instants relative to ``origin`` (the fault)."""

    def rel(t: float | None) -> float | None:
        return None if t is None else round(t - origin, 6)

    def gap(g: Gap) -> dict[str, object]:
        return {
            "start_s": rel(g.start),
            "end_s": rel(g.end),
            "seconds": None if g.seconds is None else round(g.seconds, 6),
            "lost": g.lost,
            "resolution_s": round(g.resolution, 6),
            "last_answer_before_s": rel(g.last_answer_before),
            "first_answer_after_s": rel(g.first_answer_after),
        }

    return {
        "target": o.target,
        "interval_s": o.interval,
        "max_send_gap_s": round(o.max_send_gap, 6),
        "sent": o.sent,
        "answered": o.answered,
        "outage_s": None if o.seconds is None else round(o.seconds, 6),
        "resolution_s": round(o.resolution, 6),
        "longest_s": None if o.longest_s is None else round(o.longest_s, 6),
        "total_s": None if o.total_s is None else round(o.total_s, 6),
        "never_recovered": o.never_recovered,
        "gaps": [gap(g) for g in o.gaps],
        "judged": None if o.judged is None else o.gaps.index(o.judged),
        **({"began_early_s": round(o.began_early, 6)} if o.began_early > 0 else {}),
    }


def answers_between(log: ProbeLog, since: float, until: float) -> Sequence[tuple[int, float]]:
    """(number, answer instant) of the probes answered in [since, until], in order."""
    inside = [(n, t) for n, t in log.answered.items() if since <= t <= until]
    return sorted(inside, key=lambda p: p[1])
