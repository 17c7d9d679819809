"""One failover trial, judged: the probes' outages, the capture's takeover and the
fault's confirmation against the bounds the configuration implies. Pure.

The trial's record (``judge``) attributes each part of the outage, all relative to the
fault instant (when the decisive kernel call returned):

    last answer before  ->  the old master's last advert (or goodbye)  ->  takeover
    advert of the new master  ->  its first GARP  ->  first answer through it

and keeps, per probe, every gap, the longest, the total, and whether it ever recovered.
``outage_s`` is the L3 probe's judged gap (the cluster VIP), ``service_outage_s`` the
service probe's (VIP:port through the Direct Routing path, answered by a web node),
``takeover_s`` the protocol's own number from the capture.

The bounds (``lablb.measure.bounds``) are widened by each gap's own measured resolution,
so a trial carries its own; a probe that could not resolve its outage, never recovered,
lost probes the fault cannot explain, or saw no answer before the fault fails the
trial whatever the numbers say, as does a fault the capture does not confirm.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from lablb.measure import bounds as B
from lablb.measure.disturbance import forwarder_held
from lablb.measure.outage import Outage, ProbeLog, outage, summary
from lablb.measure.pcap import Frame
from lablb.measure.result import Trial
from lablb.measure.timeline import confirmation, responders, runs, takeover

PROBE_NAMES = {"icmp": "outage_s", "tcp": "service_outage_s"}


@dataclass(frozen=True)
class Lan:
    """Who is who on the server LAN, from the lab: MAC -> host, host -> primary IP."""

    macs: Mapping[str, str]
    ips: Mapping[str, str]
    vrid: int


@dataclass(frozen=True)
class Window:
    """What the instruments recorded around one fault (seconds, CLOCK_REALTIME)."""

    fault: str
    confirms: str  # "silent" | "goodbye" | "no-adverts"
    before: float  # the fault's kernel call started...
    at: float  # ...and had returned: the fault instant
    since: float
    until: float
    probes: Mapping[str, ProbeLog]
    ident: int | None
    frames: Sequence[Frame]
    # The probes that ran: a VRRP-only cluster (no virtual_server) has no service to
    # probe, and its trials are judged on the cluster VIP alone.
    expected: tuple[str, ...] = tuple(PROBE_NAMES)


def _rel(t: float | None, origin: float) -> float | None:
    return None if t is None else round(t - origin, 6)


def judge(
    w: Window,
    node: str,
    lan: Lan,
    backup: B.Timing,
    slack: B.Slack,
    outage_bounds: Mapping[str, tuple[float, float]] | None = None,
) -> Trial:
    """The trial's record: measurements, per-trial bounds and problems. The outages are
    bounded by the protocol (``lablb.measure.bounds``) unless ``outage_bounds`` gives the
    scenario's own (e.g. ``nogarp``: r1's neighbour timers); either way widened by each
    probe's resolution in this trial."""
    problems: list[str] = []
    nominal = {
        "outage_s": B.client_outage(w.fault, backup, slack, 0.0),
        "service_outage_s": B.service_outage(w.fault, backup, slack, 0.0),
    }
    if outage_bounds is not None:
        nominal.update({k: v for k, v in outage_bounds.items() if k in nominal})
    outages: dict[str, Outage] = {}
    for kind, log in w.probes.items():
        latest = nominal[PROBE_NAMES[kind]][1] + log.interval
        o = outage(log, w.at, w.since, w.until, latest_start=latest, fault_from=w.before)
        outages[kind] = o
        problems += o.problems()
    for kind in w.expected:
        if kind not in w.probes:
            problems.append(f"no {kind} probe ran")
    # The protocol, from the capture.
    others = {m: lan.ips[h] for m, h in lan.macs.items() if h != node and h in lan.ips}
    tk = takeover(w.frames, lan.ips[node], others, w.fault == "graceful", lan.vrid)
    new = next((h for h, ip in lan.ips.items() if ip == tk.new), None)
    if tk.seconds is None:
        problems.append(
            "the capture shows no takeover: "
            + (
                "no advert from the old master"
                if tk.reference is None
                else "nobody else advertised"
            )
        )
    my_macs = {m for m, h in lan.macs.items() if h == node}
    # A goodbye may follow the signal at once; silence and a stopped timer hold from the
    # instant on, but for a frame already in the kernel's queues (one quantum).
    after = w.before if w.confirms == "goodbye" else w.at + slack.quantum
    ok, seen = confirmation(w.frames, my_macs, lan.ips[node], w.confirms, after)
    if not ok:
        problems.append(
            f"the capture does not confirm the {w.fault} at its instant ({w.confirms}: "
            f"{'frame' if seen else 'nothing'} seen at {_rel(seen, w.at)} s)"
        )
    who = responders(w.frames, w.ident, lan.macs)
    data: dict[str, object] = {
        "fault": w.fault,
        "fault_at": w.at,
        "fault_instant_width_s": round(w.at - w.before, 6),
        "fault_confirmed": ok,
        "fault_confirmation": {"kind": w.confirms, "seen_s": _rel(seen, w.at)},
        "new_master": new,
        "probes": {k: summary(o, w.at) for k, o in outages.items()},
        "responders": {
            k: runs(sorted(w.probes[k].answered.items()), who[k], w.at) for k in w.probes
        },
    }
    icmp = outages.get("icmp")
    judged_gap = icmp.judged if icmp else None
    first_new = None
    if icmp is not None and new is not None:
        first_new = next(
            (
                t
                for n, t in sorted(w.probes["icmp"].answered.items(), key=lambda p: p[1])
                if t > w.at and who["icmp"].get(n) == new
            ),
            None,
        )
    data["timeline"] = {
        "last_answer_before_s": _rel(judged_gap.last_answer_before if judged_gap else None, w.at),
        "old_master_last_advert_s": _rel(tk.reference, w.at),
        "takeover_advert_s": _rel(tk.first_new_advert, w.at),
        "first_garp_s": _rel(tk.first_garp, w.at),
        "first_answer_new_master_s": _rel(first_new, w.at),
    }
    trial = Trial(data=data)
    trial.measured["takeover_s"] = None if tk.seconds is None else round(tk.seconds, 6)
    for kind, o in outages.items():
        name = PROBE_NAMES[kind]
        trial.measured[name] = None if o.seconds is None else round(o.seconds, 6)
        if outage_bounds is not None and name in outage_bounds:
            low, high = outage_bounds[name]
            low, high = max(0.0, low - o.resolution), high + o.resolution
        else:
            fn = B.client_outage if kind == "icmp" else B.service_outage
            low, high = fn(w.fault, backup, slack, o.resolution)
        trial.bounds[name] = (low, high)
        nominal_width = nominal[name][1] - nominal[name][0]
        if o.judged is not None and o.resolution >= nominal_width:
            problems.append(
                f"{kind} probe: resolution {o.resolution * 1000:.1f} ms is no finer than the "
                f"bound's own width {nominal_width * 1000:.1f} ms: cannot tell in from out"
            )
        if o.seconds == 0.0 and low > 0:
            problems.append(
                f"{kind} probe: no probe lost, but the protocol sets a minimum of "
                f"{low * 1000:.1f} ms (interval {o.interval * 1000:g} ms)"
            )
    trial.bounds["takeover_s"] = B.takeover(w.fault, backup, slack)
    trial.problems += problems
    if outages.get("tcp") is not None and outages["tcp"].began_early > 0:
        # The requests were lost before the fault: did the forwarder hold them?
        trial.disturbed += forwarder_held(
            node, w.frames, my_macs, lan.macs, set(lan.ips.values()), w.before, slack.quantum
        )
    return trial


def failover_bounds(
    fault: str, backup: B.Timing, slack: B.Slack, interval: float
) -> dict[str, tuple[float, float]]:
    """The run's nominal bounds (a trial widens the probe ones by its own resolution)."""
    return {
        "outage_s": B.client_outage(fault, backup, slack, interval),
        "service_outage_s": B.service_outage(fault, backup, slack, interval),
        "takeover_s": B.takeover(fault, backup, slack),
    }
