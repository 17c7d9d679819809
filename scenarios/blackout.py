"""blackout: calibration. The router drops all traffic to the VIPs for exactly D ms.

Timeline (one trial):
  t0          the prober in cl01 sends an ICMP echo to the cluster VIP and a TCP SYN to
              the service VIP:port every ``interval`` s
  t0 + 0.5 s  r1 starts dropping every packet it would forward to either VIP: the VIPs
              join the set a drop rule matches, committed from the runner itself
              (libnftables in r1's namespace), stamped before and after the commit
  + ``ms``    they leave the set, stamped the same way
  + 0.3 s     the probes stop

Nothing fails over: VRRP and the balancers never notice. So the only outage is the one
injected, known to within its two commits (``injected_s``, the middle of each commit to
the middle of the other), and the probes' reading of it (``measured_s`` for the L3 probe,
``service_measured_s`` for the service probe) must agree with it: the error may not
exceed the probe's own resolution for the gap (about one interval) plus half of the two
commits' brackets. This is how lablb shows that its instrument resolves what it reports.

A trial whose prober lost its pace at the gap's edges cannot show that: its resolution
is coarser than one interval plus half a scheduling quantum (the most a timer's wake-up
may lose at one edge, ``lablb.measure.bounds``), which fails it whatever its error, and
is the machine's doing (the prober kept from its CPU): the runner measures it again.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from lablb.lab.kernel import InNetns, Nft
from lablb.lab.probe import Prober
from lablb.lab.trials import IN_FLIGHT_S, lan_of, slack_of
from lablb.measure.outage import outage, summary
from lablb.measure.result import Trial
from lablb.measure.timeline import responders, runs
from lablb.scenario import Bounds, Context, Scenario, param

TABLE = "lablb_blackout"
LEAD_S = 0.5  # probes answered before the drop: the "before" picture
TAIL_S = 0.3  # and after it: recovery seen


@dataclass(frozen=True)
class BlackoutParams:
    ms: float = param(20.0, "length of the drop, milliseconds", low=1.0, high=10_000.0)
    interval: float = param(0.001, "probe interval, seconds", low=0.0002, high=0.01)


class Blackout(Scenario[BlackoutParams]):
    name = "blackout"
    quick = {"ms": "20"}  # noqa: RUF012
    Params = BlackoutParams

    def bounds(self, ctx: Context[BlackoutParams]) -> Bounds:
        r = ctx.params.interval
        # Nominal; each trial widens them by its own probe resolution and commit brackets.
        return {"error_s": (-r, r), "service_error_s": (-r, r)}

    def trial(self, ctx: Context[BlackoutParams], index: int) -> Trial:
        c = ctx.cluster
        router = c.roles("router")[0]
        vips = sorted({str(c.cluster_vip())} | {str(v[0]) for v in [c.service_vip()] if v})
        out = c.workdir / f"probe-blackout-{index}.json"
        interval = ctx.params.interval
        worker = InNetns(c.pid(router))
        prober = Prober(
            c.lab, c.roles("client")[0], c.cluster_vip(), c.service_vip(), interval, out
        ).start()
        try:
            nft = worker.call(Nft)
            # The drop rule waits on an empty set: the drop starts and ends with the same
            # kind of commit (set elements added, then deleted), so both take effect at
            # the same point of their bracket.
            elements = f"{{ {', '.join(vips)} }}"
            worker.call(
                lambda: nft.run(
                    f"add table ip {TABLE}\n"
                    f"add set ip {TABLE} vips {{ type ipv4_addr; }}\n"
                    f"add chain ip {TABLE} blackhole {{ type filter hook forward priority 0; }}\n"
                    f"add rule ip {TABLE} blackhole ip daddr @vips drop"
                )
            )
            time.sleep(LEAD_S)
            since = time.time() - LEAD_S + interval
            on = worker.call(lambda: nft.run(f"add element ip {TABLE} vips {elements}"))
            time.sleep(max(0.0, on.after + ctx.params.ms / 1000 - time.time()))
            off = worker.call(lambda: nft.run(f"delete element ip {TABLE} vips {elements}"))
            time.sleep(TAIL_S)
            until = time.time()
            time.sleep(IN_FLIGHT_S)
            worker.call(lambda: nft.run(f"delete table ip {TABLE}"))
            worker.call(nft.close)
        finally:
            logs = prober.stop()
            worker.close()
        frames = ctx.capture.frames(since - 1.0, until + 1.0)
        who = responders(frames, prober.ident, lan_of(c).macs)
        start, end = (on.before + on.after) / 2, (off.before + off.after) / 2
        bracket = (on.width + off.width) / 2
        injected = end - start
        trial = Trial()
        probes: dict[str, object] = {}
        # A prober on pace brackets each edge by one interval; one wake-up may lose a
        # quantum at one edge.
        coarse = interval + slack_of(c).quantum / 2
        for kind, name in (("icmp", ""), ("tcp", "service_")):
            o = outage(logs[kind], start, since, until, latest_start=interval * 2)
            probes[kind] = summary(o, start)
            trial.problems += o.problems()
            got = o.seconds
            trial.data[f"{name}measured_s"] = None if got is None else round(got, 6)
            trial.measured[f"{name}error_s"] = None if got is None else round(got - injected, 6)
            tol = o.resolution + bracket
            trial.bounds[f"{name}error_s"] = (-tol, tol)
            trial.require(
                got != 0.0, f"{kind} probe: the {injected * 1000:.1f} ms drop went unseen"
            )
            if o.judged is not None and o.resolution > coarse:
                trial.problems.append(
                    f"{kind} probe: resolution {o.resolution * 1000:.2f} ms, coarser than its"
                    f" interval and half a quantum ({coarse * 1000:.2f} ms): it cannot calibrate"
                )
                trial.disturbed.append(
                    f"the prober's sends around the {kind} gap came late (resolution"
                    f" {o.resolution * 1000:.2f} ms, its pace and a wake-up allow"
                    f" {coarse * 1000:.2f} ms)"
                )
        trial.keep(
            injected_s=round(injected, 6),
            injection_bracket_s=round(bracket, 6),
            probes=probes,
            responders={k: runs(sorted(logs[k].answered.items()), who[k], start) for k in logs},
            vips=vips,
        )
        ctx.progress(
            f"blackout: injected {injected * 1000:.3f} ms, measured "
            f"{json.dumps(trial.data['measured_s'])} s"
        )
        return trial


SCENARIO = Blackout
