"""The lab's DNS server for a web node (``python -m lablb.lab.dns_server --port P``):
what a DNS_CHECK checks in the lab. Edge: one socket, one loop.

Authoritative for nothing and answering everything: each query gets NOERROR with its
question and no records (``lablb.checker.dns.answer``), which is all keepalived's
DNS_CHECK asks of a server; a datagram that is not a query is dropped. Runs until
SIGTERM or SIGKILL (the lab stops it at teardown).
"""

from __future__ import annotations

import argparse
import socket

from lablb.checker.dns import answer
from lablb.errors import PacketError


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="lablb.lab.dns_server")
    ap.add_argument("--port", type=int, required=True)
    args = ap.parse_args(argv)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("0.0.0.0", args.port))
        while True:
            data, peer = s.recvfrom(65535)
            try:
                s.sendto(answer(data), peer)
            except PacketError:
                continue


if __name__ == "__main__":
    raise SystemExit(main())
