"""The one loop shape of lablb's daemons (VRRP, forwarder, checkers, prober): signals
as events, a wait on the daemon's own sockets until the next deadline its pure core
gives, and status files written whole.

Edge (signals, sockets, files); it must hold no protocol logic. A daemon makes one
``Loop`` and turns ``while not loop.stopping``: ``wait(fds, timeout)`` returns the
readable ones, and a signal ends the wait at once (Python runs its handler, the wakeup
fd is readable): SIGTERM and SIGINT set ``stopping``, SIGHUP ``reloading`` (taken once
by ``take_reload``), SIGCHLD (with ``children``) only wakes, as keepalived reaps a
script when it ends rather than at its next tick. ``write_status`` replaces a status
file in one rename, so a reader never sees half of one.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType


class Loop:
    def __init__(self, children: bool = False) -> None:
        self.stopping = False
        self.reloading = False
        self._r, self._w = socket.socketpair()
        self._r.setblocking(False)
        self._w.setblocking(False)
        signal.set_wakeup_fd(self._w.fileno())
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        signal.signal(signal.SIGHUP, self._reload)
        if children:
            signal.signal(signal.SIGCHLD, lambda _signum, _frame: None)

    def _stop(self, _signum: int, _frame: object) -> None:
        self.stopping = True

    def _reload(self, _signum: int, _frame: object) -> None:
        self.reloading = True

    def wait(self, fds: Sequence[int], timeout: float) -> list[int]:
        """Those of ``fds`` readable within ``timeout`` seconds; fewer (none) when a
        signal came first."""
        wake = self._r.fileno()
        readable, _, _ = select.select([*fds, wake], [], [], max(0.0, timeout))
        if wake in readable:
            drain(self._r)
            readable.remove(wake)
        return readable

    def take_reload(self) -> bool:
        """Was a reload asked for since the last call?"""
        asked, self.reloading = self.reloading, False
        return asked

    def close(self) -> None:
        signal.set_wakeup_fd(-1)
        self._r.close()
        self._w.close()

    def __enter__(self) -> Loop:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class RunDelay:
    """This thread's time runnable but not running, seconds (the scheduler's
    ``run_delay``, /proc/thread-self/schedstat): read before and after a wait, the
    difference is how long the wake-up queued for a CPU. None where the kernel keeps no
    schedstats. One pread of an open file: a few microseconds."""

    def __init__(self, path: str = "/proc/thread-self/schedstat") -> None:
        try:
            self._fd: int | None = os.open(path, os.O_RDONLY)
        except OSError:
            self._fd = None

    def read(self) -> float | None:
        if self._fd is None:
            return None
        try:
            return int(os.pread(self._fd, 128, 0).split()[1]) / 1e9
        except (OSError, IndexError, ValueError):
            return None


def drain(sock: socket.socket) -> None:
    """Whatever is queued on the non-blocking ``sock``, read and dropped."""
    with contextlib.suppress(BlockingIOError):
        while sock.recv(65536):
            pass


def write_status(path: Path, status: object) -> None:
    """``path`` replaced by ``status`` as JSON in one rename."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(status))
    tmp.replace(path)
