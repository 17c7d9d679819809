"""A UDP echo service for a web node (``python -m lablb.lab.udp_echo --port P``): what
a UDP_CHECK with ``require_reply`` checks in the lab. Edge: one socket, one loop.

Runs until SIGTERM or SIGKILL (the lab stops it at teardown); each datagram is sent back
as it came. ``serve`` is the loop the lab's other UDP service (the DNS server) shares.
"""

from __future__ import annotations

import argparse
import socket
from collections.abc import Callable


def serve(port: int, answer: Callable[[bytes], bytes | None]) -> None:
    """Answer each datagram to ``port`` with ``answer(datagram)`` (None: no answer)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("0.0.0.0", port))
        while True:
            data, peer = s.recvfrom(65535)
            reply = answer(data)
            if reply is not None:
                s.sendto(reply, peer)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="lablb.lab.udp_echo")
    ap.add_argument("--port", type=int, required=True)
    serve(ap.parse_args(argv).port, lambda data: data)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
