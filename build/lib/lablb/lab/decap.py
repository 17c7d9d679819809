"""LVS-TUN's far end on a real server (``python -m lablb.lab.decap``): what the
``ipip`` module's ``tunl0`` does, for a kernel that loads no modules. Edge.

An LVS-TUN balancer sends each request inside IPIP to the real server, which unwraps
it, finds the VIP on its own ``lo`` and answers the client directly. Here a packet
socket reads the IPIP frames arriving on ``--dev`` (a kernel filter passes nothing
else), and the packet inside is written to a TUN device named ``tunl0``, where the
kernel receives it as ``tunl0`` would have given it. The kernel itself, which has no
handler for protocol 4, must not answer the outer packet ("protocol unreachable"): an
nftables rule drops it on input. ``rp_filter`` is off on ``tunl0`` (requests from
clients arrive on an interface that does not route to them), as LVS-TUN howtos say.

Runs until SIGTERM; writes how many packets it unwrapped to ``--status`` (JSON) when
ready and when it stops.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import select
import signal
import socket
import struct
import subprocess
from pathlib import Path

from lablb.bpf import attach
from lablb.errors import PacketError
from lablb.ipvs.frame import IPPROTO_IPIP, bpf_ip_proto, decapsulate

TUNSETIFF = 0x400454CA
IFF_TUN, IFF_NO_PI = 0x0001, 0x1000
ETH_P_IP = 0x0800
DEVICE = "tunl0"
NFT_TABLE = "lablb_tun"


def _sh(argv: list[str], stdin: str | None = None) -> None:
    res = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=5, check=False)
    if res.returncode != 0:
        raise OSError(f"{' '.join(argv)}: {(res.stderr or res.stdout).strip()}")


def open_tun(name: str = DEVICE) -> int:
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def run(dev: str, status: Path) -> int:
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    signal.signal(signal.SIGINT, lambda *_: stop.update(now=True))
    tun = open_tun()
    _sh(["ip", "link", "set", DEVICE, "up"])
    for key in ("all", DEVICE):
        _sh(["sysctl", "-q", "-w", f"net.ipv4.conf.{key}.rp_filter=0"])
    _sh(["nft", "-f", "-"], f"table ip {NFT_TABLE} {{\n  chain input {{\n"
        "    type filter hook input priority -300; policy accept;\n"
        f"    ip protocol {IPPROTO_IPIP} drop\n  }}\n}}\n")  # fmt: skip
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IP))
    attach(sock, bpf_ip_proto(IPPROTO_IPIP))
    sock.bind((dev, ETH_P_IP))
    counts = {"unwrapped": 0, "bad": 0}

    def write_status(running: bool) -> None:
        tmp = status.with_suffix(".tmp")
        tmp.write_text(json.dumps({"running": running, "device": DEVICE, **counts}))
        tmp.replace(status)

    write_status(True)
    try:
        while not stop["now"]:
            readable, _, _ = select.select([sock], [], [], 0.5)
            if not readable:
                continue
            for _ in range(256):
                try:
                    frame = sock.recv(65536, socket.MSG_DONTWAIT)
                except (BlockingIOError, InterruptedError):
                    break
                try:
                    os.write(tun, decapsulate(frame))
                    counts["unwrapped"] += 1
                except (PacketError, OSError):
                    counts["bad"] += 1
    finally:
        with contextlib.suppress(OSError):
            _sh(["nft", "delete", "table", "ip", NFT_TABLE])
        sock.close()
        os.close(tun)
        write_status(False)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="lablb.lab.decap")
    ap.add_argument("--dev", default="eth0")
    ap.add_argument("--status", type=Path, required=True)
    args = ap.parse_args(argv)
    return run(args.dev, args.status)


if __name__ == "__main__":
    raise SystemExit(main())
