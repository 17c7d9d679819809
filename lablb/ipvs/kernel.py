"""The forwarder's kernel data plane: ``dr.bpf.c`` loaded through libbpf, its tc program
on each Direct Routing interface, its socket filter on the forwarder's packet socket,
and the maps the forwarder fills. Edge: the decisions stay in ``lablb.ipvs.service``
(Python is the scheduler of record); this module only carries them into the kernel.

What the kernel then does alone: a packet of a connection the forwarder installed, of a
service this node masters, that is not a SYN, FIN or RST, leaves again at tc ingress with
the real server's MAC, never seen by Python. Everything else reaches the forwarder as
before. ``KernelPath.open`` raises ``DataplaneError`` with one line of why when the
object is missing or will not load or attach (the forwarder then runs on its AF_PACKET
path and says so once).

Nothing outlives the node's interfaces: ``close`` takes the filter off (and the
``clsact`` qdisc, where it made it), and a forwarder killed before it could is replaced
at its restart (the same handle and priority).
"""

from __future__ import annotations

import ctypes
import errno
import os
import socket
import time
from ipaddress import IPv4Address
from pathlib import Path

from lablb.errors import LablbError
from lablb.ipvs.kmaps import (
    CONN_VALUE_LEN,
    KernelConn,
    flow_key,
    service_key,
    service_value,
)
from lablb.ipvs.service import Flow

SOURCE = Path(__file__).with_name("dr.bpf.c")
OBJECT = Path(__file__).with_name("dr.bpf.o")
DATAPLANE_ENV = "LABLB_DATAPLANE"  # kernel (the default, where it loads) or python
DATAPLANES = ("kernel", "python")
SO_ATTACH_BPF = 50
BPF_TC_INGRESS = 1
BPF_TC_EGRESS = 2
BPF_TC_F_REPLACE = 1
TC_HANDLE = TC_PRIORITY = 1


class DataplaneError(LablbError):
    """The kernel data plane cannot run here (one line: why); the forwarder falls back."""


class _TcHook(ctypes.Structure):
    _fields_ = [("sz", ctypes.c_size_t), ("ifindex", ctypes.c_int),
                ("attach_point", ctypes.c_int), ("parent", ctypes.c_uint32)]  # fmt: skip


class _TcOpts(ctypes.Structure):
    _fields_ = [("sz", ctypes.c_size_t), ("prog_fd", ctypes.c_int), ("flags", ctypes.c_uint32),
                ("prog_id", ctypes.c_uint32), ("handle", ctypes.c_uint32),
                ("priority", ctypes.c_uint32)]  # fmt: skip


def _libbpf() -> ctypes.CDLL:
    name = "libbpf.so.1"  # (ctypes.util.find_library would spawn ldconfig: 20+ ms)
    try:
        lib = ctypes.CDLL(name, use_errno=True)
    except OSError as exc:
        raise DataplaneError(f"no libbpf ({exc})") from exc
    lib.bpf_object__open_file.restype = ctypes.c_void_p
    lib.bpf_object__open_file.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    lib.bpf_object__load.argtypes = [ctypes.c_void_p]
    lib.bpf_object__close.argtypes = [ctypes.c_void_p]
    lib.bpf_object__find_program_by_name.restype = ctypes.c_void_p
    lib.bpf_object__find_program_by_name.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.bpf_program__fd.argtypes = [ctypes.c_void_p]
    lib.bpf_object__find_map_fd_by_name.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.libbpf_set_print.restype = ctypes.c_void_p
    lib.libbpf_set_print.argtypes = [ctypes.c_void_p]
    for f in ("bpf_map_update_elem", "bpf_map_lookup_elem", "bpf_map_delete_elem"):
        getattr(lib, f).restype = ctypes.c_int
    lib.bpf_map_update_elem.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_char_p,
                                        ctypes.c_uint64]  # fmt: skip
    lib.bpf_map_lookup_elem.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_char_p]
    lib.bpf_map_delete_elem.argtypes = [ctypes.c_int, ctypes.c_char_p]
    lib.bpf_tc_hook_create.argtypes = [ctypes.POINTER(_TcHook)]
    lib.bpf_tc_hook_destroy.argtypes = [ctypes.POINTER(_TcHook)]
    lib.bpf_tc_attach.argtypes = [ctypes.POINTER(_TcHook), ctypes.POINTER(_TcOpts)]
    lib.bpf_tc_detach.argtypes = [ctypes.POINTER(_TcHook), ctypes.POINTER(_TcOpts)]
    lib.bpf_tc_query.argtypes = [ctypes.POINTER(_TcHook), ctypes.POINTER(_TcOpts)]
    lib.libbpf_set_print(None)  # its warnings are ours to word, once
    return lib


def _hook(ifindex: int, points: int) -> _TcHook:
    return _TcHook(ctypes.sizeof(_TcHook), ifindex, points, 0)


def _our_handle() -> _TcOpts:
    """Options naming our handle and priority alone, as bpf_tc_query and bpf_tc_detach
    want them (a query fills in the program: a detach needs fresh ones)."""
    return _TcOpts(ctypes.sizeof(_TcOpts), 0, 0, 0, TC_HANDLE, TC_PRIORITY)


def _why(rc: int) -> str:
    return os.strerror(-rc if rc < 0 else ctypes.get_errno())


def object_state() -> str | None:
    """Why the compiled program cannot be used (None: it can): missing, or older than
    its source (``./dev setup`` builds it)."""
    if not OBJECT.exists():
        return f"{OBJECT} is not built (./dev setup builds it with clang)"
    if SOURCE.exists() and SOURCE.stat().st_mtime > OBJECT.stat().st_mtime:
        return f"{OBJECT} is older than {SOURCE.name} (./dev setup builds it again)"
    return None


def monotonic_ns_offset() -> float:
    """Seconds to add to a ``bpf_ktime_get_ns`` stamp (CLOCK_MONOTONIC, in ns) to read
    it on ``time.monotonic``'s scale: the same clock on Linux, so 0 unless Python's
    monotonic is another one."""
    return time.monotonic() - time.clock_gettime_ns(time.CLOCK_MONOTONIC) / 1e9


class KernelPath:
    """One forwarder's kernel data plane: the loaded object, its tc hooks, its maps."""

    def __init__(self, lib: ctypes.CDLL, obj: int) -> None:
        self._lib = lib
        self._obj: int | None = obj
        # ifindex -> (the clsact qdisc is ours: we made it, the id of the program we put there)
        self._hooked: dict[int, tuple[bool, int]] = {}
        self.tap_fd = self._prog_fd("dr_tap")
        self.tc_fd = self._prog_fd("dr_tc")
        self.services_fd = lib.bpf_object__find_map_fd_by_name(obj, b"services")
        self.conns_fd = lib.bpf_object__find_map_fd_by_name(obj, b"conns")
        if min(self.services_fd, self.conns_fd) < 0:
            raise DataplaneError(f"{OBJECT.name} has no services or conns map")

    @classmethod
    def open(cls) -> KernelPath:
        why = object_state()
        if why is not None:
            raise DataplaneError(why)
        lib = _libbpf()
        obj = lib.bpf_object__open_file(str(OBJECT).encode(), None)
        if not obj:
            raise DataplaneError(f"{OBJECT.name} does not open: {_why(0)}")
        rc = lib.bpf_object__load(obj)
        if rc < 0:
            lib.bpf_object__close(obj)
            raise DataplaneError(f"{OBJECT.name} does not load: {_why(rc)}")
        try:
            return cls(lib, obj)
        except DataplaneError:
            lib.bpf_object__close(obj)
            raise

    def _prog_fd(self, name: str) -> int:
        prog = self._lib.bpf_object__find_program_by_name(self._obj, name.encode())
        fd = self._lib.bpf_program__fd(prog) if prog else -1
        if fd < 0:
            raise DataplaneError(f"{OBJECT.name} has no program {name}")
        return int(fd)

    # -- attaching ----------------------------------------------------------------------
    def attach(self, interface: str) -> None:
        """The tc program at ``interface``'s ingress (replacing one a killed forwarder
        left there, same handle and priority)."""
        ifindex = socket.if_nametoindex(interface)
        hook = _hook(ifindex, BPF_TC_INGRESS)
        rc = self._lib.bpf_tc_hook_create(ctypes.byref(hook))
        if rc < 0 and -rc != errno.EEXIST:
            raise DataplaneError(f"{interface}: no clsact qdisc: {_why(rc)}")
        made = rc == 0
        opts = _TcOpts(ctypes.sizeof(_TcOpts), self.tc_fd, BPF_TC_F_REPLACE, 0, TC_HANDLE,
                       TC_PRIORITY)  # fmt: skip
        rc = self._lib.bpf_tc_attach(ctypes.byref(hook), ctypes.byref(opts))
        if rc < 0:
            raise DataplaneError(f"{interface}: tc program not attached: {_why(rc)}")
        self._hooked[ifindex] = (made, opts.prog_id)  # libbpf fills in the id

    def tap(self, sock: socket.socket) -> None:
        """The socket filter on the forwarder's packet socket: it then reads only what
        the kernel will not forward."""
        sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_BPF, self.tap_fd)

    def close(self) -> None:
        """Our filter off each interface, and the clsact qdisc too where we made it (a
        qdisc that was there before, with someone else's filters, stays); both only if
        our program is still the one at our handle: a forwarder started while this one
        was stopping has put its own there, and keeps it."""
        for ifindex, (made, prog_id) in self._hooked.items():
            hook, there = _hook(ifindex, BPF_TC_INGRESS), _our_handle()
            if self._lib.bpf_tc_query(ctypes.byref(hook), ctypes.byref(there)) < 0:
                continue  # gone already (the interface, or the qdisc)
            if there.prog_id != prog_id:
                continue
            self._lib.bpf_tc_detach(ctypes.byref(hook), ctypes.byref(_our_handle()))
            if made:
                hook = _hook(ifindex, BPF_TC_INGRESS | BPF_TC_EGRESS)
                self._lib.bpf_tc_hook_destroy(ctypes.byref(hook))
        self._hooked.clear()
        if self._obj is not None:
            self._lib.bpf_object__close(self._obj)
            self._obj = None

    # -- maps -----------------------------------------------------------------------------
    def _update(self, fd: int, key: bytes, value: bytes) -> None:
        rc = self._lib.bpf_map_update_elem(fd, key, value, 0)
        if rc < 0:
            raise DataplaneError(f"map update: {_why(rc)}")

    def set_service(self, vip: IPv4Address, port: int, proto: int, forwarding: bool) -> None:
        """Does the kernel forward ``vip:port``'s connections (this node masters it)?"""
        self._update(self.services_fd, service_key(vip, port, proto), service_value(forwarding))

    def install(self, flow: Flow, conn: KernelConn) -> None:
        self._update(self.conns_fd, flow_key(flow), conn.encode())

    def remove(self, flow: Flow) -> None:
        self._lib.bpf_map_delete_elem(self.conns_fd, flow_key(flow))

    def lookup(self, flow: Flow) -> KernelConn | None:
        buf = ctypes.create_string_buffer(CONN_VALUE_LEN)
        if self._lib.bpf_map_lookup_elem(self.conns_fd, flow_key(flow), buf) < 0:
            return None
        return KernelConn.decode(buf.raw)
