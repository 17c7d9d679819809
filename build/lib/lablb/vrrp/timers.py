"""VRRP timer formulas, in seconds. Pure.

keepalived generalises the RFCs' fixed 3 advertisement intervals to
``down_timer_adverts`` (keepalived.conf(5)); with the default of 3 these are the RFCs'.
"""

from __future__ import annotations

DEFAULT_DOWN_TIMER_ADVERTS = 3  # RFC 3768 section 6.1, RFC 5798 section 6.1


def skew_time(priority: int, advert_int: float, version: int) -> float:
    """Skew_Time: how much sooner a higher-priority backup takes over.

    v2 (RFC 3768 section 6.1): (256 - Priority) / 256 seconds.
    v3 (RFC 5798 section 6.1): ((256 - Priority) * Master_Adver_Interval) / 256.
    """
    if version == 2:
        return (256 - priority) / 256
    return (256 - priority) * advert_int / 256


def master_down_interval(
    priority: int,
    advert_int: float,
    version: int,
    down_timer_adverts: int = DEFAULT_DOWN_TIMER_ADVERTS,
) -> float:
    """Master_Down_Interval: how long a backup waits without adverts before it becomes
    master. (3 * Advertisement_Interval) + Skew_time (RFC 3768 and RFC 5798 section 6.1)."""
    return down_timer_adverts * advert_int + skew_time(priority, advert_int, version)


# How the daemon sleeps towards a timer. select(2) and poll(2) let the kernel fire a
# wait up to a thousandth of its length late (the timer slack fs/select.c gives a nice-0
# task: select_estimate_accuracy), at least the task's timer_slack_ns (50 us by
# default): on a 3.6 s master-down timer that is 3.6 ms, more than a scheduling quantum.
# So a long wait stops FINE_WAIT short of its deadline and the last one is at most
# FINE_WAIT long: the timer is then late by at most FINE_WAIT / 1000.
DEFAULT_TIMER_SLACK = 50e-6  # kernel default of /proc/PID/timerslack_ns, seconds
SELECT_SLACK_DIVISOR = 1000  # fs/select.c __estimate_accuracy, nice 0
FINE_WAIT = 0.05  # seconds


def wait_towards(remaining: float, cap: float) -> float:
    """How long to sleep in ``select`` towards a deadline ``remaining`` seconds away,
    waking at least every ``cap`` seconds: never a wait whose slack exceeds
    ``TIMER_LATENESS``."""
    remaining = max(0.0, remaining)
    if remaining > FINE_WAIT:
        remaining -= FINE_WAIT
    return min(cap, remaining)


#: how late lablb's timers fire by construction (with ``wait_towards``)
TIMER_LATENESS = max(DEFAULT_TIMER_SLACK, FINE_WAIT / SELECT_SLACK_DIVISOR)
