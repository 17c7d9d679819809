"""Alert mail as keepalived sends it, and the SMTP sink the lab runs to catch it. Edge.

``send_alert`` mails ``global_defs``' ``notification_email`` list from
``notification_email_from`` through ``smtp_server``, bounded by
``smtp_connect_timeout``. For the lab's safety it only talks to an SMTP server on
loopback, or, from inside a network namespace other than the machine's own (a lab host,
``ip netns exec``), on a network one of the node's interfaces is on. Anything else (a server behind
a gateway such as the seed tutorial's 192.168.200.1, or any address at all from the
machine's root namespace) is logged and skipped, never contacted.

``python -m lablb.mail --dir DIR [--bind ADDR] [--port 25]`` is the sink: a minimal SMTP
server (RFC 5321: HELO/EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) that stores each message
as ``DIR/NNNN.eml``, with the envelope in ``X-Envelope-*`` headers.
"""

from __future__ import annotations

import argparse
import json
import os
import smtplib
import socketserver
import subprocess
import threading
import time
from email.message import EmailMessage
from ipaddress import IPv4Address, IPv4Interface
from pathlib import Path

from lablb.config.model import GlobalDefs

MAX_MESSAGE = 1 << 20
SESSION_TIMEOUT = 30.0


def _root_netns() -> str | None:
    """The machine's own network namespace: PID 1's, or where the kernel's threads live
    (kthreadd, PID 2) when a container hides PID 1's."""
    for pid in (1, 2):
        try:
            if pid == 2 and Path("/proc/2/comm").read_text().strip() != "kthreadd":
                continue
            return os.readlink(f"/proc/{pid}/ns/net")
        except OSError:
            continue
    return None


def in_own_netns() -> bool:
    """In a network namespace other than the machine's own (a lab host, ``ip netns
    exec``). Unknown counts as no: then only loopback is contacted."""
    root = _root_netns()
    try:
        return root is not None and os.readlink("/proc/self/ns/net") != root
    except OSError:
        return False


def reachable_directly(addr: str) -> bool:
    """Loopback; or, inside a network namespace, on a network of one of our interfaces."""
    try:
        ip = IPv4Address(addr)
    except ValueError:
        return False
    if ip.is_loopback:
        return True
    if not in_own_netns():
        return False
    out = subprocess.run(
        ["ip", "-j", "-4", "addr", "show"], capture_output=True, text=True, timeout=5, check=False
    ).stdout
    try:
        links = json.loads(out)
    except ValueError:
        return False
    for link in links:
        for a in link.get("addr_info", []):
            net = IPv4Interface(f"{a['local']}/{a['prefixlen']}").network
            if net.prefixlen < 32 and ip in net:
                return True
    return False


def send_alert(g: GlobalDefs, subject: str, body: str) -> str:
    """Send one alert; returns what happened, for the log (never raises)."""
    if g.smtp_server is None or not g.notification_email:
        return "no smtp_server or notification_email: not sent"
    server = g.smtp_server
    if not reachable_directly(server.address):
        return (
            f"smtp_server {server.address} is neither loopback nor on a lab network of this"
            " node: not contacted"
        )
    msg = EmailMessage()
    msg["From"] = g.notification_email_from or "keepalived@localhost"
    msg["To"] = ", ".join(g.notification_email)
    msg["Subject"] = subject
    msg.set_content(body + "\n")
    try:
        with smtplib.SMTP(
            server.address,
            server.port,
            timeout=g.smtp_connect_timeout,
            local_hostname=g.smtp_helo_name or g.router_id or "lablb",
        ) as smtp:
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        return f"smtp {server.address}:{server.port}: {exc}"
    return f"sent to {', '.join(g.notification_email)} via {server.address}:{server.port}"


class _Session(socketserver.StreamRequestHandler):
    timeout = SESSION_TIMEOUT
    server: _Sink

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        self.reply("220 lablb SMTP sink")
        sender, rcpts = "", list[str]()
        while True:
            raw = self.rfile.readline(4096)
            if not raw:
                return
            cmd = raw.decode(errors="replace").strip()
            verb = cmd[:4].upper()
            if verb in ("HELO", "EHLO"):
                self.reply("250 lablb")
            elif verb == "MAIL":
                sender, rcpts = cmd.partition(":")[2].strip(), []
                self.reply("250 OK")
            elif verb == "RCPT":
                rcpts.append(cmd.partition(":")[2].strip())
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 end with <CRLF>.<CRLF>")
                lines, size = [], 0
                while True:
                    line = self.rfile.readline(65536)
                    if not line or line in (b".\r\n", b".\n"):
                        break
                    size += len(line)
                    if size <= MAX_MESSAGE:
                        lines.append(line[1:] if line.startswith(b"..") else line)
                self.server.store(sender, rcpts, b"".join(lines))
                self.reply("250 OK stored")
            elif verb == "RSET":
                sender, rcpts = "", []
                self.reply("250 OK")
            elif verb == "NOOP":
                self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 not implemented")


class _Sink(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], directory: Path) -> None:
        super().__init__(addr, _Session)
        self.directory = directory
        self.lock = threading.Lock()

    def store(self, sender: str, rcpts: list[str], data: bytes) -> None:
        with self.lock:
            n = len(list(self.directory.glob("*.eml"))) + 1
            head = f"X-Envelope-From: {sender}\r\nX-Envelope-To: {', '.join(rcpts)}\r\n"
            head += f"X-Received-At: {time.monotonic():.6f}\r\n"
            (self.directory / f"{n:04d}.eml").write_bytes(head.encode() + data)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="lablb-smtp-sink")
    p.add_argument("--dir", required=True)
    p.add_argument("--bind", default="0.0.0.0")
    p.add_argument("--port", type=int, default=25)
    args = p.parse_args(argv)
    directory = Path(args.dir)
    directory.mkdir(parents=True, exist_ok=True)
    with _Sink((args.bind, args.port), directory) as sink:
        sink.serve_forever(poll_interval=0.5)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
