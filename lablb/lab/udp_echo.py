"""A UDP echo service for a web node (``python -m lablb.lab.udp_echo --port P``): what
a UDP_CHECK with ``require_reply`` checks in the lab. Edge: one socket, one loop.

Runs until SIGTERM or SIGKILL (the lab stops it at teardown); each datagram is sent back
as it came.
"""

from __future__ import annotations

import argparse
import socket


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="lablb.lab.udp_echo")
    ap.add_argument("--port", type=int, required=True)
    args = ap.parse_args(argv)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("0.0.0.0", args.port))
        while True:
            data, peer = s.recvfrom(65535)
            s.sendto(data, peer)


if __name__ == "__main__":
    raise SystemExit(main())
