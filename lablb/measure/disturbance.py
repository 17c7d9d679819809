"""Did the machine break a condition the bounds rest on? Pure.

Every bound allows a timer's wake-up one scheduling quantum (``lablb.measure.bounds``:
EEVDF's base slice, what the running task may use before the woken daemon gets its
CPU). Lab and trials share two CPUs, and now and then a wake-up queues longer: measured
here, a woken task that asks for the 100 us slice waited up to 3.3 ms beside two CPU
hogs (the kernel's slice is enforced at its 4 ms tick; it is not preemptible in kernel
code). Such a trial measures the machine, not the configuration. lablb's VRRP engine
says so itself: with each state change a timer caused it logs ``queued_s``, how long its
wake-up was runnable without a CPU (``run_delay`` in /proc/thread-self/schedstat, read
before and after the wait). keepalived logs nothing of the kind, so no trial of it is
ever found disturbed.

A disturbed trial that failed is measured again by the runner (``lablb.runner``); its
verdict stays as judged, and the attempt is kept in the result with its evidence.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def cpu_waits(
    node: str,
    events: Iterable[Mapping[str, object]],
    since: float,
    until: float,
    allowed: float,
) -> list[str]:
    """``node``'s state events (its engine's JSON log, ``wall`` in CLOCK_REALTIME)
    between ``since`` and ``until`` whose timer's wake-up queued for a CPU longer than
    ``allowed`` seconds, each said in words."""
    out = []
    for e in events:
        queued, wall = e.get("queued_s"), e.get("wall")
        if not isinstance(queued, int | float) or not isinstance(wall, int | float):
            continue
        if since <= wall <= until and queued > allowed:
            out.append(
                f"{node}: the wake-up of its timer ({e.get('reason', '?')}) waited"
                f" {queued * 1000:.2f} ms for a CPU, the bounds allow {allowed * 1000:.2f} ms"
            )
    return out
