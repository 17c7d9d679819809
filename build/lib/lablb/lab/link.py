"""Links of a lab: veth pairs shaped with htb, and nothing this kernel cannot do.

Mininet's TCIntf sets htb with its default r2q, for which the kernel warns that the
quantum is too big at gigabit rates, and it accepts delay/loss options that need netem
and silently do nothing where netem is missing. ``LabIntf`` sizes htb for the rate and
refuses those options with a clear error (loss belongs to nftables in this lab).
"""

from __future__ import annotations

from typing import Any

from mininet.link import TCIntf, TCLink

from lablb.errors import LabError

NETEM_OPTIONS = ("delay", "jitter", "loss", "max_queue_size")
MAX_QUANTUM = 200_000  # bytes; above this the kernel warns (net/sched/sch_htb.c)


# IP precedence 6 and 7 (TOS 0xc0 and up: keepalived's and lablb's VRRP adverts) go to
# a class of their own, served before the bulk class: a link saturated by a stream
# queues the stream, not the adverts (as a network that honours DSCP CS6 would).
CONTROL_TOS, CONTROL_MASK = 0xC0, 0xC0
CONTROL_SHARE = 0.01  # of the link, guaranteed to control traffic (it may borrow the rest)
MTU_QUANTUM = 1514  # a whole frame per round, whatever the rate


def htb_commands(bw_mbit: float) -> list[str]:
    """tc commands (``%s`` for tc and the device, Mininet-style) for an htb at ``bw_mbit``:
    the link class 5:10, under it the bulk class 5:1 (the default) and the control
    class 5:2 (prio 0) that TOS precedence 6-7 is filtered into. r2q is chosen so each
    class's quantum (rate in bytes / r2q) stays under the kernel's limit; burst covers
    one millisecond at the rate, at least 15 kB.
    """
    rate_bytes = bw_mbit * 1e6 / 8
    r2q = max(10, int(rate_bytes // MAX_QUANTUM) + 1)
    burst = max(15_000, int(rate_bytes / 1000))
    control = bw_mbit * CONTROL_SHARE
    return [
        f"%s qdisc add dev %s root handle 5:0 htb default 1 r2q {r2q}",
        f"%s class add dev %s parent 5:0 classid 5:10 htb rate {bw_mbit:f}Mbit burst {burst}",
        f"%s class add dev %s parent 5:10 classid 5:1 htb rate {bw_mbit - control:f}Mbit "
        f"ceil {bw_mbit:f}Mbit burst {burst} prio 1",
        f"%s class add dev %s parent 5:10 classid 5:2 htb rate {control:f}Mbit "
        f"ceil {bw_mbit:f}Mbit burst {burst} quantum {MTU_QUANTUM} prio 0",
        f"%s filter add dev %s parent 5:0 protocol ip prio 1 u32 "
        f"match ip tos {CONTROL_TOS:#04x} {CONTROL_MASK:#04x} flowid 5:2",
    ]


class LabIntf(TCIntf):  # type: ignore[misc]
    def config(self, **params: Any) -> Any:
        asked = [k for k in NETEM_OPTIONS if params.get(k)]
        if asked:
            raise LabError(
                f"link option(s) {', '.join(asked)} need netem, which this kernel "
                "lacks; drop or delay traffic with lablb's nftables faults instead"
            )
        return super().config(**params)

    def bwCmds(self, bw: float | None = None, **_opts: Any) -> tuple[list[str], str]:
        if bw is None:
            return [], " root "
        if not 0 < bw <= self.bwParamMax:
            raise LabError(f"link bandwidth {bw} Mbit/s is outside 0..{self.bwParamMax}")
        return htb_commands(bw), " parent 5:1 "


class LabLink(TCLink):  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("cls1", LabIntf)
        kwargs.setdefault("cls2", LabIntf)
        super().__init__(*args, **kwargs)
