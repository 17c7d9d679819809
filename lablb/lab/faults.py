"""Fault injection primitives for scenarios: each has ``inject`` and ``undo``.

Lab layer. Each call returns the CLOCK_MONOTONIC time at which the fault took effect
(just before the decisive signal or link change), so measurements can be lined up with
daemon logs and probes from every host (one kernel, one clock).

=========  ================================================  ============================
fault      inject                                            undo
=========  ================================================  ============================
crash      SIGSTOP VRRP child, SIGKILL both, link down       link up, start again
graceful   SIGTERM to the parent (priority 0, VIPs removed)  start again
ifdown     the balancer's interface down (VRRP: FAULT)       interface up
isolate    every link of the host down at the switch side    links up
freeze     SIGSTOP of the VRRP child (a stalled timer)       SIGCONT
=========  ================================================  ============================
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from lablb.errors import LabError
from lablb.lab.balancer import VrrpNode


@dataclass
class Fault:
    """A fault on one balancer; ``interface`` is the one its VRRP instance runs on."""

    node: VrrpNode
    interface: str = "eth0"
    name = "fault"

    def inject(self) -> float:
        raise NotImplementedError

    def undo(self) -> float:
        raise NotImplementedError

    def _link(self, up: bool) -> None:
        state = "up" if up else "down"
        res = self.node.lab.run(self.node.host, ["ip", "link", "set", "dev", self.interface, state])
        if res.returncode != 0:
            raise LabError(f"{self.node.host}: ip link set {self.interface} {state}: {res.stderr}")
        if up:
            self.node.lab.host(self.node.host).restore_routes()


class Crash(Fault):
    name = "crash"

    def inject(self) -> float:
        t = time.monotonic()
        self.node.kill()
        self._link(up=False)  # the machine is gone: its addresses stop answering too
        return t

    def undo(self) -> float:
        """The machine reboots: without the addresses it held, link up, daemon started."""
        self.node.reboot_cleanup()
        self._link(up=True)
        t = time.monotonic()
        self.node.start()
        return t


class Graceful(Fault):
    name = "graceful"

    def inject(self) -> float:
        t = time.monotonic()
        self.node.stop()
        return t

    def undo(self) -> float:
        t = time.monotonic()
        self.node.start()
        return t


class IfDown(Fault):
    name = "ifdown"

    def inject(self) -> float:
        t = time.monotonic()
        self._link(up=False)
        return t

    def undo(self) -> float:
        t = time.monotonic()
        self._link(up=True)
        return t


class Isolate(Fault):
    name = "isolate"

    def _switch_ends(self) -> list[str]:
        host = self.node.lab.host(self.node.host)
        ends = []
        for intf in host.intfList():
            link = getattr(intf, "link", None)
            if link is not None:
                ends.append((link.intf2 if link.intf1 is intf else link.intf1).name)
        return ends

    def _set(self, up: bool) -> None:
        for end in self._switch_ends():
            res = self.node.lab.root(["ip", "link", "set", "dev", end, "up" if up else "down"])
            if res.returncode != 0:
                raise LabError(f"isolate {self.node.host}: {end}: {res.stderr.strip()}")

    def inject(self) -> float:
        t = time.monotonic()
        self._set(up=False)
        return t

    def undo(self) -> float:
        t = time.monotonic()
        self._set(up=True)
        self.node.lab.host(self.node.host).restore_routes()
        return t


class Freeze(Fault):
    name = "freeze"

    def inject(self) -> float:
        t = time.monotonic()
        self.node.freeze(True)
        return t

    def undo(self) -> float:
        t = time.monotonic()
        self.node.freeze(False)
        return t


FAULTS: dict[str, type[Fault]] = {f.name: f for f in (Crash, Graceful, IfDown, Isolate, Freeze)}


def fault(name: str, node: VrrpNode, interface: str = "eth0") -> Fault:
    try:
        return FAULTS[name](node, interface)
    except KeyError:
        raise LabError(f"unknown fault {name!r}; known: {', '.join(FAULTS)}") from None
