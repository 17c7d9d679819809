"""What the benchmark's rows say, side by side: statistics, ratios and goals. Pure.

A row is one measurement of one engine in one setting (fault and advert interval, or
load, or lab size). ``pair`` puts lablb's next to keepalived's and computes the ratio;
``goals`` says, per goal of the issue, met or not and by how much, so the table can say
so instead of hiding a miss.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lablb.measure.stats import summary

# What lablb must do relative to keepalived (issue 14). Each is a goal of the project,
# not a bound on a measurement: missing one is reported, never a failed run.
OUTAGE_GOAL_S = 1e-3  # lablb's median outage no worse than keepalived's + 1 ms
START_GOAL_S = 20e-3  # restart to first advert within 20 ms of keepalived's
FALSE_FAILOVER_GOAL = 0  # spurious state changes under load
FORWARDER_PPS_GOAL = 150_000  # small packets the forwarding hop moves per CPU-second
IP_FORWARD_SHARE_GOAL = 0.8  # the kernel data plane's packets/s over the kernel's own
DR_PROXY_GOAL = (4, 3.6)  # web nodes, DR's throughput over the reverse proxy's there
PATHS = {  # step 5: key in the result -> how the traffic crosses (or skips) lb01
    "lablb": "lablb forwarder, Python (AF_PACKET)",
    "lablb-kernel": "lablb forwarder, kernel data plane (tc-BPF)",
    "kernel": "kernel (ip_forward)",
    "direct": "no balancer (r1 to web01)",
}


@dataclass(frozen=True)
class Stat:
    n: int
    median: float
    p95: float
    max: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Stat | None:
        if not values:
            return None
        s = summary(values)
        return cls(len(values), s["median"], s["p95"], s["max"])

    def as_json(self) -> dict[str, float]:
        return {"n": self.n, "median": self.median, "p95": self.p95, "max": self.max}


def values(trials: Sequence[Mapping[str, Any]], key: str) -> list[float]:
    return [float(t[key]) for t in trials if isinstance(t.get(key), int | float)]


def from_last_advert(trials: Sequence[Mapping[str, Any]], key: str) -> list[float]:
    """A silent fault's ``key`` (an outage, from the fault) counted from the old
    master's last advert instead: where in the advert cycle the fault fell is chance
    (it spreads a silent failover's outage over [master_down - advert_int,
    master_down]), and this takes it out, leaving what the engines did. Graceful
    stops announce themselves (priority 0) and are not counted here."""
    out = []
    for t in trials:
        silent = (t.get("fault_confirmation") or {}).get("kind") == "silent"
        last = (t.get("timeline") or {}).get("old_master_last_advert_s")
        v = t.get(key)
        if silent and isinstance(v, int | float) and isinstance(last, int | float):
            out.append(float(v) - float(last))
    return out


def lateness(
    trials: Sequence[Mapping[str, Any]], key: str, bounds: Mapping[str, Any]
) -> list[float]:
    """How far past the protocol's due time each trial's ``key`` came: the measured
    value minus its bound's low end (the timer's due time, less the capture's 1 ns)."""
    out = []
    for t in trials:
        own = t["bounds"] if isinstance(t.get("bounds"), dict) else {}
        low = (own.get(key) or bounds.get(key) or [None])[0]
        v = t.get(key)
        if isinstance(v, int | float) and isinstance(low, int | float):
            out.append(float(v) - float(low))
    return out


def ratio(a: float | None, b: float | None) -> float | None:
    """a / b, or None when either is missing or b is 0 (a 0 was never measured as 0
    here: an outage or a start time is always positive)."""
    if a is None or b is None or b == 0:
        return None
    return a / b


@dataclass(frozen=True)
class Goal:
    what: str
    met: bool
    detail: str

    def as_json(self) -> dict[str, object]:
        return {"what": self.what, "met": self.met, "detail": self.detail}


def _against_keepalived(
    what: str, mine: Mapping[str, Any] | None, theirs: Mapping[str, Any] | None,
    goal_s: float, digits: int,
) -> Goal:  # fmt: skip
    """lablb's median no more than ``goal_s`` above keepalived's, or "not measured"."""
    if not mine or not theirs:
        return Goal(what, False, "not measured")
    d = mine["median"] - theirs["median"]
    return Goal(what, d <= goal_s, f"lablb - keepalived median {d * 1000:+.{digits}f} ms "
                                   f"(goal <= +{goal_s * 1000:.0f} ms)")  # fmt: skip


PHASE_FREE = {"outage_s": "outage_from_advert_s",
              "service_outage_s": "service_outage_from_advert_s"}  # fmt: skip


def compared(probe: str, a: Mapping[str, Any], b: Mapping[str, Any]) -> str:
    """The statistic two rows are compared on for ``probe``: its phase-free twin
    (``from_last_advert``) when both measured one, else ``probe`` itself."""
    free = PHASE_FREE[probe]
    return free if free in a.get("stats", {}) and free in b.get("stats", {}) else probe


def outage_goals(rows: Sequence[Mapping[str, Any]]) -> list[Goal]:
    """Per (fault, interval, probe): lablb's median outage <= keepalived's + 1 ms; for a
    silent fault, counted from the old master's last advert (``from_last_advert``),
    which both runs measured."""
    by = {(r["engine"], r["configs"], r["fault"]): r for r in rows}
    return [
        _against_keepalived(f"{configs} {fault} {key}", row["stats"].get(key),
                            other["stats"].get(key), OUTAGE_GOAL_S, 2)
        for (engine, configs, fault), row in sorted(by.items())
        if engine == "lablb" and (other := by.get(("keepalived", configs, fault))) is not None
        for probe in ("outage_s", "service_outage_s")
        for key in (compared(probe, row, other),)
    ]  # fmt: skip


def start_goals(rows: Sequence[Mapping[str, Any]]) -> list[Goal]:
    """Per interval: lablb's median restart-to-first-advert within 20 ms of keepalived's."""
    by = {(r["engine"], r["configs"]): r for r in rows}
    return [
        _against_keepalived(f"{configs} restart to first advert", row.get("first_advert_s"),
                            other.get("first_advert_s"), START_GOAL_S, 1)
        for (engine, configs), row in sorted(by.items())
        if engine == "lablb" and (other := by.get(("keepalived", configs))) is not None
    ]  # fmt: skip


def false_goals(rows: Sequence[Mapping[str, Any]]) -> list[Goal]:
    return [
        Goal(f"false failovers, {r['label']}", r["changes"] <= FALSE_FAILOVER_GOAL,
             f"{r['changes']} spurious state changes in {r['seconds']:.0f} s (goal 0)")
        for r in rows if r["engine"] == "lablb" and r.get("rt", True)
    ]  # fmt: skip


def hop_us(result: Mapping[str, Any], who: str, traffic: str) -> float | None:
    """Microseconds of the box's CPU the balancer hop adds per packet on path ``who``:
    its box CPU per packet less that of the same traffic with no hop (``direct``). None
    when either is missing, or when the difference is not above 0: then the run did not
    resolve the hop's cost, which is never read as free."""
    def box(path: str) -> float | None:
        row = next((r for r in result.get(path, []) if r["traffic"] == traffic), None)
        return (row or {}).get("box_us_per_packet")

    with_hop, without = box(who), box("direct")
    if with_hop is None or without is None or with_hop <= without:
        return None
    return float(with_hop - without)


def capacity_goals(result: Mapping[str, Any] | None) -> list[Goal]:
    """The kernel data plane on small packets (the worst case): packets per CPU-second
    of the hop, and packets/s against the kernel's own forwarding in the same run."""
    if not result:
        return []
    per_core_what = "kernel data plane packets/s on one core"
    us = hop_us(result, "lablb-kernel", "small")
    if us is None:
        goals = [Goal(per_core_what, False, "not resolved (no hop cost above the no-hop "
                      "baseline, or a path not measured)")]  # fmt: skip
    else:
        per_core = 1e6 / us
        goals = [Goal(per_core_what, per_core >= FORWARDER_PPS_GOAL,
                      f"{per_core / 1000:.0f}k small packets per CPU-second of the hop "
                      f"({us:.2f} us each; goal >= {FORWARDER_PPS_GOAL // 1000}k)")]  # fmt: skip

    def pps(path: str) -> int | None:
        row = next((r for r in result.get(path, []) if r["traffic"] == "small"), None)
        return (row or {}).get("forwarded_pps")

    ours, kernels = pps("lablb-kernel"), pps("kernel")
    share_what = "kernel data plane against ip_forward"
    if not ours or not kernels:
        goals.append(Goal(share_what, False, "not measured"))
    else:
        goals.append(Goal(share_what, ours >= IP_FORWARD_SHARE_GOAL * kernels,
                          f"{ours / kernels:.2f} x the kernel's packets/s "
                          f"(goal >= {IP_FORWARD_SHARE_GOAL})"))  # fmt: skip
    return goals


def proxy_goals(rows: Sequence[Mapping[str, Any]]) -> list[Goal]:
    """Direct Routing against the reverse proxy, at the goal's web nodes."""
    webs, goal = DR_PROXY_GOAL
    row = next((r for r in rows if r["webs"] == webs), None)
    what = f"DR/proxy at {webs} web nodes"
    if row is None:
        return []
    if not row.get("ratio"):
        return [Goal(what, False, "not measured")]
    return [Goal(what, row["ratio"] >= goal, f"{row['ratio']:.2f} (goal >= {goal})")]


def ms(v: float | None, digits: int = 1) -> str:
    return "-" if v is None else f"{v * 1000:.{digits}f}"


def markdown(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out
