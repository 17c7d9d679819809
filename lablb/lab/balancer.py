"""A VRRP speaker on a lab balancer: lablb's engine or the real keepalived, same file.

Both engines are driven the same way, the way an operator drives keepalived: a parent
process with a pid file (``-p``) and a VRRP child with its own (``-r``), one pair of
files per node since every Mininet host shares the file system. Stopping the parent is
a graceful stop; a crash is SIGSTOP of the VRRP child (so it cannot say goodbye), then
SIGKILL of both. What differs between the two engines is theirs
(``lablb.lab.engines``). Lab layer: it only runs commands in hosts through ``Lab``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path

from lablb.errors import LabError
from lablb.lab import procs
from lablb.lab.engines import ENGINES, Engine, engine
from lablb.lab.kernel import Instant
from lablb.lab.net import Lab
from lablb.logs import lablb_events
from lablb.vrrp.io import vip_argv

STOP_TIMEOUT = 5.0
# keepalived resolves an smtp_server given as a host name before it writes its pid
# files; no name server answers inside the lab (its hosts have no way out), and the
# resolver gives up after its own timeout (5 s seen, RES_TIMEOUT; twice with retries).
PIDFILE_TIMEOUT = 15.0


def engines_for(choice: str, balancers: tuple[str, ...]) -> dict[str, Engine]:
    """``lablb``, ``keepalived``, ``mixed`` (lablb on the first balancer, keepalived on
    the others) or an explicit ``lb01=keepalived,lb02=lablb``."""
    if choice in ENGINES:
        return dict.fromkeys(balancers, ENGINES[choice])
    if choice == "mixed":
        return {b: ENGINES["keepalived" if i else "lablb"] for i, b in enumerate(balancers)}
    picked: dict[str, Engine] = {}
    for part in choice.split(","):
        node, _, name = part.partition("=")
        if node not in balancers or name not in ENGINES:
            raise LabError(
                f"--engine {choice!r}: expected lablb, keepalived, mixed or NODE=ENGINE,... "
                f"with NODE in {', '.join(balancers)}"
            )
        picked[node] = ENGINES[name]
    return {b: picked.get(b, ENGINES["lablb"]) for b in balancers}


@dataclass
class VrrpNode:
    """One balancer's VRRP speaker in a running lab."""

    lab: Lab
    host: str
    engine: Engine
    config: Path
    proc: subprocess.Popen[bytes] | None = None
    companion: subprocess.Popen[bytes] | None = None
    # CLOCK_REALTIME just before the engine's own process was spawned (after
    # keepalived's companion, which is awaited first): where the engine's start begins.
    spawned_at: float | None = None

    @property
    def dir(self) -> Path:
        d = self.lab.workdir / self.host
        d.mkdir(parents=True, exist_ok=True)
        return d

    @property
    def pidfile(self) -> Path:
        return self.dir / f"{self.engine}.pid"

    @property
    def vrrp_pidfile(self) -> Path:
        return self.dir / f"{self.engine}-vrrp.pid"

    @property
    def companion_pidfile(self) -> Path:
        """keepalived's companion (``lablb daemon -C``: forwarder and checkers)."""
        return self.dir / "lablb-check.pid"

    @property
    def log(self) -> Path:
        """lablb: JSON event lines. keepalived: its console log."""
        return self.dir / f"{self.engine}.log"

    def argv(self) -> list[str]:
        return self.engine.argv(self)

    def companion_argv(self) -> list[str] | None:
        """keepalived runs VRRP only here (no IPVS in this kernel): lablb's forwarder and
        checkers run beside it (``lablb daemon -C``), as keepalived's own would."""
        return self.engine.companion_argv(self)

    def has_virtual_servers(self) -> bool:
        from lablb.config.load import load_lenient

        return bool(load_lenient(str(self.config)).virtual_servers)

    def start(self) -> None:
        if self.running():
            raise LabError(f"{self.host}: {self.engine} is already running")
        for f in (self.pidfile, self.vrrp_pidfile):
            f.unlink(missing_ok=True)
        self._start_companion()
        self.spawned_at = time.time()
        self.proc = self.engine.spawn(self)
        deadline = time.monotonic() + PIDFILE_TIMEOUT
        while self.pids() == (None, None) or None in self.pids():
            if self.proc.poll() is not None:
                raise LabError(f"{self.host}: {self.engine} exited at start: {self.tail()}")
            if time.monotonic() > deadline:
                raise LabError(f"{self.host}: {self.engine} wrote no pid files: {self.tail()}")
            time.sleep(0.02)

    def _start_companion(self) -> None:
        """The forwarder and checkers beside keepalived, started first and awaited until
        the forwarder is up: a Python start costs a CPU for a while, and must not compete
        with VRRP's first timers."""
        argv = self.companion_argv()
        if argv is None or procs.pid_file(self.companion_pidfile) is not None:
            return
        log = self.dir / "lablb-check.log"
        seen = len(lablb_events(log, "forwarding"))
        self.companion = self.lab.popen(self.host, argv, log=self.dir / "lablb-check.out")
        deadline = time.monotonic() + PIDFILE_TIMEOUT
        while len(lablb_events(log, "forwarding")) == seen:
            if self.companion.poll() is not None or time.monotonic() > deadline:
                raise LabError(f"{self.host}: lablb daemon -C did not start: {self.tail()}")
            time.sleep(0.02)

    def stop_companion(self) -> None:
        pid = procs.pid_file(self.companion_pidfile)
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        self._wait_gone(STOP_TIMEOUT, companion_only=True)

    def started_at(self, after: float) -> float | None:
        """When the VRRP engine's timers last started after ``after`` (CLOCK_REALTIME),
        from its own log (``Engine.timer_starts``)."""
        return next((t for t in self.engine.timer_starts(self) if t >= after), None)

    def tail(self, lines: int = 5) -> str:
        texts = []
        for f in (self.dir / f"{self.engine}.out", self.log):
            if f.exists():
                texts += f.read_text(errors="replace").splitlines()[-lines:]
        return " | ".join(texts)

    def pids(self) -> tuple[int | None, int | None]:
        """(parent, VRRP child), None for one that is not running."""
        return procs.pid_file(self.pidfile), procs.pid_file(self.vrrp_pidfile)

    def engine_pids(self) -> list[int]:
        """The engine's own processes and theirs (lablb: VRRP, forwarder, checkers;
        keepalived: parent and VRRP child), not keepalived's lablb companion."""
        roots = [p for p in self.pids() if p]
        return sorted(set(roots) | {d for r in roots for d in procs.descendants(r)})

    def all_pids(self) -> list[int]:
        """Every process of this node's daemons: parents, VRRP child, forwarder, checker."""
        roots = [p for p in (*self.pids(), procs.pid_file(self.companion_pidfile)) if p]
        return sorted(set(roots) | {d for r in roots for d in procs.descendants(r)})

    def running(self) -> bool:
        return bool(self.all_pids())

    def stop(self, companion: bool = True) -> Instant | None:
        """Graceful stop: SIGTERM to the parents (priority 0, addresses removed); the
        instant the VRRP parent was signalled (None if it was not running). With
        ``companion=False`` keepalived's forwarder and checkers go on running (a fault
        of VRRP alone; ``stop_companion`` ends them)."""
        at = None
        parent, child = self.pids()
        if parent is not None:
            before = time.time()
            with contextlib.suppress(ProcessLookupError):
                os.kill(parent, signal.SIGTERM)
            at = Instant(before, time.time())
        # The companion (forwarder, checkers) once VRRP is gone: its teardown must not
        # compete for the CPU with the backup's takeover.
        deadline = time.monotonic() + STOP_TIMEOUT
        while child is not None and procs.alive(child) and time.monotonic() < deadline:
            time.sleep(0.01)
        if not companion:
            self._wait_gone(STOP_TIMEOUT, companion_only=False)
            return at
        self.stop_companion()
        self._wait_gone(STOP_TIMEOUT)
        if self.running():
            self.kill()
        return at

    def reload(self) -> Instant:
        """SIGHUP, as ``kill -HUP`` of keepalived: the engine re-reads ``config`` (and
        keepalived's companion, lablb's forwarder and checkers, too; lablb's parent
        relays it to its own). The instant the engine's parent was signalled."""
        parent, _child = self.pids()
        if parent is None:
            raise LabError(f"{self.host}: {self.engine} is not running")
        self.engine.before_reload(self)
        before = time.time()
        os.kill(parent, signal.SIGHUP)
        at = Instant(before, time.time())
        companion = procs.pid_file(self.companion_pidfile)
        if companion is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(companion, signal.SIGHUP)
        return at

    def kill(self) -> None:
        """Crash: the VRRP child is frozen first so it cannot send a goodbye, then every
        process of the node gets SIGKILL."""
        _parent, child = self.pids()
        victims = self.all_pids()
        if child is not None:
            os.kill(child, signal.SIGSTOP)
        for pid in victims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self._wait_gone(STOP_TIMEOUT)

    def reboot_cleanup(self) -> None:
        """What a crashed node's restart would not have: the virtual addresses and the
        forwarder's nft table. (Not at kill time: until its link is down, the table keeps
        the dead node's kernel from resetting the clients' connections.)"""
        self.flush_vips()
        self.lab.run(self.host, ["nft", "delete", "table", "ip", "lablb_dr"])

    def freeze(self, frozen: bool = True) -> None:
        """SIGSTOP (or SIGCONT) of the VRRP child: a stalled timer, nothing else."""
        _parent, child = self.pids()
        if child is None:
            raise LabError(f"{self.host}: no VRRP process to freeze")
        os.kill(child, signal.SIGSTOP if frozen else signal.SIGCONT)

    def _wait_gone(self, timeout: float, companion_only: bool | None = None) -> None:
        """Wait until the node's processes are gone: all of them (None), the companion's
        (True) or the VRRP engine's (False)."""
        deadline = time.monotonic() + timeout
        proc = self.proc

        def left() -> bool:
            if companion_only is None:
                return self.running()
            if companion_only:
                return procs.pid_file(self.companion_pidfile) is not None
            return any(p is not None and procs.alive(p) for p in self.pids())

        while time.monotonic() < deadline:
            for p in (proc, self.companion):
                if p is not None:
                    p.poll()
            if not left():
                break
            time.sleep(0.02)
        if companion_only is not True and proc is not None and proc.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):  # reaped at teardown
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))

    def flush_vips(self) -> None:
        """Remove the config's virtual addresses, as a reboot would after a crash."""
        from lablb.config.load import load_lenient

        for inst in load_lenient(str(self.config)).vrrp_instances:
            for vip in inst.virtual_ipaddress:
                # The same address-and-dev the VRRP daemon's own removal uses.
                argv = vip_argv(vip, inst.interface or "eth0")[:3]
                self.lab.run(self.host, ["ip", "addr", "del", *argv])

    # -- what the node says about itself -------------------------------------------------
    def states(self) -> list[tuple[str, str]]:
        """(instance, state) changes in order, from the engine's own log."""
        return self.engine.states(self.log)

    def state(self, instance: str) -> str | None:
        mine = [s for i, s in self.states() if i == instance]
        return mine[-1] if mine else None

    def started(self) -> bool:
        """Is every subsystem of the engine's last start up? (keepalived's companion is
        awaited before keepalived starts: ``start``.)"""
        return self.engine.started(self)

    def events(self, kind: str) -> list[dict[str, object]]:
        """The engine's JSON events of one kind (keepalived has none: [])."""
        return self.engine.events(self.log, kind)

    def holds(self, address: IPv4Address | IPv6Address) -> bool:
        """Does the node carry ``address`` on an interface that is up right now (the wire
        truth, whatever the engine logs)?"""
        family = f"-{address.version}"
        res = self.lab.run(self.host, ["ip", "-j", family, "addr", "show", "up"], timeout=5)
        for link in json.loads(res.stdout or "[]"):
            if "LOWER_UP" not in link.get("flags", []):
                continue
            for a in link.get("addr_info", []):
                if a.get("local") == str(address):
                    return True
        return False


def check_config(configs: Path, host: str, engine: Engine) -> Path:
    """``configs/HOST.conf``, once it is there, loads, and is one ``engine`` can run in
    the lab (keepalived runs the VRRP part of its own engine; lablb the rest): a broken
    file fails here, with its line and column, before any daemon is touched."""
    from lablb.config.load import load_lenient
    from lablb.config.runnable import require_runnable

    conf = configs / f"{host}.conf"
    if not conf.is_file():
        raise LabError(f"no config for {host}: {conf} does not exist")
    require_runnable(load_lenient(str(conf)), vrrp=engine.runs_vrrp)
    return conf


def start_vrrp(
    lab: Lab, configs: Path, engines: Mapping[str, Engine | str]
) -> dict[str, VrrpNode]:
    """Start each balancer's engine (an ``Engine`` or its name) on
    ``configs/NODE.conf``; they stop gracefully at teardown."""
    nodes: dict[str, VrrpNode] = {}
    lab.on_teardown(lambda: stop_all(list(nodes.values())))  # those started, at teardown
    for host, chosen in engines.items():
        kind = chosen if isinstance(chosen, Engine) else engine(chosen)
        conf = check_config(configs, host, kind)
        node = VrrpNode(lab, host, kind, conf)
        node.start()
        nodes[host] = node
    return nodes


def stop_all(nodes: list[VrrpNode]) -> None:
    """Every node's graceful stop at once. Each stop lingers for the peer's takeover
    (the engine an advert interval after its goodbye, lablb's parent another before it
    stops the forwarder and checkers: ``lablb.daemon``), which a teardown or a config
    swap need not wait for node after node. The first error, once all have stopped."""
    errors: list[BaseException] = []

    def stop(node: VrrpNode) -> None:
        try:
            node.stop()
        except Exception as exc:  # re-raised below, after the other stops
            errors.append(exc)

    threads = [
        threading.Thread(target=stop, args=(n,), name=f"stop-{n.host}")
        for n in nodes
        if n.running()
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
