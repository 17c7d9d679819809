"""Counters the benchmark reads: an interface's bytes and packets inside a lab host
(``/proc/net/dev``, which is per network namespace), a process's CPU time, and the
box's CPU. Edge: reads /proc."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")


def interface_counters(lab: Any, host: str, iface: str = "eth0") -> dict[str, int]:
    """rx/tx bytes and packets of ``iface`` as ``host``'s namespace counts them."""
    text = lab.run(host, ["cat", "/proc/net/dev"], timeout=5).stdout
    for line in text.splitlines():
        name, sep, rest = line.partition(":")
        if sep and name.strip() == iface:
            f = [int(x) for x in rest.split()]
            return {"rx_bytes": f[0], "rx_packets": f[1], "tx_bytes": f[8], "tx_packets": f[9]}
    raise RuntimeError(f"{host} has no interface {iface}")


def interface_bytes(lab: Any, host: str, iface: str = "eth0") -> tuple[int, int]:
    c = interface_counters(lab, host, iface)
    return c["rx_bytes"], c["tx_bytes"]


def process_cpu_s(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of ``pid``: its own code, and the kernel's work in its
    system calls (for a packet socket's send, the whole veth and bridge path)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rpartition(")")[2].split()
    return int(fields[11]) * TICK_S, int(fields[12]) * TICK_S


def cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of the whole box, from /proc/stat."""
    f = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = f[3] + f[4]  # idle + iowait
    return sum(f) - idle, sum(f)


def busy_fraction(before: tuple[int, int], after: tuple[int, int]) -> float:
    """How busy the box's CPUs were between two ``cpu_times`` (1.0: every core)."""
    total = after[1] - before[1]
    return (after[0] - before[0]) / total if total else 0.0
