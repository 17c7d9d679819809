"""nogarp: a new master that does not announce itself with gratuitous ARP.

Timeline (one trial):
  t0          the configs are derived with ``vrrp_garp_master_repeat 0`` and
              ``vrrp_garp_master_delay 0``: no balancer ever sends a gratuitous ARP;
              a client pings the cluster VIP every 10 ms through r1
  t0 + 0.5 s  the master crashes
  ...         the backup takes the VIP after master_down, silently; r1 still sends to
              the old master's MAC until its neighbour entry for the VIP expires:
              STALE after reachable_time, DELAY for delay_first_probe_time, PROBE with
              ucast_solicit unicast probes retrans_time apart, then a broadcast ARP that
              the new master answers

Bound, from the backup's keepalived.conf and r1's neighbour settings (read from r1):
outage within [master_down - advert_int, master_down + 1.5 x base_reachable_time +
delay_first_probe_time + ucast_solicit x retrans_time + 50 ms]. Parameters can shorten
r1's timers so a run takes seconds; the bound follows from whatever r1 uses.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from lablb.config.edit import no_garp
from lablb.config.sets import derive
from lablb.lab.trials import fault_under_probe, lan_of, slack_of
from lablb.measure.failover import judge
from lablb.measure.result import Trial
from lablb.scenario import Bounds, Context, Scenario, param


@dataclass(frozen=True)
class NoGarpParams:
    base_reachable_time_ms: int = param(
        0, "r1's neighbour base_reachable_time (0: kernel's)", low=0, high=3_600_000
    )
    delay_first_probe_time: int = param(
        0, "r1's delay_first_probe_time, s (0: kernel's)", low=0, high=3600
    )


class NoGarp(Scenario[NoGarpParams]):
    name = "nogarp"
    quick = {"base_reachable_time_ms": "2000", "delay_first_probe_time": "1"}  # noqa: RUF012
    Params = NoGarpParams

    def configure(self, configs: Path, params: NoGarpParams, out: Path) -> Path:
        return derive(configs, out, no_garp)

    def _router(self, ctx: Context[NoGarpParams]) -> tuple[str, str]:
        return ctx.cluster.roles("router")[0], "eth0"

    def _neigh(self, ctx: Context[NoGarpParams]) -> dict[str, float]:
        router, iface = self._router(ctx)
        base = f"net.ipv4.neigh.{iface}"
        p = ctx.params
        for key, value in (("base_reachable_time_ms", p.base_reachable_time_ms),
                           ("delay_first_probe_time", p.delay_first_probe_time)):  # fmt: skip
            if value:
                ctx.cluster.run(router, ["sysctl", "-w", f"{base}.{key}={value}"])
        values = {}
        for key in (
            "base_reachable_time_ms",
            "delay_first_probe_time",
            "ucast_solicit",
            "retrans_time_ms",
        ):
            out = ctx.cluster.run(router, ["sysctl", "-n", f"{base}.{key}"]).stdout
            values[key] = float(out.strip() or 0)
        return values

    def bounds(self, ctx: Context[NoGarpParams]) -> Bounds:
        c = ctx.cluster
        t = c.timers(c.successor(c.preferred()))
        n = self._neigh(ctx)
        stale = (
            1.5 * n["base_reachable_time_ms"] / 1000
            + n["delay_first_probe_time"]
            + n["ucast_solicit"] * n["retrans_time_ms"] / 1000
        )
        ctx.notes.append(f"r1 neighbour timers: {n}")
        slack = slack_of(ctx.cluster)
        ctx.notes.append(slack.explain())
        ctx.slack = slack.as_json()
        low = t.master_down - t.advert_int - slack.epsilon
        high = t.master_down + stale + slack.epsilon + slack.quantum
        return {"outage_s": (low, high), "service_outage_s": (low, high + slack.quantum)}

    def trial(self, ctx: Context[NoGarpParams], index: int) -> Trial:
        c = ctx.cluster
        master = c.settle()
        backup = c.successor(master)
        high = ctx.bounds["service_outage_s"][1]
        crash = ctx.faults.new("crash", c.nodes[master])
        m = fault_under_probe(c, ctx.capture, crash, settle=high + 1.0, interval=0.001)
        # Without GARP, r1 learns the new MAC only when its neighbour entry goes stale:
        # the run's bounds (from r1's timers), widened by this trial's probe resolution.
        trial = judge(m.window(), master, lan_of(c), c.timers(backup), slack_of(c), ctx.bounds)
        garps = any(f.kind == "garp" and f.t > m.instant.before for f in m.frames)
        trial.keep(garps_seen=garps)
        trial.require(not garps, "a gratuitous ARP was sent although the configs forbid it")
        crash.undo()
        time.sleep(0.5)
        return trial


SCENARIO = NoGarp
