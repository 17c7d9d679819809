"""splitbrain: the balancers stop hearing each other's VRRP, while clients keep working.

Timeline (one trial):
  t0          clients request through the service VIP every 0.2 s
  t0 + 1 s    nftables on the backup drops VRRP (IP protocol 112) from the master: the
              link between the balancers' VRRP traffic is cut, nothing else is
  ...         the backup hears nothing for master_down and becomes master too: two
              masters hold the VIPs (the router follows whichever ARPed last)
  + hold      the cut is healed
  ...         the backup hears the higher priority again and steps down

Bounds, from the backup's keepalived.conf: split within [master_down - advert_int,
master_down + 50 ms] of the cut; healed (one master again) within advert_int + 50 ms of
the heal, the time to the master's next advert. Reported: the time with two masters and
the clients' failed requests.
"""

from __future__ import annotations

import time
from typing import Any

from lablb.lab.trials import TOLERANCE, RequestLoop, became, vrrp_timing
from lablb.scenario import Bounds, Context, Param, Scenario

TABLE = "lablb_split"


class Splitbrain(Scenario):
    name = "splitbrain"
    params = {"hold": Param(3.0, "seconds the two masters coexist before the heal")}  # noqa: RUF012

    def _roles(self, ctx: Context) -> tuple[str, str]:
        by_prio = sorted(
            ctx.cluster.balancers, key=lambda b: -ctx.cluster.config(b).vrrp_instances[0].priority
        )
        return by_prio[0], by_prio[1]

    def bounds(self, ctx: Context) -> Bounds:
        _master, backup = self._roles(ctx)
        t = vrrp_timing(ctx.cluster, backup)
        return {
            "split_s": (t.master_down - t.advert_int, t.master_down + TOLERANCE),
            "heal_s": (0.0, t.advert_int + TOLERANCE),
        }

    def trial(self, ctx: Context, index: int) -> dict[str, Any]:
        c = ctx.cluster
        master, backup = self._roles(ctx)
        t = vrrp_timing(c, backup)
        c.wait_master(master, vrrp_timing(c, master).master_down + 3)
        load = RequestLoop(c).start()
        time.sleep(1.0)
        rule = f"ip saddr {c.lab.host(master).IP()} ip protocol vrrp drop"
        path = c.lab.workdir / f"{backup}-split.nft"
        path.write_text(
            f"table ip {TABLE} {{\n chain input {{\n  type filter hook input "
            f"priority 0;\n  {rule}\n }}\n}}\n"
        )
        c.lab.run(backup, ["nft", "-f", str(path)])
        cut = time.monotonic()
        split_at = became(c, backup, "MASTER", cut, t.master_down + 2, holds=True)
        both = sorted(c.holders(c.cluster_vip()))
        time.sleep(float(ctx.params["hold"]))
        c.lab.run(backup, ["nft", "delete", "table", "ip", TABLE])
        heal = time.monotonic()
        healed_at = became(c, backup, "BACKUP", heal, t.advert_int + 2, holds=False)
        errors, sent = load.stop()
        return {
            "split_s": round(split_at - cut, 4) if split_at else None,
            "heal_s": round(healed_at - heal, 4) if healed_at else None,
            "two_masters_s": round(healed_at - split_at, 3) if split_at and healed_at else None,
            "masters_during_split": ",".join(both),
            "two_masters_ok": both == sorted(c.balancers),
            "client_errors": errors,
            "client_requests": sent,
        }


SCENARIO = Splitbrain
