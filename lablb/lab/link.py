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


def htb_commands(bw_mbit: float) -> list[str]:
    """tc commands (``%s`` for tc and the device, Mininet-style) for an htb at ``bw_mbit``.

    r2q is chosen so each class's quantum (rate in bytes / r2q) stays under the kernel's
    limit; burst covers one millisecond at the rate, at least 15 kB.
    """
    rate_bytes = bw_mbit * 1e6 / 8
    r2q = max(10, int(rate_bytes // MAX_QUANTUM) + 1)
    burst = max(15_000, int(rate_bytes / 1000))
    return [
        f"%s qdisc add dev %s root handle 5:0 htb default 1 r2q {r2q}",
        f"%s class add dev %s parent 5:0 classid 5:1 htb rate {bw_mbit:f}Mbit burst {burst}",
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
