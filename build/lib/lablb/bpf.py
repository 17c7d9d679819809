"""Classic BPF socket filters as the kernel takes them: a program's bytes (pure) and
attaching one to a socket. The programs themselves are built where their packets are
known: the DR forwarder's in ``lablb.ipvs.frame``, VRRP's in ``lablb.vrrp.packet``."""

from __future__ import annotations

import ctypes
import socket
import struct

SO_ATTACH_FILTER = 26

Instruction = tuple[int, int, int, int]  # (code, jt, jf, k), as ``tcpdump -dd`` prints


def bpf_bytes(program: list[Instruction]) -> bytes:
    """The program as an array of ``struct sock_filter``."""
    return b"".join(struct.pack("HBBI", *ins) for ins in program)


def attach(sock: socket.socket, program: list[Instruction]) -> None:
    """Filter ``sock``'s input through ``program`` (replacing any earlier filter). The
    kernel copies the program: nothing has to outlive the call."""
    blob = bpf_bytes(program)
    buf = ctypes.create_string_buffer(blob, len(blob))
    fprog = struct.pack("HL", len(program), ctypes.addressof(buf))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
