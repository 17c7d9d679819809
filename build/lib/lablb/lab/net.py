"""``with Lab(spec) as lab:`` a Mininet network that always tears down.

Built with Linux bridges and no controller (this lab's kernels may have no Open
vSwitch), ``LabLink`` for htb bandwidth, ``LabHost`` for each node. Teardown runs on a
normal exit, an exception, SIGINT and SIGTERM; a state file in ``/run/lablb`` lets
``lablb clean`` finish the job after ``kill -9``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

from lablb.errors import LabError
from lablb.lab import procs
from lablb.lab.registry import TopoEntry

REQUIRED_TOOLS = {
    "mnexec": "mininet",
    "brctl": "bridge-utils",
    "ifconfig": "net-tools",
    "tc": "iproute2",
    "ip": "iproute2",
    "sysctl": "procps",
}
# The bridge must not hand frames to iptables/nftables: the lab's own nft rules
# (fault injection) are meant for hosts, and a stray host firewall must not see the LAN.
BRIDGE_SYSCTLS = (
    "net.bridge.bridge-nf-call-iptables",
    "net.bridge.bridge-nf-call-ip6tables",
    "net.bridge.bridge-nf-call-arptables",
)


# The lab's own instruments and sinks (capture, SMTP sink) run this much nicer than the
# daemons they watch: on a few shared CPUs they must not take scheduling slices from
# them (lablb.measure.bounds counts one quantum of competition, no more).
INSTRUMENT_NICE = 10
# Mininet stops the seed lab in about a second and a 64-node webfarm in a few; past
# this it is waiting on something that will never answer.
NET_STOP_TIMEOUT = 30.0


def _nothing(*_args: object, **_kwargs: object) -> str:
    """What a host with no shell left runs for Mininet: nothing."""
    return ""


class LabInterrupted(LabError):
    """SIGTERM (or SIGINT) arrived while a lab was up; it has been torn down."""


@dataclass(frozen=True)
class LabSpec:
    topology: TopoEntry
    params: dict[str, Any] = field(default_factory=dict)


def preflight() -> None:
    """Root and the tools Mininet shells out to; a clear LabError when one is missing."""
    if os.geteuid() != 0:
        raise LabError("a lab needs root (network namespaces, veth, bridges): run with sudo")
    missing = [
        f"{tool} (apt package {pkg})"
        for tool, pkg in REQUIRED_TOOLS.items()
        if shutil.which(tool) is None
    ]
    if missing:
        raise LabError(f"missing tools: {', '.join(missing)}; run ./dev setup")


def set_bridge_sysctls() -> None:
    for key in BRIDGE_SYSCTLS:
        path = "/proc/sys/" + key.replace(".", "/")
        if os.path.exists(path):
            with open(path, "w") as fh:
                fh.write("0")


class Lab:
    def __init__(
        self,
        spec: LabSpec,
        *,
        verbose: bool = False,
        workdir: Path | None = None,
        signals: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM),
    ) -> None:
        """``signals``: while the lab is up, each of them tears it down (LabInterrupted);
        a notebook's kernel keeps SIGINT, its interrupt, for the cell it stops."""
        self.spec = spec
        self.signals = signals
        self.verbose = verbose
        self.net: Any = None
        # Pid files and daemon logs; a directory the caller names is kept afterwards.
        self._keep_workdir = workdir is not None
        self.workdir = (workdir or Path(tempfile.mkdtemp(prefix="lablb-"))).resolve()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.workdir.chmod(0o755)  # web servers in the lab read from it as www-data
        self._stoppers: list[Callable[[], object]] = []
        self._old_handlers: dict[int, Any] = {}
        self._state_file = procs.STATE_DIR / f"lab-{os.getpid()}.json"
        self._netns: list[str] = []

    # -- context --------------------------------------------------------------
    def __enter__(self) -> Lab:
        preflight()
        for sig in self.signals:
            self._old_handlers[sig] = signal.signal(sig, self._on_signal)
        try:
            self._start()
        except BaseException:
            self._teardown()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._teardown()

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        raise LabInterrupted(f"{signal.Signals(signum).name} received: lab torn down")

    # -- bring-up -------------------------------------------------------------
    def _start(self) -> None:
        from mininet.log import setLogLevel
        from mininet.net import Mininet
        from mininet.nodelib import LinuxBridge

        from lablb.lab.clean import clean, live_labs
        from lablb.lab.host import LabHost
        from lablb.lab.link import LabLink

        setLogLevel("info" if self.verbose else "error")
        live = [s for s in live_labs() if s.get("pid") != os.getpid()]
        if live:
            raise LabError(
                f"another lab is running (pid {live[0]['pid']}, topology "
                f"{live[0].get('topology')}); stop it first"
            )
        leftovers = clean()
        if leftovers:
            print(
                f"lablb: removed what an earlier run left ({len(leftovers)} action(s))",
                file=sys.stderr,
            )
        set_bridge_sysctls()
        topo = self.spec.topology.cls(**self.spec.params)
        self.net = Mininet(
            topo=topo,
            switch=LinuxBridge,
            controller=None,
            link=LabLink,
            host=LabHost,
            autoSetMacs=False,
            build=False,
            waitConnected=False,
        )
        self._write_state()  # before build: a kill -9 during build leaves a trail
        self.net.build()
        self.net.start()
        for host in self.net.hosts:
            name = procs.NETNS_PREFIX + host.name
            if procs.run(["ip", "netns", "attach", name, str(host.pid)]).returncode == 0:
                self._netns.append(name)
        self._write_state()

    def _write_state(self) -> None:
        procs.STATE_DIR.mkdir(parents=True, exist_ok=True)
        state = {
            "pid": os.getpid(),
            "topology": self.spec.topology.name,
            "started": time.time(),
            "host_pids": {h.name: h.pid for h in self.net.hosts} if self.net.hosts else {},
            "netns_ids": {h.name: procs.netns_of(h.pid) for h in self.net.hosts if h.pid},
            "workdir": str(self.workdir),
            "keep_workdir": self._keep_workdir,
            "bridges": [s.name for s in self.net.switches],
            "netns": self._netns,
        }
        self._state_file.write_text(json.dumps(state, indent=2))

    # -- teardown -------------------------------------------------------------
    def _teardown(self) -> None:
        # A second Ctrl-C must not cut the teardown in half; afterwards each signal has
        # the handler it had before the lab (kept at __enter__ for those it caught).
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._old_handlers.setdefault(sig, signal.signal(sig, signal.SIG_IGN))
        try:
            for stop in reversed(self._stoppers):
                try:
                    stop()
                except Exception as exc:  # teardown must go on whatever one stop raised
                    print(f"lablb: teardown: {exc}", file=sys.stderr)
            self._stoppers = []
            if self.net is not None:
                shells = [h.pid for h in self.net.hosts if getattr(h, "pid", None)]
                namespaces = {ns for ns in map(procs.netns_of, shells) if ns}
                namespaces.discard(procs.own_netns() or "")
                strays = [p for p in procs.pids_in_netns(namespaces) if p not in shells]
                procs.kill_all(strays)
                self._stop_net()
                self.net = None
            for name in self._netns:
                procs.run(["ip", "netns", "delete", name])
            self._netns = []
            self._state_file.unlink(missing_ok=True)
            if not self._keep_workdir:
                shutil.rmtree(self.workdir, ignore_errors=True)
        finally:
            for signum, handler in self._old_handlers.items():
                signal.signal(signum, handler)
            self._old_handlers = {}

    def _stop_net(self) -> None:
        """Mininet's stop, bounded in time whatever the hosts did. A host whose shell
        died (an OOM kill, every process in its namespace killed) has no one to run
        Mininet's commands: Mininet would wait forever for its prompt, so such a host
        is told to run nothing (its namespace, and the veth ends in it, went with its
        last process). Should Mininet still hang, the root namespace is swept as
        ``lablb clean`` does."""
        for host in self.net.hosts:
            shell = getattr(host, "shell", None)
            if shell is None or shell.poll() is not None:
                print(f"lablb: teardown: {host.name}'s shell is gone", file=sys.stderr)
                host.cmd = _nothing
                host.shell = None
        stopper = threading.Thread(target=self.net.stop, name="mininet-stop", daemon=True)
        stopper.start()
        stopper.join(NET_STOP_TIMEOUT)
        if stopper.is_alive():
            from lablb.lab.clean import clean

            print(
                f"lablb: teardown: Mininet did not stop within {NET_STOP_TIMEOUT:g} s; "
                "sweeping the lab from the root namespace",
                file=sys.stderr,
            )
            clean()

    # -- use ------------------------------------------------------------------
    def host(self, name: str) -> Any:
        if self.net is None:
            raise LabError("the lab is not up")
        try:
            return self.net[name]
        except KeyError:
            raise LabError(f"no host {name!r} in topology {self.spec.topology.name}") from None

    @property
    def hosts(self) -> list[Any]:
        return list(self.net.hosts) if self.net is not None else []

    def on_teardown(self, stop: Callable[[], object]) -> None:
        """Call ``stop`` at teardown (last registered, first called), before the host
        processes are killed: daemons get to stop gracefully."""
        self._stoppers.append(stop)

    def popen(self, host: str, argv: list[str], log: Path | None = None) -> subprocess.Popen[bytes]:
        """Start a long-lived process in ``host``; output to ``log`` (or discarded)."""
        out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - child owns it
        try:
            proc: subprocess.Popen[bytes] = self.host(host).popen(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
            )
        finally:
            if log:
                out.close()  # type: ignore[union-attr]
        return proc

    def root(self, argv: list[str], timeout: float = 10.0) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` in the root namespace (switch-side links, bridges)."""
        try:
            return procs.run(argv, timeout)
        except subprocess.TimeoutExpired:
            raise LabError(f"{' '.join(argv)} took longer than {timeout:g} s") from None

    def run(
        self, host: str, argv: list[str], timeout: float = 10.0
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` in ``host`` (no pty), bounded by ``timeout`` seconds."""
        proc = self.host(host).popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise LabError(f"{host}: {' '.join(argv)} took longer than {timeout:g} s") from None
        return subprocess.CompletedProcess(argv, proc.returncode, out, err)
