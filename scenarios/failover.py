"""failover: the master fails under a client probing the cluster VIP every 10 ms.

Timeline (one trial):
  t0          a client on the far side of r1 pings the VIP every ``interval`` s
  t0 + 0.5 s  the fault hits the master, at a seeded random point of its advert cycle:
              ``crash`` (VRRP frozen, processes killed, link down), ``graceful``
              (SIGTERM: priority-0 advert), ``ifdown`` (its interface), ``isolate``
              (all its links, switch side) or ``freeze`` (SIGSTOP of its VRRP process)
  ...         the backup takes over: after master_down (crash, ifdown, isolate, freeze)
              or skew_time (graceful), then announces the VIP with gratuitous ARP
  + settle    the fault is undone (the node restarts / comes back)
  ...         with ``preempt`` the higher-priority node takes the VIP back

Bounds, from the backup's keepalived.conf (RFC 3768 section 6.1): outage within
[master_down - advert_int, master_down + 50 ms] for a crash; at most skew_time + 50 ms
for a graceful stop; pre-emption within master_down + 1 s of the restart.
"""

from __future__ import annotations

import random
import time
from typing import Any

from lablb.lab.faults import FAULTS
from lablb.lab.trials import STARTUP, failover_bound, fault_under_probe, vrrp_timing
from lablb.scenario import Bounds, Context, Param, Scenario


class Failover(Scenario):
    name = "failover"
    params = {  # noqa: RUF012
        "fault": Param("crash", f"one of {', '.join(FAULTS)}"),
        "interval": Param(0.01, "probe interval, seconds"),
        "preempt": Param(True, "undo the fault and check the master takes the VIP back"),
        "seed": Param(1, "seeds where in the advert cycle each trial's fault falls"),
    }

    def _roles(self, ctx: Context) -> tuple[str, str]:
        by_prio = sorted(
            ctx.cluster.balancers, key=lambda b: -ctx.cluster.config(b).vrrp_instances[0].priority
        )
        return by_prio[0], by_prio[1]

    def bounds(self, ctx: Context) -> Bounds:
        if ctx.params["fault"] not in FAULTS:
            raise ValueError(f"fault {ctx.params['fault']!r}: one of {', '.join(FAULTS)}")
        master, backup = self._roles(ctx)
        out: Bounds = {
            "outage_s": failover_bound(ctx.params["fault"], vrrp_timing(ctx.cluster, backup))
        }
        if ctx.params["preempt"]:
            t = vrrp_timing(ctx.cluster, master)
            out["preempt_s"] = (0.0, t.master_down + STARTUP)
        return out

    def trial(self, ctx: Context, index: int) -> dict[str, Any]:
        master, backup = self._roles(ctx)
        t_backup = vrrp_timing(ctx.cluster, backup)
        ctx.cluster.wait_master(master, vrrp_timing(ctx.cluster, master).master_down + STARTUP + 2)
        # The backup has heard a few adverts; then the fault falls at a (seeded) random
        # point of the advert cycle, so trials cover the whole [low, high] range.
        rng = random.Random(int(ctx.params["seed"]) * 1000 + index)
        time.sleep(t_backup.advert_int * (1.0 + rng.random()))
        m = fault_under_probe(
            ctx.cluster,
            master,
            ctx.params["fault"],
            settle=t_backup.master_down + 1.0,
            interval=float(ctx.params["interval"]),
        )
        undo = m.pop("undo")
        m["new_master"] = ",".join(ctx.cluster.holders(ctx.cluster.cluster_vip()))
        m["backup_took_over_ok"] = backup in m["new_master"].split(",")
        if ctx.params["preempt"]:
            back = undo.undo()
            ctx.cluster.wait_master(
                master, vrrp_timing(ctx.cluster, master).master_down + STARTUP + 2
            )
            m["preempt_s"] = round(time.monotonic() - back, 4)
        else:
            undo.undo()
        return m


SCENARIO = Failover
