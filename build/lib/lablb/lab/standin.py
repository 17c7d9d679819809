"""A stand-in for the service a VRRP-only VIP fronts (HAProxy, nginx, MySQL, the
Kubernetes API) on a balancer: ``python standin.py --name haproxy --port 80``. Edge: one
listening socket, one loop; standard library only (it runs under the name it stands in
for, so it cannot count on the virtualenv: ``exec -a NAME``).

It is what the config's ``vrrp_script`` checks, as written: its process is called NAME
(``comm`` through prctl for ``killall -0``/``pgrep``, ``argv[0]`` for ``pidof``), and it
accepts TCP connections on PORT, answering an HTTP request with ``200 OK`` (``curl -f
http://localhost:PORT/healthz``; with ``--tls`` over HTTPS, the lab's self-signed
certificate: ``curl -k``) and closing anything else. The lab kills it with
SIGKILL (the service crashing) and starts it again.
"""

from __future__ import annotations

import argparse
import ctypes
import socket
import ssl

PR_SET_NAME = 15  # linux/prctl.h
REPLY = b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n"


def set_name(name: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_NAME, name.encode()[:15], 0, 0, 0)


def serve(port: int, tls: ssl.SSLContext | None = None) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", port))
        s.listen(128)
        while True:
            raw, _ = s.accept()
            raw.settimeout(0.2)
            try:
                conn = tls.wrap_socket(raw, server_side=True) if tls else raw
            except OSError:  # a bare connect (a port check), or a failed handshake
                raw.close()
                continue
            with conn:
                try:
                    first = conn.recv(4096)
                    if first[:4] in (b"GET ", b"HEAD"):
                        conn.sendall(REPLY)
                except OSError:
                    pass


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="standin")
    ap.add_argument("--name", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"), help="speak HTTPS")
    args = ap.parse_args(argv)
    set_name(args.name)
    context = None
    if args.tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*args.tls)
    serve(args.port, context)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
