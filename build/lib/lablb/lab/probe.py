"""Clients probing the cluster in a lab host. Lab layer.

``Prober`` is the instrument: ``lablb.probe.daemon`` in the client, an ICMP echo to the
cluster VIP and a TCP SYN to the service VIP:port every interval (1 ms by default),
answers stamped by the kernel on CLOCK_REALTIME. ``start`` returns once both probes
have been answered (a probe that never is fails the trial before any fault);
``stop`` returns each probe's ``ProbeLog``.
"""

from __future__ import annotations

import json
import select
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path

from lablb.errors import LabError
from lablb.lab.net import Lab
from lablb.measure.outage import ProbeLog

MAX_PROBE_SECONDS = 300  # a probe never outlives this, whatever happens to its owner
READY_TIMEOUT = 5.0  # both probes answered within this, or the cluster is not serving


@dataclass
class Prober:
    """``lablb.probe.daemon`` in ``host``: ICMP to ``icmp``, SYN to ``tcp``."""

    lab: Lab
    host: str
    icmp: IPv4Address | IPv6Address | None
    tcp: tuple[IPv4Address, int] | None
    interval: float = 0.001
    out: Path = Path("probe.json")
    proc: subprocess.Popen[str] | None = field(default=None, repr=False)
    proc_err: str = ""
    ident: int | None = None  # the ICMP identifier the prober used (after ``stop``)

    def start(self) -> Prober:
        argv = [sys.executable, "-m", "lablb.probe.daemon", "--interval", f"{self.interval:g}"]
        argv += ["--for", str(MAX_PROBE_SECONDS), "--out", str(self.out), "--realtime"]
        if self.icmp is not None:
            argv += ["--icmp", str(self.icmp)]
        if self.tcp is not None:
            argv += ["--tcp", f"{self.tcp[0]}:{self.tcp[1]}"]
        self.out.unlink(missing_ok=True)
        self.proc = self.lab.host(self.host).popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.lab.on_teardown(self._end)
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], READY_TIMEOUT)
        line = self.proc.stdout.readline() if ready else ""
        if line.strip() != "ready":
            self._end()
            what = " and ".join(
                x
                for x in (self.icmp and f"{self.icmp}", self.tcp and f"{self.tcp[0]}:{self.tcp[1]}")
                if x
            )
            err = self.proc_err.strip().splitlines()[-1:] if self.proc_err else []
            raise LabError(
                f"{self.host}: the prober got no answer from {what} within "
                f"{READY_TIMEOUT:g} s" + (f" ({err[0]})" if err else "")
            )
        return self

    def _end(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            _out, self.proc_err = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _out, self.proc_err = self.proc.communicate()
        self.proc = None

    def stop(self) -> dict[str, ProbeLog]:
        """Stop the prober; each probe's log ("icmp", "tcp")."""
        self._end()
        try:
            data = json.loads(self.out.read_text())
        except (OSError, ValueError) as exc:
            raise LabError(
                f"{self.host}: the prober left no record ({exc}): {self.proc_err[-300:]}"
            ) from None
        interval = float(data["interval"])
        self.ident = data.get("ident")
        self.out.unlink(missing_ok=True)
        return {k: ProbeLog.from_json(k, interval, v) for k, v in data["probes"].items()}
