"""service: the service the VIP fronts dies on the master; its tracked script moves the VIP.

For VRRP-only configs (no ``virtual_server``), the most common keepalived deployment:
the VIP in front of HAProxy, nginx, MySQL or the Kubernetes API on the balancers
themselves, watched by a ``vrrp_script`` (``killall -0 haproxy``, ``pidof nginx``,
``curl -f http://localhost:6443/healthz``). The lab runs a stand-in for that service on
each balancer (``lablb.lab.local``: the process name and port the script implies); the
script runs as written where it checks a local port, and a search by process name or a
script not on this machine becomes a connect to the node's own service (said:
``lablb.config.local_service``). ``variant=haproxy`` derives such a config from any set
(the suite's run on the seed): ``killall -0 haproxy`` every second, fall 2, rise 2,
weight -2.

Timeline (one trial):
  t0          the prober in cl01 pings the VIP and sends a TCP SYN to VIP:port every
              ``interval`` s
  t0 + 0.5 s  the service is killed (SIGKILL) on the master, at a seeded point of the
              script's cycle
  ...         the script fails ``fall`` times in a row; the master's priority drops by
              the weight (weight 0: FAULT, a priority-0 advert); the backup discards the
              lower adverts and takes over master_down after the last it accepted
  + settle    the service is started again on the old master; the script passes
              ``rise`` times; its priority rises and it takes the VIP back (preempt)

Bounds (``lablb.measure.tracked``): the takeover on the wire, master_down after the
master's last advert at its old priority (FAULT: skew_time after its goodbye), late by
epsilon; the kill to the takeover within [(fall - 1) interval, fall interval + timeout]
plus the VRRP step; the service probe's outage the same plus a quantum; the VIP's ICMP
outage at most a quantum (FAULT: skew_time); the return within the same for ``rise``.
A config whose priorities do not move the VIP (the weight does not cross the gap, or
``nopreempt``) is refused, saying the arithmetic.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path

from lablb.config.edit import fronting_haproxy
from lablb.config.local_service import tracked_weight
from lablb.config.sets import derive
from lablb.errors import LabError
from lablb.lab.faults import ServiceKill
from lablb.lab.trials import (
    CAPTURE_POLL_S,
    PREEMPT_WAIT_S,
    fault_under_probe,
    lan_of,
    slack_of,
)
from lablb.measure import tracked as T
from lablb.measure.result import Trial
from lablb.scenario import Bounds, Context, Scenario, param

OBSERVE_AFTER_S = 0.3  # probes go on this long past the failover's upper bound


@dataclass(frozen=True)
class ServiceParams:
    variant: str = param(
        "config",
        "the config's own tracked script, or the HAProxy VIP derived from any config",
        choices=("config", "haproxy"),
    )
    interval: float = param(0.001, "probe interval, seconds", low=0.0002, high=0.01)
    seed: int = param(1, "seeds where in the script's cycle each kill falls", low=0)


class Service(Scenario[ServiceParams]):
    name = "service"
    quick = {"variant": "haproxy"}  # noqa: RUF012
    Params = ServiceParams

    def configure(self, configs: Path, params: ServiceParams, out: Path) -> Path:
        return derive(configs, out, fronting_haproxy) if params.variant == "haproxy" else configs

    def _model(self, ctx: Context[ServiceParams]) -> tuple[str, str, T.ScriptTiming, T.Arithmetic]:
        """(master, backup, the script's timing, the priority arithmetic)."""
        c = ctx.cluster
        watched = c.local_service()
        if watched is None:
            raise LabError(
                "no tracked vrrp_script watches a local service the lab can stand in for "
                "(killall/pidof/pgrep NAME, curl or nc to localhost:PORT; VRRP-only configs)"
            )
        master = c.preferred()
        backup = c.successor(master)
        weight = tracked_weight(c.config(master), c.instance(master), watched.script)
        if weight.reverse:
            raise LabError(f"track_script {watched.script} ... reverse: not emulated by the lab")
        arith = T.Arithmetic(
            weight=weight.weight,
            master_up=c.priority(master, True),
            master_failed=c.priority(master, False),
            backup=c.priority(backup, True),
            nopreempt=c.instance(backup).nopreempt,
            backup_wins_tie=c.address(backup) > c.address(master),
        )
        if not arith.moves:
            raise LabError(f"killing {watched.process} does not move the VIP: {arith.explain()}")
        return master, backup, T.ScriptTiming.of(weight.script), arith

    def bounds(self, ctx: Context[ServiceParams]) -> Bounds:
        c = ctx.cluster
        master, backup, script, arith = self._model(ctx)
        slack = slack_of(c)
        watched = c.local_service()
        ctx.notes += [slack.explain(), f"{watched.how if watched else ''}; {arith.explain()}"]
        ctx.slack = slack.as_json()
        tb, probe = c.timers(backup), ctx.params.interval
        return {
            "takeover_s": T.takeover(arith, tb, slack),
            "failover_s": T.failover(script, arith, tb, slack),
            "outage_s": T.client_outage(arith, tb, slack, probe),
            "service_outage_s": T.service_outage(script, arith, tb, slack, probe),
            "restore_s": T.restore(script, arith, c.timers(master), slack),
        }

    def trial(self, ctx: Context[ServiceParams], index: int) -> Trial:
        c = ctx.cluster
        master, backup, script, arith = self._model(ctx)
        if c.settle() != master:
            return Trial.failed(f"the cluster settled with another master than {master}")
        tb = c.timers(backup)
        slack = slack_of(c)
        # The kill falls at a seeded point of the script's cycle: trials cover the range.
        rng = random.Random(ctx.params.seed * 1000 + index)
        time.sleep(script.interval * rng.random())
        fault = ctx.faults.add(ServiceKill(c.nodes[master], service=c.local[master]))
        settle = T.failover(script, arith, tb, slack)[1] + OBSERVE_AFTER_S
        m = fault_under_probe(c, ctx.capture, fault, settle, ctx.params.interval)
        lan = lan_of(c)
        w = T.Kill(m.instant.before, m.instant.after, m.since, m.until, m.probes, m.frames)
        trial = T.judge_kill(w, master, lan, script, arith, tb, slack)
        holders = c.holders(c.cluster_vip())
        trial.require(holders == [backup], f"after the kill the VIP is on {holders or 'nobody'}, "
                      f"not {backup}")  # fmt: skip
        trial.keep(cpu_steal_s=m.steal_s, holders_after=holders)
        # The return: the service starts again; rise passes, then the old master's
        # priority is back above the backup's and it takes the VIP back.
        tm = c.timers(master)
        undo = fault.undo()
        low, high = T.restore(script, arith, tm, slack)
        high += undo.after - undo.before  # the service came up somewhere in its restart
        ip = lan.ips[master]
        first = None
        deadline = undo.before + high + PREEMPT_WAIT_S
        time.sleep(max(0.0, undo.before + low - time.time()))
        while first is None and time.time() < deadline:
            time.sleep(CAPTURE_POLL_S)
            frames = ctx.capture.frames(undo.before, time.time() + 1.0, flush=False)
            first = next(
                (f.t for f in frames if f.kind == "advert" and f.src_ip == ip
                 and f.priority == arith.master_up),
                None,
            )  # fmt: skip
        trial.measured["restore_s"] = None if first is None else round(first - undo.before, 6)
        trial.bounds["restore_s"] = (low, high)
        trial.keep(restart_width_s=round(undo.after - undo.before, 6))
        c.wait_master(master, PREEMPT_WAIT_S)
        return trial


SCENARIO = Service
