"""What a configuration promises about a failover, as [low, high] seconds. Pure.

Every bound is a protocol timer from RFC 3768 / RFC 5798 section 6.1 (``master_down``,
``skew_time``, ``advert_int``, computed by ``lablb.vrrp.timers`` from the backup's
keepalived.conf) widened only by slack that is derived here and printed with it:

``timer``
    how late an engine's timer may fire by construction. keepalived 2.2 sleeps on a
    timerfd (no timer slack) with timers kept in microseconds (``TIMER_HZ`` 1000000):
    1 us. lablb sleeps in ``select(2)``, which the kernel may let fire a thousandth of
    its timeout late (timer slack); its loop never waits longer than 50 ms for a timer
    (``lablb.vrrp.timers.wait_towards``), so 50 us.
``quantum``
    one scheduling quantum: a timer that fires while its CPU runs another task waits up
    to one slice before the daemon runs. Linux's EEVDF base slice is 0.75 ms scaled by
    1 + log2(CPUs) (at most 8 CPUs counted; ``sysctl_sched_base_slice`` and
    ``get_update_sysctl_factor`` in kernel/sched/fair.c): 1.5 ms on 2 CPUs.
``read``
    when an engine starts the timer an advert restarts. lablb takes the kernel's receive
    stamp of the packet (SO_TIMESTAMPNS), so the wake-up that reads it does not count:
    0. keepalived 2.2 takes its own clock as it reads it (``vrrp_init_instance_sands``
    calls ``set_time_now``), so the master_down a received advert starts runs from that
    wake-up, up to one quantum after the packet: one more quantum.
``capture``
    the capture's timestamp resolution (nanoseconds: tcpdump writes ns pcaps here).
``probe``
    the prober's resolution for a gap: half of each edge's bracket, about one probe
    interval (``lablb.measure.outage``). Probes judge client outages; the capture
    judges the protocol.

fire = timer + quantum is what may lie between a timer falling due and its packet on the
wire (a restarted daemon's timer, a thawed one); epsilon = fire + read, between an advert
on the wire and the packet of the timer it started (every takeover). A client outage
adds, after the takeover advert, the gratuitous ARP that moves r1 (sent in the same step
as the advert, so within one more quantum), and for the service probe the forwarder's
switch to forwarding, woken by the kernel's address notification (one more quantum).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from lablb.vrrp.timers import TIMER_LATENESS

ENGINE_TIMER_S = {"lablb": TIMER_LATENESS, "keepalived": 1e-6}
# Does the engine start an advert's timer on its own clock at the read (not the kernel's
# receive stamp)? Then the read's wake-up counts: ``read``.
ENGINE_OWN_CLOCK = {"lablb": False, "keepalived": True}
BASE_SLICE_S = 0.75e-3  # kernel/sched/fair.c sysctl_sched_base_slice (750000 ns)
MAX_SCALED_CPUS = 8  # kernel/sched/fair.c get_update_sysctl_factor: min(cpus, 8)
CAPTURE_S = 1e-9  # tcpdump --time-stamp-precision=nano


def sched_quantum(cpus: int) -> float:
    """One EEVDF base slice on a machine with ``cpus`` CPUs (SCHED_TUNABLESCALING_LOG)."""
    n = max(1, min(cpus, MAX_SCALED_CPUS))
    return BASE_SLICE_S * (1 + int(math.log2(n)))


@dataclass(frozen=True)
class Timing:
    """The VRRP timers of one node's instance, seconds (RFC 3768/5798 section 6.1)."""

    master_down: float
    skew: float
    advert_int: float


@dataclass(frozen=True)
class Slack:
    timer: float
    quantum: float
    capture: float = CAPTURE_S
    read: float = 0.0

    @classmethod
    def of(cls, engines: list[str], cpus: int) -> Slack:
        quantum = sched_quantum(cpus)
        read = quantum if any(ENGINE_OWN_CLOCK[e] for e in engines) else 0.0
        return cls(max(ENGINE_TIMER_S[e] for e in engines), quantum, read=read)

    @property
    def fire(self) -> float:
        """A timer falling due to its packet on the wire."""
        return self.timer + self.quantum

    @property
    def epsilon(self) -> float:
        """An advert on the wire to the packet of the timer it started."""
        return self.fire + self.read

    def as_json(self) -> dict[str, float]:
        return {"epsilon_s": self.epsilon, "timer_s": self.timer, "quantum_s": self.quantum,
                "read_s": self.read}  # fmt: skip

    def explain(self) -> str:
        text = (
            f"epsilon {self.epsilon * 1000:.3f} ms = timer {self.timer * 1e6:.0f} us "
            f"+ one scheduling quantum {self.quantum * 1000:.2f} ms"
        )
        if self.read:
            text += (
                f" + {self.read * 1000:.2f} ms to read the advert (keepalived starts its"
                " timer on its own clock at the read)"
            )
        return text


Bound = tuple[float, float]

# Faults after which the old master falls silent and the backup waits out master_down.
SILENT = ("crash", "ifdown", "isolate", "freeze")


def takeover(fault: str, backup: Timing, slack: Slack) -> Bound:
    """Old master's last advert (graceful: its priority-0 advert) to the new master's
    first, on the wire: master_down (skew_time) exactly, late by at most epsilon."""
    due = backup.skew if fault == "graceful" else backup.master_down
    return due - slack.capture, due + slack.epsilon + slack.capture


def client_outage(fault: str, backup: Timing, slack: Slack, probe: float) -> Bound:
    """The L3 probe's outage (the cluster VIP stops answering, then answers through the
    new master).

    crash, ifdown, isolate: silence starts at the fault; the old master's last advert
    went out at most advert_int (+ epsilon, its own timer) before it, and the backup
    takes over master_down after that advert (+ epsilon), then its GARP moves r1
    (+ quantum): [master_down - advert_int - epsilon, master_down + epsilon + quantum].
    graceful: the old master sends priority 0 and then drops the VIP; the backup takes
    over skew_time after that advert: [skew - epsilon, skew + epsilon + quantum].
    freeze: the frozen master's kernel goes on answering until the GARP moves r1 to the
    new master, so no probe should be lost: [0, 0].
    Each side widened by the probe's resolution.
    """
    if fault == "freeze":
        return 0.0, probe
    if fault == "graceful":
        low, high = backup.skew - slack.epsilon, backup.skew + slack.epsilon + slack.quantum
    else:
        low = backup.master_down - backup.advert_int - slack.epsilon
        high = backup.master_down + slack.epsilon + slack.quantum
    return max(0.0, low - probe), high + probe


def service_outage(fault: str, backup: Timing, slack: Slack, probe: float) -> Bound:
    """The service probe's outage: the L3 outage, plus the new master's forwarder
    starting to forward (woken by the kernel's address notification: one quantum)."""
    low, high = client_outage(fault, backup, slack, probe)
    return low, high + slack.quantum


def preempt(master: Timing, slack: Slack, started_s: float) -> Bound:
    """Restart of the higher-priority node to its first advert as master. It starts as
    a backup and discards the lower-priority master's adverts (RFC 3768 section 6.4.2),
    so its master-down timer runs out: master_down after its VRRP started, which the
    daemon's own start took ``started_s`` of (measured per trial). No advert starts
    that timer: ``fire``, not epsilon."""
    return master.master_down - slack.capture, started_s + master.master_down + slack.fire
