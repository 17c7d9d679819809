"""Fault injection primitives for scenarios: each has ``inject`` and ``undo``.

Lab layer. ``inject`` returns the ``Instant`` the fault took effect: CLOCK_REALTIME just
before and just after the decisive kernel call, made from the runner's own process
(``lablb.lab.kernel``: an ioctl or a signal, microseconds, never a spawned ``ip``). After
``instant.after`` the node is what the fault says: for a crash, silent on the LAN (its
switch ports are down first, then its processes are killed), which the capture can
confirm (``lablb.measure.timeline``: no frame from its MAC afterwards).

=========  ================================================  ============================
fault      inject (the decisive step first)                  undo
=========  ================================================  ============================
crash      switch ports down; SIGSTOP VRRP child, SIGKILL    addresses flushed, links up,
           all; its own link down                            daemons started
graceful   SIGTERM to the parent (priority 0, VIPs removed)  start again
ifdown     the balancer's interface down (VRRP: FAULT)       interface up
isolate    every link of the host down at the switch side    links up
freeze     SIGSTOP of the VRRP child (a stalled timer)       SIGCONT
service    SIGKILL of the local service the VIP fronts        the service started again
           (VRRP only: ``lablb.lab.local``; its tracked
           script moves the VIP, not the fault itself)
=========  ================================================  ============================
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass, field

from lablb.config.load import load_lenient
from lablb.errors import LabError
from lablb.lab.balancer import VrrpNode
from lablb.lab.kernel import InNetns, Instant, Running, set_link
from lablb.lab.local import LocalService

#: linkwatch defers a carrier report by up to a second (its rate limit); three allow it
RUNNING_WAIT_S = 3.0


@dataclass
class Fault:
    """A fault on one balancer; ``interface`` is the one its VRRP instance runs on."""

    node: VrrpNode
    interface: str = "eth0"
    name = "fault"

    #: what the capture should show after the instant: "silent" (no frame from the
    #: node), "goodbye" (a priority-0 advert), "no-adverts" (no advert from the node)
    confirms = "silent"

    #: injected and not undone yet: the runner undoes what a trial left (``Faults``)
    active: bool = field(default=False, init=False)

    #: a fault that took the VRRP interface down: when, at its undo, the kernel
    #: reported it running again (``Running``), the earliest a VRRP instance can leave
    #: FAULT; None for the others
    running_at: float | None = field(default=None, init=False)

    def inject(self) -> Instant:
        if self.active:
            raise LabError(f"{self.name} on {self.node.host} is already injected")
        self.active = True
        return self._inject()

    def undo(self) -> Instant:
        if not self.active:
            raise LabError(f"{self.name} on {self.node.host} is not injected")
        instant = self._undo()
        self.active = False
        return instant

    def _inject(self) -> Instant:
        raise NotImplementedError

    def _undo(self) -> Instant:
        raise NotImplementedError

    def _watch(self) -> Running:
        """Subscribed, in the node's namespace, to its VRRP interface's link reports;
        made before the undo brings the interface up."""
        worker = InNetns(self.node.lab.host(self.node.host).pid)
        try:
            return worker.call(lambda: Running(self.interface))
        finally:
            worker.close()

    def _running(self, watch: Running) -> None:
        """Wait for the interface to run again; read right after the action, so the
        stamp is not left queued behind the rest of the undo."""
        self.running_at = watch.wait(RUNNING_WAIT_S)
        if self.running_at is None:
            raise LabError(
                f"{self.node.host}: {self.interface} not running {RUNNING_WAIT_S:.0f} s "
                f"after the {self.name} was undone"
            )

    def _switch_ends(self) -> list[str]:
        """The switch-side end of each of the host's links (root namespace)."""
        host = self.node.lab.host(self.node.host)
        ends = []
        for intf in host.intfList():
            link = getattr(intf, "link", None)
            if link is not None:
                ends.append((link.intf2 if link.intf1 is intf else link.intf1).name)
        return ends

    def _ports(self, up: bool) -> Instant:
        """All the host's switch ports up or down from the runner; the instant spans
        the first change to the last."""
        instants = [set_link(end, up) for end in self._switch_ends()]
        if not instants:
            raise LabError(f"{self.node.host}: no links to take {'up' if up else 'down'}")
        return Instant(instants[0].before, instants[-1].after)

    def _link(self, up: bool) -> None:
        state = "up" if up else "down"
        res = self.node.lab.run(self.node.host, ["ip", "link", "set", "dev", self.interface, state])
        if res.returncode != 0:
            raise LabError(f"{self.node.host}: ip link set {self.interface} {state}: {res.stderr}")
        if up:
            self.node.lab.host(self.node.host).restore_routes()


class Crash(Fault):
    name = "crash"

    def _inject(self) -> Instant:
        at = self._ports(up=False)  # silent on the LAN from here on
        self.node.kill()
        self._link(up=False)  # the machine is gone: its own link too
        return at

    def _undo(self) -> Instant:
        """The machine reboots: without the addresses it held, links up, daemons started."""
        self.node.reboot_cleanup()
        watch = self._watch()
        self._link(up=True)
        self._ports(up=True)
        self._running(watch)
        self.node.lab.host(self.node.host).restore_routes()
        before = time.time()
        self.node.start()
        return Instant(before, time.time())


class Graceful(Fault):
    name = "graceful"
    confirms = "goodbye"

    def _inject(self) -> Instant:
        # VRRP alone: keepalived's forwarder and checkers stay until the undo.
        at = self.node.stop(companion=False)
        if at is None:
            raise LabError(f"{self.node.host}: no {self.node.engine} parent to stop")
        return at

    def _undo(self) -> Instant:
        self.node.stop_companion()
        before = time.time()
        self.node.start()
        return Instant(before, time.time())


class IfDown(Fault):
    name = "ifdown"

    def _set(self, up: bool) -> Instant:
        worker = InNetns(self.node.lab.host(self.node.host).pid)
        try:
            return worker.call(lambda: set_link(self.interface, up))
        finally:
            worker.close()

    def _inject(self) -> Instant:
        return self._set(up=False)

    def _undo(self) -> Instant:
        watch = self._watch()
        at = self._set(up=True)
        self._running(watch)
        self.node.lab.host(self.node.host).restore_routes()
        return at


class Isolate(Fault):
    name = "isolate"

    def _inject(self) -> Instant:
        return self._ports(up=False)

    def _undo(self) -> Instant:
        watch = self._watch()
        at = self._ports(up=True)
        self._running(watch)
        self.node.lab.host(self.node.host).restore_routes()
        return at


class Freeze(Fault):
    name = "freeze"
    confirms = "no-adverts"

    def _signal(self, sig: signal.Signals) -> Instant:
        _parent, child = self.node.pids()
        if child is None:
            raise LabError(f"{self.node.host}: no VRRP process to freeze")
        before = time.time()
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, sig)
        return Instant(before, time.time())

    def _inject(self) -> Instant:
        return self._signal(signal.SIGSTOP)

    def _undo(self) -> Instant:
        return self._signal(signal.SIGCONT)


@dataclass
class ServiceKill(Fault):
    """The service the VIP fronts crashes on the node (the stand-in, SIGKILL). The
    node's VRRP daemon is untouched: the capture sees it go on advertising."""

    service: LocalService | None = None
    name = "service"
    confirms = "adverts"

    def _local(self) -> LocalService:
        if self.service is None:
            raise LabError(f"{self.node.host}: no local service to kill")
        return self.service

    def _inject(self) -> Instant:
        return self._local().kill()

    def _undo(self) -> Instant:
        before = time.time()
        self._local().start()
        return Instant(before, time.time())


FAULTS: dict[str, type[Fault]] = {f.name: f for f in (Crash, Graceful, IfDown, Isolate, Freeze)}


def fault(name: str, node: VrrpNode, interface: str | None = None) -> Fault:
    """Fault ``name`` on ``node``, on ``interface`` (default: the one its VRRP instance
    runs on, read from its keepalived.conf)."""
    if interface is None:
        instances = load_lenient(str(node.config)).vrrp_instances
        interface = (instances[0].interface if instances else None) or "eth0"
    try:
        return FAULTS[name](node, interface)
    except KeyError:
        raise LabError(f"unknown fault {name!r}; known: {', '.join(FAULTS)}") from None


class Faults:
    """The faults of a run, kept by the runner: a scenario asks for one (``new``), injects
    and undoes it; whatever a trial left injected (it failed half-way) the runner undoes
    after it (``undo_all``), so the next trial starts from a whole cluster."""

    def __init__(self) -> None:
        self.made: list[Fault] = []

    def new(self, name: str, node: VrrpNode, interface: str | None = None) -> Fault:
        f = fault(name, node, interface)
        self.made.append(f)
        return f

    def add(self, f: Fault) -> Fault:
        """A fault made by the scenario itself (``ServiceKill``: it needs the service)."""
        self.made.append(f)
        return f

    def undo_all(self) -> list[str]:
        """Undo every fault still injected, newest first; what was undone, in words."""
        undone = []
        for f in reversed(self.made):
            if f.active:
                f.undo()
                undone.append(f"{f.name} on {f.node.host}")
        self.made.clear()
        return undone
