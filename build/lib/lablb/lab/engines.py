"""The two VRRP speakers a lab balancer can run, as one type: lablb's engine and the
real keepalived, each with its own way to start, to say when its timers started, to
log its states and events, and to take a reload.

Both are driven as an operator drives keepalived (a parent with a pid file, a VRRP
child with its own; ``lablb.lab.balancer``); what differs between them lives here and
nowhere else, so a node asks its engine instead of testing its name. Lab layer: it
starts processes in hosts through ``Lab`` only.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Protocol

from lablb.logs import (
    KEEPALIVED_STATE,
    KEEPALIVED_TIMERS_ARMED,
    keepalived_states,
    lablb_events,
    lablb_states,
    stamped_lines,
)

if TYPE_CHECKING:
    from lablb.config.model import KeepalivedConfig
    from lablb.lab.net import Lab


class Node(Protocol):
    """What an engine needs of the balancer it runs on (``VrrpNode``)."""

    lab: Lab
    host: str
    config: Path

    @property
    def dir(self) -> Path: ...
    @property
    def pidfile(self) -> Path: ...
    @property
    def vrrp_pidfile(self) -> Path: ...
    @property
    def companion_pidfile(self) -> Path: ...
    @property
    def log(self) -> Path: ...
    def has_virtual_servers(self) -> bool: ...


class Engine:
    """One VRRP speaker. ``name`` is what ``--engine`` says and what its files are
    called; ``runs_vrrp``: lablb's own VRRP (so every VRRP keyword must be one lablb
    runs), where keepalived runs its own; ``logs_events``: its log is JSON events
    (``events``), not a console's lines."""

    name: ClassVar[str]
    runs_vrrp: ClassVar[bool]
    logs_events: ClassVar[bool] = False

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"Engine({self.name!r})"

    def argv(self, node: Node) -> list[str]:
        raise NotImplementedError

    def spawn(self, node: Node) -> subprocess.Popen[bytes]:
        """The engine's parent process, started in the node's host."""
        raise NotImplementedError

    def companion_argv(self, node: Node) -> list[str] | None:
        """What runs beside the engine for the file's virtual servers (None: nothing)."""
        return None

    def timer_starts(self, node: Node) -> list[float]:
        """Every instant (CLOCK_REALTIME) its log says its timers started, in order."""
        raise NotImplementedError

    def states(self, log: Path) -> list[tuple[str, str]]:
        """(instance, new state) in order, from its own log."""
        raise NotImplementedError

    def events(self, log: Path, kind: str) -> list[dict[str, object]]:
        """Its JSON events of one kind (an engine that logs none: [])."""
        return []

    def started(self, node: Node) -> bool:
        """Is every subsystem of its last start up?"""
        return True

    def before_reload(self, node: Node) -> None:
        """What the node's files need before a SIGHUP makes the engine re-read them."""

    def stand_ins(self, config: KeepalivedConfig) -> list[str]:
        """What the lab runs in place of what ``config`` asks of this engine."""
        return []


class Lablb(Engine):
    """``lablb daemon``: VRRP, and (for virtual servers) its forwarder and checkers as
    its own children, logged as JSON events."""

    name = "lablb"
    runs_vrrp = True
    logs_events = True

    def argv(self, node: Node) -> list[str]:
        return [sys.executable, "-m", "lablb", "daemon", "-f", str(node.config),
                "-p", str(node.pidfile), "-r", str(node.vrrp_pidfile),
                "--log", str(node.log), "--run-dir", str(node.dir)]  # fmt: skip

    def spawn(self, node: Node) -> subprocess.Popen[bytes]:
        return node.lab.popen(node.host, self.argv(node), log=node.dir / "lablb.out")

    def timer_starts(self, node: Node) -> list[float]:
        offset = time.time() - time.monotonic()  # its events carry CLOCK_MONOTONIC
        return [float(str(e["ts"])) + offset for e in self.events(node.log, "start")]

    def states(self, log: Path) -> list[tuple[str, str]]:
        return lablb_states(log)

    def events(self, log: Path, kind: str) -> list[dict[str, object]]:
        return lablb_events(log, kind)

    def started(self, node: Node) -> bool:
        """lablb starts its forwarder and checkers (Python processes, a CPU each for a
        while) beside VRRP: until they have logged their start, they compete with the
        timers a trial measures. Each life of the daemon logs one of each (a crash logs
        no stop), so the last one is complete when the counts agree."""
        counts = Counter(str(e.get("event")) for e in lablb_events(node.log, None))
        if not counts["start"]:
            return False
        if not node.has_virtual_servers():
            return True
        return counts["forwarder-start"] >= counts["start"] <= counts["checker-start"]


class Keepalived(Engine):
    """Debian's keepalived, VRRP only (``-P``: this kernel has no IPVS), with lablb's
    forwarder and checkers beside it (``lablb daemon -C``) as keepalived's own would
    run; its console log stamped line by line on arrival."""

    name = "keepalived"
    runs_vrrp = False

    def argv(self, node: Node) -> list[str]:
        # -P: VRRP only; -n: foreground; -l -D: detailed log on the console.
        # -G: no syslog. With -l keepalived opens syslog with LOG_CONS, and on a
        # machine without /dev/log every line then goes to /dev/console: on a VM
        # that is an emulated serial port, whose interrupts (about 0.7 ms per line,
        # measured with ftrace) delayed keepalived's own adverts and the prober.
        return ["keepalived", "-n", "-l", "-G", "-D", "-P", "-f", str(self.config_file(node)),
                "-p", str(node.pidfile), "-r", str(node.vrrp_pidfile)]  # fmt: skip

    def config_file(self, node: Node) -> Path:
        """The file keepalived reads: the node's, or, when it sets ``lvs_sync_daemon``,
        a copy rendered without it (``keepalived.conf`` in the node's folder). This
        kernel has no IPVS, and keepalived 2.2.7's VRRP child then dies initializing
        the sync daemon (SIGSEGV after "IPVS: Can't initialize ipvs", seen in the lab);
        connection sync is lablb's companion's here, as forwarding is. Written again at
        each start and reload, so a changed file reaches keepalived."""
        from lablb.config.load import load_lenient
        from lablb.config.render import render

        config = load_lenient(str(node.config))
        if config.global_defs.lvs_sync_daemon is None:
            return node.config
        without = dataclasses.replace(
            config, global_defs=dataclasses.replace(config.global_defs, lvs_sync_daemon=None)
        )
        copy = node.dir / "keepalived.conf"
        copy.write_text(render(without, header=(
            f"{node.config} for keepalived, without lvs_sync_daemon (the lab's companion "
            "syncs connections: this kernel has no IPVS, and keepalived's VRRP child dies "
            "initializing it)"
        )))  # fmt: skip
        return copy

    def spawn(self, node: Node) -> subprocess.Popen[bytes]:
        """keepalived with each line of its console output written to its log behind
        the instant it arrived (``[realtime] line``; ``lablb.logs.STAMP``): its own
        stamps have a resolution of one second."""
        proc: subprocess.Popen[bytes] = node.lab.host(node.host).popen(
            self.argv(node),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        log = node.log

        def copy() -> None:
            assert proc.stdout is not None
            with log.open("ab") as out:
                for line in iter(proc.stdout.readline, b""):
                    out.write(f"[{time.time():.6f}] ".encode() + line)
                    out.flush()

        threading.Thread(target=copy, daemon=True, name=f"log-{node.host}").start()
        return proc

    def companion_argv(self, node: Node) -> list[str] | None:
        if not node.has_virtual_servers():
            return None
        return [sys.executable, "-m", "lablb", "daemon", "-C", "-f", str(node.config),
                "-p", str(node.companion_pidfile), "--log", str(node.dir / "lablb-check.log"),
                "--run-dir", str(node.dir)]  # fmt: skip

    def timer_starts(self, node: Node) -> list[float]:
        """The first line known to follow the arming of its timers
        (``KEEPALIVED_TIMERS_ARMED``; else its state lines), stamped on arrival, so no
        earlier than the truth."""
        lines = stamped_lines(node.log)
        armed = [t for t, line in lines if KEEPALIVED_TIMERS_ARMED.search(line)]
        return armed or [t for t, line in lines if KEEPALIVED_STATE.search(line)]

    def states(self, log: Path) -> list[tuple[str, str]]:
        return keepalived_states(log)

    def before_reload(self, node: Node) -> None:
        self.config_file(node)  # its copy, from the changed file

    def stand_ins(self, config: KeepalivedConfig) -> list[str]:
        if config.global_defs.lvs_sync_daemon is None:
            return []
        return ["lvs_sync_daemon: keepalived's runs in lablb's companion beside it, as its "
                "forwarding does (this kernel has no IPVS, and keepalived's VRRP child dies "
                "initializing its sync daemon)"]  # fmt: skip


ENGINES: dict[str, Engine] = {e.name: e for e in (Lablb(), Keepalived())}


def engine(name: str) -> Engine:
    """The engine called ``name`` (``lablb`` or ``keepalived``)."""
    from lablb.errors import LabError

    if name not in ENGINES:
        raise LabError(f"no engine {name!r}: expected {' or '.join(ENGINES)}")
    return ENGINES[name]
