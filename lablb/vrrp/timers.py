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
