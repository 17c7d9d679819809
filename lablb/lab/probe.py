"""A client probing an address every few milliseconds with ping, in a lab host.

Lab layer: starts ``ping -D -n -i INTERVAL`` in the client (no pty, so the output is
clean), bounded by ``-w``; ``stop`` ends it with SIGINT and returns the reply times
translated to CLOCK_MONOTONIC, the clock the daemons and fault injection use.
"""

from __future__ import annotations

import signal
import subprocess
import time
from dataclasses import dataclass, field
from ipaddress import IPv4Address

from lablb.errors import LabError
from lablb.lab.net import Lab
from lablb.measure.probe import ping_replies

MAX_PROBE_SECONDS = 300  # a probe never outlives this, whatever happens to its owner


@dataclass
class PingProbe:
    lab: Lab
    host: str
    target: IPv4Address
    interval: float = 0.01
    proc: subprocess.Popen[str] | None = field(default=None, repr=False)
    output: str = ""

    def start(self) -> PingProbe:
        argv = [
            "ping",
            "-D",
            "-n",
            "-i",
            f"{self.interval:g}",
            "-W",
            "1",
            "-w",
            str(MAX_PROBE_SECONDS),
            str(self.target),
        ]
        self.proc = self.lab.host(self.host).popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.lab.on_teardown(lambda: None if self.proc is None else self._end())
        return self

    def _end(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGINT)
            try:
                self.output, _ = self.proc.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.output, _ = self.proc.communicate()
            self.proc = None

    def stop(self) -> list[float]:
        """Stop the probe; reply times on the monotonic clock."""
        self._end()
        offset = time.time() - time.monotonic()  # ping -D prints the wall clock
        replies = [t - offset for t in ping_replies(self.output)]
        if not replies and "bytes from" not in self.output:
            raise LabError(f"{self.host}: ping {self.target} got no reply: {self.output[-300:]!r}")
        return replies
