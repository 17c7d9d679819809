"""A tracked script's failover: the service a VRRP-only VIP fronts dies on the master,
the ``vrrp_script`` that watches it fails ``fall`` times, and the priorities move the
VIP; then the service returns, the script passes ``rise`` times, and the master takes
the VIP back. Bounds and judgement. Pure.

The chain, after the kill at K (every step from keepalived.conf(5) and RFC 3768/5798):

    K  ->  D: the script's ``fall``-th failure in a row. The script runs every
           ``interval`` (I); the first run to find the service gone starts within I of
           K, and a run may take up to its ``timeout`` (keepalived's default: the
           interval). D - K in [(fall - 1) I, fall I + timeout], each run's start late
           by at most epsilon.
    weight (the entry's, else the script's; nonzero): the master's priority drops (a
           positive weight stops being added, a negative one starts being subtracted).
           The backup discards adverts below its own priority (section 6.4.2, with
           preemption), so its Master_Down_Timer runs from the last advert it accepted:
           the master's last one at its old priority, A in (D - advert_int - epsilon,
           D]. Takeover T = A + master_down, exactly (the tight bound).
    weight 0: the instance goes to FAULT: the master sends its priority-0 advert at D,
           the backup takes over skew_time after it.

``failover_s`` is K to T, ``takeover_s`` the protocol's own step (A or the goodbye to
T, on the wire). The clients see: the VIP's ICMP answered throughout with a weight (the
old master keeps it until the new master's advert, whose GARP follows in the same
step: at most one quantum unanswered), for skew_time with FAULT (as a graceful stop);
the service (TCP to VIP:port) from K until the new master's stand-in answers.

The return: the service is started at U, the script passes ``rise`` times (E - U in
[(rise - 1) I, rise I + timeout]), the old master's priority rises above the current
master's, it discards that master's adverts and takes over master_down (at its new
priority) after the last it accepted (FAULT: after leaving FAULT at E).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from lablb.config import model as m
from lablb.measure import bounds as B
from lablb.measure.failover import PROBE_NAMES, Lan
from lablb.measure.outage import ProbeLog, outage, summary
from lablb.measure.pcap import Frame
from lablb.measure.result import Trial

Bound = tuple[float, float]


@dataclass(frozen=True)
class ScriptTiming:
    """A ``vrrp_script``'s schedule, seconds and counts."""

    interval: float
    fall: int
    rise: int
    timeout: float

    @classmethod
    def of(cls, vs: m.VrrpScript) -> ScriptTiming:
        return cls(vs.interval, max(1, vs.fall), max(1, vs.rise), vs.timeout or vs.interval)

    def detect(self, runs: int, slack: B.Slack) -> Bound:
        """From the change of the service to the script's ``runs``-th verdict in a row
        that sees it."""
        return (
            max(0.0, (runs - 1) * self.interval - slack.epsilon),
            runs * self.interval + self.timeout + runs * slack.epsilon,
        )


@dataclass(frozen=True)
class Arithmetic:
    """What the priorities make of the script failing on the master (its effective
    priority with the service up and down; the backup's, its own service up)."""

    weight: int
    master_up: int
    master_failed: int
    backup: int
    nopreempt: bool
    backup_wins_tie: bool  # the backup's primary address is the higher (section 6.4.3)

    @property
    def fault(self) -> bool:
        return self.weight == 0

    @property
    def moves(self) -> bool:
        """Does the VIP leave the master when its service dies?"""
        if self.fault:
            return True
        if self.nopreempt:
            return False
        return self.master_failed < self.backup or (
            self.master_failed == self.backup and self.backup_wins_tie
        )

    def explain(self) -> str:
        if self.fault:
            return "weight 0: the script's failure puts the master in FAULT (priority-0 advert)"
        verdict = "the backup takes over" if self.moves else "the VIP stays"
        why = " (nopreempt)" if self.nopreempt else ""
        return (
            f"weight {self.weight:+d}: master {self.master_up} -> {self.master_failed}, "
            f"backup {self.backup}: {verdict}{why}"
        )


def failover(script: ScriptTiming, arith: Arithmetic, backup: B.Timing, slack: B.Slack) -> Bound:
    """Kill of the service to the new master's first advert."""
    low, high = script.detect(script.fall, slack)
    if arith.fault:
        return low + backup.skew, high + slack.epsilon + backup.skew + slack.epsilon
    # The last advert the backup accepted may precede the kill (by up to epsilon when
    # the failures are due within one advert interval of it).
    return (
        low - backup.advert_int - slack.epsilon + backup.master_down,
        high + backup.master_down + slack.epsilon,
    )


def takeover(arith: Arithmetic, backup: B.Timing, slack: B.Slack) -> Bound:
    """The master's last advert the backup accepted (FAULT: its priority-0 advert) to
    the new master's first, on the wire: master_down (skew_time), late by epsilon."""
    return B.takeover("graceful" if arith.fault else "crash", backup, slack)


def client_outage(arith: Arithmetic, backup: B.Timing, slack: B.Slack, probe: float) -> Bound:
    """The VIP's ICMP: one quantum at most with a weight (the new master's GARP follows
    its advert, which the old master hears and drops the VIP on); with FAULT, as a
    graceful stop, skew_time."""
    if arith.fault:
        return B.client_outage("graceful", backup, slack, probe)
    return 0.0, slack.quantum + probe


def service_outage(
    script: ScriptTiming, arith: Arithmetic, backup: B.Timing, slack: B.Slack, probe: float
) -> Bound:
    """The service (TCP to VIP:port): from the kill to the new master's stand-in
    answering, its GARP one quantum after its advert."""
    low, high = failover(script, arith, backup, slack)
    return max(0.0, low - probe), high + slack.quantum + probe


def restore(script: ScriptTiming, arith: Arithmetic, master: B.Timing, slack: B.Slack) -> Bound:
    """Start of the service on the old master to its first advert as master again."""
    low, high = script.detect(script.rise, slack)
    if arith.fault:
        return low + master.master_down, high + master.master_down + slack.epsilon
    return (
        low - master.advert_int - slack.epsilon + master.master_down,
        high + master.master_down + slack.epsilon,
    )


@dataclass(frozen=True)
class Kill:
    """What the instruments recorded around one kill of the service (CLOCK_REALTIME)."""

    before: float  # the signal was about to be sent...
    at: float  # ...and had been: the kill instant
    since: float
    until: float
    probes: Mapping[str, ProbeLog]
    frames: Sequence[Frame]


@dataclass(frozen=True)
class Steps:
    """The protocol's steps of one failover, from the capture (None: not seen)."""

    last_accepted: float | None  # the old master's last advert at its old priority (FAULT: goodbye)
    first_lowered: float | None  # its first advert at the lowered priority (weight)
    takeover: float | None  # the first advert of anyone else after last_accepted
    new_ip: str | None
    new_priority: int | None
    priorities_before: tuple[int, ...]  # the old master's advertised priorities before the kill


def steps(frames: Sequence[Frame], old_ip: str, vrid: int, arith: Arithmetic, at: float) -> Steps:
    adverts = [f for f in frames if f.kind == "advert" and f.vrid == vrid]
    mine = [f for f in adverts if f.src_ip == old_ip]
    before = tuple(sorted({f.priority for f in mine if f.t < at and f.priority is not None}))
    if arith.fault:
        ref = next((f.t for f in mine if f.t >= at and f.priority == 0), None)
        lowered = None
    else:
        lowered = next((f.t for f in mine if f.t >= at and f.priority == arith.master_failed), None)
        cut = lowered if lowered is not None else math.inf
        ref = max((f.t for f in mine if f.priority == arith.master_up and f.t < cut), default=None)
    if ref is None:
        return Steps(None, lowered, None, None, None, before)
    first = next((f for f in adverts if f.t > ref and f.src_ip != old_ip), None)
    if first is None:
        return Steps(ref, lowered, None, None, None, before)
    return Steps(ref, lowered, first.t, first.src_ip, first.priority, before)


def judge_kill(
    w: Kill,
    old: str,
    lan: Lan,
    script: ScriptTiming,
    arith: Arithmetic,
    backup: B.Timing,
    slack: B.Slack,
) -> Trial:
    """The failover half of a trial: measurements, the trial's own bounds (widened by
    each probe's resolution) and problems."""
    trial = Trial()
    old_ip = lan.ips[old]
    s = steps(w.frames, old_ip, lan.vrid, arith, w.at)
    what = "priority-0 advert" if arith.fault else f"advert at priority {arith.master_up}"
    if s.last_accepted is None:
        trial.problems.append(f"the capture shows no {what} from the old master")
    elif s.takeover is None:
        trial.problems.append("the capture shows no takeover: nobody else advertised")
    if s.priorities_before and s.priorities_before != (arith.master_up,):
        trial.problems.append(
            f"the master advertised priority {'/'.join(map(str, s.priorities_before))} before "
            f"the kill, the config implies {arith.master_up} with its service up"
        )
    if s.new_priority is not None and s.new_priority != arith.backup:
        trial.problems.append(
            f"the new master advertised priority {s.new_priority}, the config implies "
            f"{arith.backup} with its service up"
        )
    if s.takeover is not None and s.last_accepted is not None:
        trial.measured["takeover_s"] = round(s.takeover - s.last_accepted, 6)
        trial.measured["failover_s"] = round(s.takeover - w.at, 6)
    else:
        trial.measured["takeover_s"] = trial.measured["failover_s"] = None
    trial.bounds["takeover_s"] = takeover(arith, backup, slack)
    trial.bounds["failover_s"] = failover(script, arith, backup, slack)
    summaries: dict[str, object] = {}
    for kind, log in w.probes.items():
        name = PROBE_NAMES[kind]
        if kind == "icmp":
            nominal = client_outage(arith, backup, slack, 0.0)
            # The VIP stops answering only around the takeover (with a weight, when the
            # old master hears the new one), not at the kill: that far on, its gap may start.
            start_by = failover(script, arith, backup, slack)[1] + nominal[1]
        else:
            nominal = service_outage(script, arith, backup, slack, 0.0)
            start_by = nominal[1]  # the service stops at the kill
        o = outage(log, w.at, w.since, w.until, latest_start=start_by + log.interval,
                   fault_from=w.before)  # fmt: skip
        trial.problems.extend(o.problems())
        low, high = nominal
        trial.bounds[name] = (max(0.0, low - o.resolution), high + o.resolution)
        trial.measured[name] = None if o.seconds is None else round(o.seconds, 6)
        summaries[kind] = summary(o, w.at)
        if o.seconds == 0.0 and low > 0:
            trial.problems.append(
                f"{kind} probe: no probe lost, but the config sets a minimum of "
                f"{low * 1000:.1f} ms"
            )
    for kind in PROBE_NAMES:
        if kind not in w.probes:
            trial.problems.append(f"no {kind} probe ran")

    def rel(t: float | None) -> float | None:
        return None if t is None else round(t - w.at, 6)

    new = next((h for h, ip in lan.ips.items() if ip == s.new_ip), None)
    new_macs = {mac for mac, h in lan.macs.items() if h == new}
    garp = next((f.t for f in w.frames if f.kind == "garp" and s.takeover is not None
                 and f.t >= s.takeover and f.src_mac in new_macs), None)  # fmt: skip
    served = w.probes.get("tcp") or w.probes.get("icmp")
    answers = list(served.answered.values()) if served else []
    after = s.takeover if s.takeover is not None else math.inf
    before = max((t for t in answers if t < w.at), default=None)
    first = min((t for t in answers if t > after), default=None)
    trial.keep(
        kill_at=w.at,
        kill_instant_width_s=round(w.at - w.before, 6),
        arithmetic=arith.explain(),
        new_master=new,
        probes=summaries,
        timeline={
            "last_answer_before_s": rel(before),
            "old_master_last_advert_s": rel(s.last_accepted),
            "first_lowered_advert_s": rel(s.first_lowered),
            "takeover_advert_s": rel(s.takeover),
            "first_garp_s": rel(garp),
            "first_answer_new_master_s": rel(first),
        },
    )
    return trial
