"""The local service a VRRP-only VIP fronts, stood in for on each balancer. Lab layer.

A config without ``virtual_server`` whose instance tracks a script that watches a
process or a local port (``lablb.config.local_service``) gets, on every balancer, the
lab's stand-in (``lablb.lab.standin``) under that process name on that port: the
script runs as written and finds it. ``kill`` is the service crashing (SIGKILL from the
runner: the instant is the signal's), ``start`` brings it back.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from lablb.config.edit import service_instance
from lablb.config.local_service import Watched, watched_service
from lablb.config.model import KeepalivedConfig
from lablb.errors import LabError
from lablb.lab.kernel import Instant
from lablb.lab.net import Lab
from lablb.lab.procs import stop_child
from lablb.lab.web import tls_pair

STANDIN = Path(__file__).with_name("standin.py")
START_TIMEOUT_S = 5.0


class LocalService:
    """The stand-in on one balancer."""

    def __init__(self, lab: Lab, host: str, watched: Watched) -> None:
        self.lab, self.host, self.watched = lab, host, watched
        self.proc: subprocess.Popen[bytes] | None = None

    def _listening(self) -> bool:
        res = self.lab.run(self.host, ["ss", "-Hntl", f"sport = :{self.watched.port}"], timeout=5)
        return bool(res.stdout.strip())

    def start(self) -> None:
        w = self.watched
        # exec -a: argv[0] is the service's name (pidof reads it); the stand-in sets its
        # comm itself (killall, pgrep).
        argv = ["bash", "-c", 'exec -a "$0" "$@"', w.process, sys.executable, str(STANDIN),
                "--name", w.process, "--port", str(w.port)]  # fmt: skip
        if w.tls:
            argv += ["--tls", *map(str, tls_pair())]
        log = self.lab.workdir / self.host / "standin.out"
        log.parent.mkdir(parents=True, exist_ok=True)
        self.proc = self.lab.popen(self.host, argv, log=log)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._listening():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise LabError(f"{self.host}: stand-in {w.process} on TCP {w.port} did not start")
            time.sleep(0.05)

    def kill(self) -> Instant:
        """SIGKILL: the service crashes (no goodbye); the instant spans the signal."""
        if self.proc is None or self.proc.poll() is not None:
            raise LabError(f"{self.host}: {self.watched.process} is not running")
        before = time.time()
        os.kill(self.proc.pid, signal.SIGKILL)
        after = time.time()
        self.proc.wait(timeout=5)
        self.proc = None
        return Instant(before, after)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        stop_child(self.proc, signal.SIGKILL)
        self.proc = None


def fronted(config: KeepalivedConfig) -> Watched | None:
    """VRRP only (no virtual_server): the local service the VIP's instance watches."""
    inst = service_instance(config)
    if inst is None or config.virtual_servers:
        return None
    return watched_service(config, inst)


def start_local_services(
    lab: Lab, hosts: tuple[str, ...], watched: Watched
) -> dict[str, LocalService]:
    """The stand-in on each of ``hosts``, up before their VRRP daemons: their scripts
    find the service from the first run."""
    services = {}
    for host in hosts:
        service = LocalService(lab, host, watched)
        service.start()
        lab.on_teardown(service.stop)
        services[host] = service
    return services
