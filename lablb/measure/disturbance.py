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

lablb's forwarder stands in for IPVS, which forwards in softirq context, ahead of every
task; the stand-in is a task, and it can be kept from its CPU too. When it is, right
before a crash, the client's requests wait in it and die with it: the service's outage
begins before the fault could have begun it (``lablb.measure.outage``: ``began_early``).
The capture says whether that happened (``forwarder_held``): the router's capture holds
every client SYN it delivered to the LAN, the balancer's switch port every SYN the
balancer sent on.

A hypervisor disturbs it whole: time it takes a vCPU away (/proc/stat ``steal``, on a
virtual machine) stalls daemons, forwarder and prober alike (``stolen``).

A disturbed trial that failed is measured again by the runner (``lablb.runner``); its
verdict stays as judged, and the attempt is kept in the result with its evidence.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence

from lablb.measure.pcap import Frame


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


def stolen(seconds: float, allowed: float) -> list[str]:
    """The CPU time the hypervisor took from the machine during a trial (``steal``, all
    CPUs: counted in 10 ms ticks), when more than ``allowed`` seconds, said in words."""
    if seconds <= allowed:
        return []
    return [
        f"the hypervisor took {seconds * 1000:.0f} ms of CPU from the machine during the"
        f" trial (steal), the bounds allow a wake-up {allowed * 1000:.2f} ms"
    ]


def forwarder_held(
    node: str,
    frames: Sequence[Frame],
    node_macs: Collection[str],
    lan_macs: Collection[str],
    balancer_ips: Collection[str],
    before: float,
    allowed: float,
) -> list[str]:
    """The client SYNs ``node``'s forwarder still held when the fault began at
    ``before``, held longer than ``allowed`` seconds, said in words. ``frames`` in time
    order: a SYN from a MAC that is no balancer's or web node's (``lan_macs``) is the
    router delivering a client's; one from ``node_macs`` whose source is no balancer
    (``balancer_ips``: not a checker's) is the forwarder passing one on. The SYNs
    delivered after the last it passed on were still in it: the first of them waited
    from its delivery to the fault. Nothing passed on at all (no capture of it, or no
    service): no evidence."""
    syns = [f for f in frames if f.kind == "syn" and f.t < before]
    passed = [
        f.t for f in syns if f.src_mac in node_macs and f.src_ip.split(":")[0] not in balancer_ips
    ]
    if not passed:
        return []
    waiting = [f.t for f in syns if f.src_mac not in lan_macs and f.t > passed[-1]]
    if not waiting or before - waiting[0] <= allowed:
        return []
    return [
        f"{node}: its forwarder passed on no client SYN in the"
        f" {(before - waiting[0]) * 1000:.2f} ms before the fault ({len(waiting)} delivered"
        f" to it), the bounds allow a wake-up {allowed * 1000:.2f} ms"
    ]
