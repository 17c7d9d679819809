"""soak: the master fails again and again, crash, graceful stop and interface down in
turn, while clients keep requesting through the service VIP.

Timeline (one cycle; ``--param cycles=N`` of them, the faults in turn):
  t0          clients request /whoami.txt through the service VIP every 0.2 s, and cl01
              downloads an MP4 (``video_mb``) through it again and again at 2 MB/s,
              for the whole soak (a download cut by a failover is counted, and
              started again: connection sync is the ``stream`` scenario's business)
  + ~1 s      the fault hits the master under the 1 ms probes, as in ``failover``
              (crash, graceful, ifdown, crash, ...)
  ...         the backup takes over; the fault is undone and the preferred node takes
              the VIP back (pre-emption)
  then        each balancer's daemon processes are sampled: resident memory (VmRSS) and
              open file descriptors

Each cycle is judged as a ``failover`` trial of its fault (outages and takeover in the
bounds its config implies, pre-emption master_down after the restart). Over the soak,
from the capture: no two nodes advertise one VRID at once for longer than the
protocol allows, the old master's last advert interval plus epsilon
(``lablb.measure.masters``). The resource samples of a node whose daemons never
restarted (the backup: the faults hit the master) must show no descriptor leak (the
count at the end is the count after the first cycle); memory is reported as a slope
(kB per cycle) and plotted (``soak-resources.png``), not bounded: an allocator's
growth has no protocol bound.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lablb.lab.trials import TrafficLoop, slack_of
from lablb.lab.web import video
from lablb.measure.failover import failover_bounds
from lablb.measure.masters import Advert, overlaps
from lablb.measure.result import Trial
from lablb.scenario import Bounds, Context, Scenario, param, scenario_class

if TYPE_CHECKING:
    from lablb.lab.cluster import Cluster

FAILOVER = scenario_class("failover")()  # each cycle is a failover trial of its fault

FAULTS = ("crash", "graceful", "ifdown")
MAX_CYCLE_S = 60.0  # a cycle at 1 s adverts takes about 12 s; the traffic's own bound


def _resources(pids: list[int]) -> tuple[int, int]:
    """(VmRSS kB, open descriptors) summed over ``pids``."""
    rss = fds = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            rss += next(int(line.split()[1]) for line in status.splitlines()
                        if line.startswith("VmRSS:"))  # fmt: skip
            fds += len(os.listdir(f"/proc/{pid}/fd"))
        except (OSError, StopIteration, ValueError):
            continue
    return rss, fds


def slope(ys: list[float]) -> float:
    """Least-squares slope of ``ys`` against 0, 1, 2, ... (0 for fewer than 2)."""
    n = len(ys)
    if n < 2:
        return 0.0
    mx, my = (n - 1) / 2, sum(ys) / n
    return sum((i - mx) * (y - my) for i, y in enumerate(ys)) / sum((i - mx) ** 2 for i in range(n))


@dataclass(frozen=True)
class SoakParams:
    cycles: int = param(6, "fault cycles (crash, graceful, ifdown in turn)", low=1, high=500)
    video_mb: int = param(
        8, "size of the MP4 the first client downloads again and again", low=1, high=512
    )
    interval: float = param(0.001, "probe interval, seconds", low=0.0002, high=0.01)
    seed: int = param(1, "seeds where in the advert cycle each fault falls", low=0)
    stream: bool = param(True, "cl01 streams the MP4 through the VIP for the whole soak")


class Soak(Scenario[SoakParams]):
    name = "soak"
    # The suite's short run checks the machinery; the stream's load is the long run's.
    quick = {"cycles": "3", "stream": "no"}  # noqa: RUF012
    Params = SoakParams

    def trials_per_repeat(self, params: SoakParams) -> int:
        return params.cycles

    def video_mb(self, params: SoakParams) -> int | None:
        return params.video_mb

    @staticmethod
    def _failover(ctx: Context[SoakParams], fault: str) -> Context[Any]:
        """A cycle as the failover trial it is: its fault, with pre-emption."""
        p = ctx.params
        knobs = FAILOVER.Params(fault=fault, interval=p.interval, preempt=True, seed=p.seed)
        return Context(ctx.cluster, ctx.capture, ctx.faults, knobs, ctx.out, ctx.progress,
                       ctx.notes, ctx.bounds, ctx.slack)  # fmt: skip

    def bounds(self, ctx: Context[SoakParams]) -> Bounds:
        crash = self._failover(ctx, "crash")  # the run's bounds: a crash's
        out = FAILOVER.bounds(crash)
        ctx.slack = crash.slack
        c = ctx.cluster
        t = c.timers(c.preferred())
        out["two_masters_s"] = (0.0, t.advert_int + slack_of(c).epsilon)
        self._samples: dict[str, list[tuple[int, int, tuple[int, ...]]]] = {}
        return out

    def trial(self, ctx: Context[SoakParams], index: int) -> Trial:
        c = ctx.cluster
        fault = FAULTS[index % len(FAULTS)]
        if index == 0:
            # Each cycle takes well under a minute: the loops outlive the soak.
            span = MAX_CYCLE_S * ctx.params.cycles
            name = video(ctx.params.video_mb).name
            stream = name if ctx.params.stream else None
            self._load = TrafficLoop(c, span, video=stream).start()
        since = time.time()
        trial = FAILOVER.trial(self._failover(ctx, fault), index)
        # This cycle's own bounds: its fault's (the run's are the crash's).
        backup = c.successor(c.preferred())
        slack = slack_of(c)
        # (the outages' are already the fault's: ``judge`` reads it from the window)
        trial.bounds["takeover_s"] = failover_bounds(fault, c.timers(backup), slack, 0.0)[
            "takeover_s"
        ]
        # Two masters, from the capture over this cycle.
        t = c.timers(c.preferred())
        adverts = [
            Advert(f.t, f.src_ip, f.vrid, f.priority)
            for f in ctx.capture.frames(since - t.advert_int, time.time())
            if f.kind == "advert" and f.vrid is not None and f.priority is not None
        ]
        both = overlaps(adverts, t.advert_int + slack.epsilon)
        trial.measured["two_masters_s"] = round(max((o.seconds for o in both), default=0.0), 6)
        trial.keep(cycle_fault=fault, two_master_periods=len(both))
        self._sample(c, trial)
        if index + 1 == ctx.params.cycles:
            self._finish(ctx, trial)
        return trial

    def _sample(self, c: Cluster, trial: Trial) -> None:
        sample = {}
        for node in c.balancers:
            pids = sorted(c.nodes[node].all_pids())
            rss, fds = _resources(pids)
            self._samples.setdefault(node, []).append((rss, fds, tuple(pids)))
            sample[node] = {"rss_kb": rss, "fds": fds, "pids": pids}
        trial.keep(resources=sample)

    def _finish(self, ctx: Context[SoakParams], trial: Trial) -> None:
        traffic = self._load.stop()
        summary: dict[str, object] = {
            f"{kind}_failed_of": list(counts) for kind, counts in traffic.items()
        }
        for node, samples in self._samples.items():
            rss = [float(s[0]) for s in samples]
            fds = [s[1] for s in samples]
            steady = len({s[2] for s in samples}) == 1  # the same processes all along
            summary[node] = {
                "rss_slope_kb_per_cycle": round(slope(rss), 1),
                "fds_first": fds[0],
                "fds_last": fds[-1],
                "restarted": not steady,
            }
            if steady:
                trial.require(
                    fds[-1] <= fds[0],
                    f"{node}: open descriptors grew from {fds[0]} to {fds[-1]} over the soak",
                )
        trial.keep(soak=summary)
        _plot(ctx.out / "soak-resources.png", self._samples)


def _plot(path: Path, samples: dict[str, list[tuple[int, int, tuple[int, ...]]]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, (mem, fd) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    for node, rows in samples.items():
        cycles = range(1, len(rows) + 1)
        mem.plot(cycles, [r[0] / 1024 for r in rows], marker="o", label=node)
        fd.plot(cycles, [r[1] for r in rows], marker="o", label=node)
    mem.set_ylabel("daemons' RSS (MiB)")
    fd.set_ylabel("open descriptors")
    fd.set_xlabel("cycle (crash, graceful, ifdown in turn)")
    fd.xaxis.set_major_locator(MaxNLocator(integer=True))
    mem.set_title("soak: a leak is a slope")
    mem.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


SCENARIO = Soak
