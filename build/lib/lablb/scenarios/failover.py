"""failover: the master fails under clients probing the cluster every millisecond.

Timeline (one trial):
  t0          the prober in cl01 sends an ICMP echo to the cluster VIP and a TCP SYN to
              the service VIP:port every ``interval`` s (answers stamped by the kernel)
  t0 + 0.5 s  the fault hits the master, at a seeded random point of its advert cycle:
              ``crash`` (switch ports down, processes killed), ``graceful`` (SIGTERM:
              priority-0 advert), ``ifdown`` (its interface), ``isolate`` (all its
              links, switch side) or ``freeze`` (SIGSTOP of its VRRP process)
  ...         the backup takes over: master_down after the old master's last advert
              (skew_time after its priority-0 advert), then announces the VIP by GARP
  + settle    the probes stop; the fault is undone (the node restarts / comes back)
  ...         with ``preempt`` the higher-priority node takes the VIP back

Bounds, from the backup's keepalived.conf (RFC 3768/5798 section 6.1) widened only by
derived slack (``lablb.measure.bounds``: timer granularity, one scheduling quantum, the
probe's own resolution): the takeover on the wire in [master_down, master_down +
epsilon] (graceful: skew_time); the client's outage in [master_down - advert_int -
epsilon, master_down + epsilon + quantum] (graceful: around skew_time; freeze: none);
the service's one quantum more; pre-emption master_down after the restarted daemon
started, which its own log says.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

from lablb.lab.faults import FAULTS
from lablb.lab.trials import fault_under_probe, lan_of, preempt_measure, slack_of
from lablb.measure.failover import failover_bounds, judge
from lablb.measure.result import Trial
from lablb.scenario import Bounds, Context, Scenario, param

OBSERVE_AFTER_S = 0.2  # probes go on this long past master_down + advert_int: recovery seen


@dataclass(frozen=True)
class FailoverParams:
    fault: str = param("crash", "what hits the master", choices=tuple(FAULTS))
    interval: float = param(0.001, "probe interval, seconds", low=0.0002, high=0.01)
    preempt: bool = param(True, "undo the fault and check the master takes the VIP back")
    seed: int = param(1, "seeds where in the advert cycle each trial's fault falls", low=0)


class Failover(Scenario[FailoverParams]):
    name = "failover"
    quick = {"fault": "graceful"}  # noqa: RUF012
    Params = FailoverParams

    def bounds(self, ctx: Context[FailoverParams]) -> Bounds:
        c = ctx.cluster
        master = c.preferred()
        backup = c.successor(master)
        slack = slack_of(c)
        ctx.notes.append(slack.explain())
        ctx.slack = slack.as_json()
        out = failover_bounds(ctx.params.fault, c.timers(backup), slack, ctx.params.interval)
        if c.probe_service() is None:
            del out["service_outage_s"]  # VRRP only, no local service: the VIP is all
        if ctx.params.preempt:
            t = c.timers(master)
            # Per trial, the restarted daemon's own start time is added to the top.
            out["preempt_s"] = (t.master_down, t.master_down + slack.fire)
        return out

    def trial(self, ctx: Context[FailoverParams], index: int) -> Trial:
        c = ctx.cluster
        # The master the fault hits is whoever holds the VIP once the cluster has settled
        # (the kernels say); its successor by the protocol's rule is the backup whose
        # timers bound the takeover.
        master = c.settle()
        backup = c.successor(master)
        t_backup = c.timers(backup)
        # The backup has heard a few adverts; then the fault falls at a (seeded) random
        # point of the advert cycle, so trials cover the whole [low, high] range.
        rng = random.Random(ctx.params.seed * 1000 + index)
        time.sleep(t_backup.advert_int * (1.0 + rng.random()))
        fault = ctx.faults.new(ctx.params.fault, c.nodes[master])
        m = fault_under_probe(
            c,
            ctx.capture,
            fault,
            settle=t_backup.master_down + t_backup.advert_int + OBSERVE_AFTER_S,
            interval=ctx.params.interval,
        )
        trial = judge(m.window(), master, lan_of(c), t_backup, slack_of(c))
        holders = c.holders(c.cluster_vip())
        trial.keep(cpu_steal_s=m.steal_s, holders_after=holders)  # steal: the hypervisor's
        trial.require(
            holders == [backup],
            f"after the fault the VIP is on {holders or 'nobody'}, not {backup}",
        )
        if ctx.params.preempt:
            pm = preempt_measure(c, ctx.capture, fault, master, slack_of(c))
            trial.measured["preempt_s"] = pm.seconds
            trial.bounds["preempt_s"] = pm.bounds
            trial.keep(preempt_started_s=pm.started_s, preempt_spawned_s=pm.spawned_s)
        else:
            fault.undo()
        return trial


SCENARIO = Failover
