"""How late a timer wakes a real-time task on this machine: the platform's share of a
VRRP timer's lateness, measured apart from any VRRP engine (cyclictest's idea, in the
daemon's own terms: ``select(2)`` with a timeout, SCHED_RR at the lab's
``vrrp_rt_priority``). Run inside a lab host beside the load under test:

    python -m bench.wakeup --seconds 60 --period 0.01 --rt-priority 5

prints one JSON object: how many wake-ups, and the lateness median, p99, p99.9 and max
in microseconds, and how many came more than 0.5, 1, 1.5 and 2 ms late. A late
wake-up here is time no engine could have won back: the kernel ran something it
would not preempt (this machine's kernel is built PREEMPT_NONE) or the hypervisor ran
another guest.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import time

from lablb.measure.stats import percentile

LATE_MS = (0.5, 1.0, 1.5, 2.0)
MAX_SECONDS = 3600.0


def measure(seconds: float, period: float) -> list[float]:
    late = []
    end = time.monotonic() + min(seconds, MAX_SECONDS)
    due = time.monotonic() + period
    while due < end:
        select.select([], [], [], max(0.0, due - time.monotonic()))
        late.append(time.monotonic() - due)
        due += period
    return late


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.wakeup")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--period", type=float, default=0.01)
    p.add_argument("--rt-priority", type=int, default=0, help="SCHED_RR priority; 0: timesharing")
    args = p.parse_args(argv)
    if args.rt_priority:
        os.sched_setscheduler(0, os.SCHED_RR, os.sched_param(args.rt_priority))
    late = measure(args.seconds, args.period)
    us = [x * 1e6 for x in late] or [0.0]
    print(json.dumps({
        "n": len(late), "period_s": args.period, "rt_priority": args.rt_priority,
        "median_us": round(percentile(us, 50), 1), "p99_us": round(percentile(us, 99), 1),
        "p999_us": round(percentile(us, 99.9), 1), "max_us": round(max(us), 1),
        "over_ms": {str(ms): sum(1 for x in late if x > ms / 1000) for ms in LATE_MS},
    }))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
