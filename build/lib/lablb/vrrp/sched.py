"""How the VRRP process is scheduled: keepalived's ``vrrp_rt_priority``,
``vrrp_rlimit_rttime`` and ``vrrp_priority``. Edge only.

A backup's takeover is due the moment master_down expires; if its CPU is running
something else then (a forwarder moving a stream, a web server), the timer's wake-up
waits for that task's slice, and under sustained load a timesharing task can wait more
than the one slice ``lablb.measure.bounds`` allows. ``vrrp_rt_priority N`` makes the
process SCHED_RR at priority N, as keepalived does (``set_process_priorities``): a
real-time task preempts every timesharing one the moment it wakes.

As keepalived does, the policy carries ``SCHED_RESET_ON_FORK`` (scripts run
timesharing) and RLIMIT_RTTIME is set: half of ``vrrp_rlimit_rttime`` microseconds of CPU
without a blocking system call raises SIGXCPU (logged as ``rt-overrun``), all of it
SIGKILL, so a runaway loop cannot starve the host. Parsing a configuration in Python
costs more than that, so lablb reads the file (start and reload) as a timesharing task
and takes the real-time policy once the engine is built (``drop``, then ``apply``).
"""

from __future__ import annotations

import ctypes
import gc
import os
import resource
import signal
import struct
from collections.abc import Callable
from dataclasses import dataclass

from lablb.config.model import GlobalDefs


@dataclass(frozen=True)
class Policy:
    rt_priority: int  # 0: timesharing
    rlimit_rttime_us: int
    nice: int

    @classmethod
    def of(cls, g: GlobalDefs) -> Policy:
        return cls(g.vrrp_rt_priority, g.vrrp_rlimit_rttime, g.vrrp_priority)


def apply(policy: Policy, log: Callable[..., None]) -> None:
    """Take ``policy`` for this process; log what was set, or why it could not be.

    Whatever the policy, the objects the engine was built from are collected now and
    kept out of every later collection: a full collection of the daemon's ~19k objects
    costs 3.6 ms of CPU here, which a timer falling due behind it would wait out (a
    timesharing daemon is no less on the clock than a real-time one)."""
    gc.collect()
    gc.freeze()
    if not policy.rt_priority:
        drop()
        if policy.nice:
            try:
                os.setpriority(os.PRIO_PROCESS, 0, policy.nice)
            except OSError as exc:
                log("sched", ok=False, policy="other", nice=policy.nice, error=str(exc))
                return
        why = short_slice()
        log("sched", ok=True, policy="other", nice=policy.nice,
            slice_us=SHORT_SLICE_NS // 1000 if why is None else None,
            **({} if why is None else {"slice": why}))  # fmt: skip
        return
    try:
        os.sched_setscheduler(
            0, os.SCHED_RR | os.SCHED_RESET_ON_FORK, os.sched_param(policy.rt_priority)
        )
    except OSError as exc:
        log("sched", ok=False, policy="rr", priority=policy.rt_priority, error=str(exc))
        return
    soft = policy.rlimit_rttime_us // 2
    signal.signal(signal.SIGXCPU, lambda _s, _f: log("rt-overrun", soft_us=soft))
    try:  # a reload may ask for more than an earlier hard limit, which only shrinks
        resource.setrlimit(resource.RLIMIT_RTTIME, (soft, policy.rlimit_rttime_us))
    except (OSError, ValueError) as exc:
        log("sched", ok=False, policy="rr", rlimit_rttime_us=policy.rlimit_rttime_us,
            error=str(exc))  # fmt: skip
    log("sched", ok=True, policy="rr", priority=policy.rt_priority,
        rlimit_rttime_us=policy.rlimit_rttime_us)  # fmt: skip


#: The slice a timesharing lablb process asks the kernel for (``sched_attr``'s
#: ``sched_runtime``, Linux 6.12 and later; 100 us is the kernel's floor). keepalived is C
#: and needs about a tenth of the CPU per wake-up that lablb's Python does; under a
#: stream a timesharing lablb daemon woke 2.7 ms past its timer, waiting for running
#: tasks to use up their slices (1.4 ms each here). A wake-up whose slice is shorter than
#: the running task's has the earlier deadline, and EEVDF preempts for it at once
#: (PREEMPT_SHORT). Its share of the CPU does not change (that is its nice value).
SHORT_SLICE_NS = 100_000
SCHED_SETATTR = {"x86_64": 314, "aarch64": 274}  # the syscall's number (no libc wrapper)
SCHED_ATTR = struct.Struct("=IIQiIQQQII")  # struct sched_attr, 56 bytes (SCHED_ATTR_SIZE_VER1)


def short_slice() -> str | None:
    """Ask for the short slice (``SHORT_SLICE_NS``), keeping this process's policy
    (timesharing) and nice value. None when granted; otherwise why not (an older kernel
    keeps its default slice, which the bounds' quantum counts anyway)."""
    number = SCHED_SETATTR.get(os.uname().machine)
    if number is None:
        return f"no sched_setattr number for {os.uname().machine}"
    nice = os.getpriority(os.PRIO_PROCESS, 0)
    attr = ctypes.create_string_buffer(
        SCHED_ATTR.pack(SCHED_ATTR.size, os.SCHED_OTHER, 0, nice, 0, SHORT_SLICE_NS, 0, 0, 0, 0),
        SCHED_ATTR.size,
    )
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(number, 0, attr, 0) != 0:
        return f"sched_setattr: {os.strerror(ctypes.get_errno())}"
    return None


def drop() -> None:
    """Back to timesharing (before a configuration is read; RLIMIT_RTTIME counts only
    real-time CPU, so it need not change): a no-op for a process that is not real-time."""
    if os.sched_getscheduler(0) & ~os.SCHED_RESET_ON_FORK in (os.SCHED_RR, os.SCHED_FIFO):
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
