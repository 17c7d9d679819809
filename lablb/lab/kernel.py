"""Kernel actions the runner takes itself, timed to the microsecond. Lab layer.

Spawning ``ip`` or ``nft`` costs 5-80 ms, more than a whole failover at 10 ms adverts,
and leaves the instant the action took effect unknown inside that window. So the faults
and the calibration blackout act from the runner's own process:

- ``set_link`` flips IFF_UP with SIOCSIFFLAGS (netdevice(7)) in the calling thread's
  network namespace;
- ``InNetns`` runs calls in a thread that has entered a lab host's network namespace
  (setns(2) moves only the calling thread), so the same ioctl reaches a host's own
  interface;
- ``Running`` hears the kernel report an interface running again (carrier and
  operstate up, the moment a VRRP instance may leave FAULT), which can lag the
  ``set_link`` that brought it up: linkwatch defers it, now and then by up to a second;
- ``Nft`` runs nftables commands through libnftables (libnftables(3)), in whatever
  namespace its thread is in.

Each returns the CLOCK_REALTIME instants just before and just after the kernel call:
the action took effect between them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import fcntl
import os
import queue
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from lablb.errors import LabError

SIOCGIFFLAGS, SIOCSIFFLAGS = 0x8913, 0x8914
IFF_UP, IFF_RUNNING = 0x1, 0x40
RTMGRP_LINK, RTM_NEWLINK = 1, 16
NLMSGHDR, IFINFOMSG = struct.Struct("=IHHII"), struct.Struct("=BxHiII")
CLONE_NEWNET = 0x40000000
CALL_TIMEOUT = 10.0

T = TypeVar("T")


@dataclass(frozen=True)
class Instant:
    """When a kernel action took effect: between ``before`` and ``after`` (seconds,
    CLOCK_REALTIME)."""

    before: float
    after: float

    @property
    def width(self) -> float:
        return self.after - self.before


def set_link(name: str, up: bool) -> Instant:
    """IFF_UP on or off for interface ``name`` in this thread's namespace."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sH14x", name.encode()[:15], 0)
        try:
            flags = struct.unpack("16sH14x", fcntl.ioctl(s.fileno(), SIOCGIFFLAGS, req))[1]
        except OSError as exc:
            raise LabError(f"interface {name}: {exc.strerror}") from None
        flags = (flags | IFF_UP) if up else (flags & ~IFF_UP)
        req = struct.pack("16sH14x", name.encode()[:15], flags)
        before = time.time()
        try:
            fcntl.ioctl(s.fileno(), SIOCSIFFLAGS, req)
        except OSError as exc:
            raise LabError(f"interface {name}: {exc.strerror}") from None
        return Instant(before, time.time())


class Running:
    """Subscribed to the link events of the namespace it is made in (make it there, as
    ``InNetns.call(lambda: Running(name))``, before the action that brings ``name``
    up); ``wait`` then returns when the kernel reports ``name`` running: the instant
    this process read that report (CLOCK_REALTIME), at most its read lag after the
    kernel's; None if not within ``timeout``. Read it right after the action: a report
    left queued is stamped late (the bound it starts is then looser, never tighter)."""

    def __init__(self, name: str) -> None:
        try:
            self.index = socket.if_nametoindex(name)
        except OSError:
            raise LabError(f"interface {name}: no such interface") from None
        self.name = name
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        self.sock.bind((0, RTMGRP_LINK))

    def wait(self, timeout: float) -> float | None:
        deadline = time.monotonic() + timeout
        try:
            while (left := deadline - time.monotonic()) > 0:
                self.sock.settimeout(left)
                try:
                    data = self.sock.recv(65536)
                except TimeoutError:
                    return None
                read = time.time()
                if self.index in running_links(data):
                    return read
            return None
        finally:
            self.sock.close()


def running_links(data: bytes) -> set[int]:
    """The interface indexes a netlink datagram reports running (RTM_NEWLINK with
    IFF_RUNNING)."""
    out, off = set(), 0
    while off + NLMSGHDR.size + IFINFOMSG.size <= len(data):
        length, kind, _flags, _seq, _pid = NLMSGHDR.unpack_from(data, off)
        if length < NLMSGHDR.size:
            break
        if kind == RTM_NEWLINK:
            _family, _type, index, flags, _change = IFINFOMSG.unpack_from(data, off + NLMSGHDR.size)
            if flags & IFF_RUNNING:
                out.add(index)
        off += (length + 3) & ~3
    return out


class InNetns:
    """A thread living in the network namespace of process ``pid`` (a lab host's
    shell); ``call(fn)`` runs ``fn`` there and returns its result."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._jobs: queue.Queue[tuple[Callable[[], Any], queue.Queue[Any]] | None] = queue.Queue()
        self._ready: queue.Queue[BaseException | None] = queue.Queue()
        self._thread = threading.Thread(target=self._main, daemon=True, name=f"netns-{pid}")
        self._thread.start()
        error = self._ready.get(timeout=CALL_TIMEOUT)
        if error is not None:
            raise LabError(f"cannot enter the network namespace of pid {pid}: {error}")

    def _main(self) -> None:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        try:
            fd = os.open(f"/proc/{self.pid}/ns/net", os.O_RDONLY)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
            finally:
                os.close(fd)
        except OSError as exc:
            self._ready.put(exc)
            return
        self._ready.put(None)
        while (job := self._jobs.get()) is not None:
            fn, answer = job
            try:
                answer.put((True, fn()))
            except BaseException as exc:  # handed back to the caller's thread
                answer.put((False, exc))

    def call(self, fn: Callable[[], T]) -> T:
        answer: queue.Queue[tuple[bool, Any]] = queue.Queue()
        self._jobs.put((fn, answer))
        ok, value = answer.get(timeout=CALL_TIMEOUT)
        if not ok:
            raise value
        result: T = value
        return result

    def close(self) -> None:
        self._jobs.put(None)
        self._thread.join(timeout=CALL_TIMEOUT)


class Nft:
    """libnftables in-process: ``run(cmd)`` applies one nft command (or a batch, one per
    line) and returns when the kernel has committed it. Create and use it in the thread
    (namespace) it should act in."""

    def __init__(self) -> None:
        path = ctypes.util.find_library("nftables")
        if path is None:
            raise LabError("libnftables is not installed (apt install nftables)")
        self.lib = ctypes.CDLL(path)
        self.lib.nft_ctx_new.restype = ctypes.c_void_p
        self.lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
        self.lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        self.lib.nft_ctx_buffer_error.argtypes = [ctypes.c_void_p]
        self.lib.nft_ctx_buffer_output.argtypes = [ctypes.c_void_p]
        self.lib.nft_ctx_get_error_buffer.restype = ctypes.c_char_p
        self.lib.nft_ctx_get_error_buffer.argtypes = [ctypes.c_void_p]
        self.lib.nft_ctx_free.argtypes = [ctypes.c_void_p]
        self.ctx = self.lib.nft_ctx_new(0)
        self.lib.nft_ctx_buffer_error(self.ctx)
        self.lib.nft_ctx_buffer_output(self.ctx)

    def run(self, cmd: str) -> Instant:
        before = time.time()
        rc = self.lib.nft_run_cmd_from_buffer(self.ctx, cmd.encode())
        after = time.time()
        if rc != 0:
            err = (self.lib.nft_ctx_get_error_buffer(self.ctx) or b"").decode(errors="replace")
            first = err.strip().splitlines()[0] if err.strip() else f"exit {rc}"
            raise LabError(f"nft {cmd.splitlines()[0]!r}: {first}")
        return Instant(before, after)

    def close(self) -> None:
        if self.ctx:
            self.lib.nft_ctx_free(self.ctx)
            self.ctx = None


def cpu_steal() -> float:
    """Seconds of CPU the hypervisor has taken from this machine so far, all CPUs
    (/proc/stat "steal", in USER_HZ ticks of 10 ms; 0 on bare metal). A trial records
    how much of it fell in its window: a vCPU stolen for milliseconds stalls daemons and
    prober alike, and a reader of a failed trial should know."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()
        return int(fields[8]) / (os.sysconf("SC_CLK_TCK") or 100)
    except (OSError, ValueError, IndexError):
        return 0.0
