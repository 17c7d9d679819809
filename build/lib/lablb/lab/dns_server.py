"""The lab's DNS server for a web node (``python -m lablb.lab.dns_server --port P``):
what a DNS_CHECK checks in the lab. Edge: one socket, one loop (``udp_echo.serve``).

Authoritative for nothing and answering everything: each query gets NOERROR with its
question and no records (``lablb.checker.dns.answer``), which is all keepalived's
DNS_CHECK asks of a server; a datagram that is not a query is dropped. Runs until
SIGTERM or SIGKILL (the lab stops it at teardown).
"""

from __future__ import annotations

import argparse

from lablb.checker.dns import answer
from lablb.errors import PacketError
from lablb.lab.udp_echo import serve


def reply(query: bytes) -> bytes | None:
    try:
        return answer(query)
    except PacketError:
        return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="lablb.lab.dns_server")
    ap.add_argument("--port", type=int, required=True)
    serve(ap.parse_args(argv).port, reply)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
