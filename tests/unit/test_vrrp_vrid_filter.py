"""The kernel filter on the VRRP socket (``lablb.vrrp.packet.vrid_filter``, attached by
``VrrpSocket.only_vrids``): this node's VRIDs and anything too short to hold one reach
the engine; other clusters' adverts are dropped in the kernel. Tried on a real socket:
two raw protocol-112 sockets on the loopback of a fresh network namespace."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from lablb.vrrp.packet import vrid_filter

# In a namespace of its own: nothing else's VRRP can reach this loopback.
PROBE = textwrap.dedent(
    """
    import socket
    from lablb.vrrp.io import VrrpSocket
    rx = VrrpSocket.__new__(VrrpSocket)
    rx.sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
    rx.sock.bind(("127.0.0.1", 0))
    rx.only_vrids({51, 200})
    tx = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
    for payload in (bytes([0x31, 50]) + bytes(6), bytes([0x31, 51]) + bytes(6),
                    bytes([0x31, 200]) + bytes(6), bytes([0x31, 7]) + bytes(6), b"\\x31"):
        tx.sendto(payload, ("127.0.0.1", 0))
    rx.sock.settimeout(0.5)
    got = []
    try:
        while True:
            data = rx.sock.recv(100)
            ihl = (data[0] & 0x0F) * 4
            msg = data[ihl:]
            got.append(msg[1] if len(msg) > 1 else -1)
    except socket.timeout:
        pass
    print(got)
    """
)


def test_the_program_lists_each_vrid_once_and_ends_in_drop_then_accept() -> None:
    prog = vrid_filter([51, 7, 51])
    assert [k for code, _, _, k in prog if code == 0x15] == [7, 51]
    assert prog[-2] == (0x06, 0, 0, 0) and prog[-1][0] == 0x06 and prog[-1][3] > 0
    # every jump lands inside the program
    for i, (code, jt, jf, _k) in enumerate(prog):
        if code & 0x07 == 0x05:
            assert i + 1 + jt < len(prog) and i + 1 + jf < len(prog)


@pytest.mark.skipif(os.geteuid() != 0, reason="raw sockets and a namespace need root")
def test_the_kernel_passes_our_vrids_and_short_packets_and_drops_the_rest() -> None:
    ns = f"lablb-vridtest-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", ns], check=True, timeout=10)
    try:
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True, timeout=10)
        res = subprocess.run(
            ["ip", "netns", "exec", ns, sys.executable, "-c", PROBE],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
    finally:
        subprocess.run(["ip", "netns", "delete", ns], check=False, timeout=10)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip() == "[51, 200, -1]"

