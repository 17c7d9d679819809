r"""The prober's two packets: an ICMP echo request and a bare TCP SYN, built and their
answers recognised. Pure: bytes in, bytes out; no sockets, no clock.

ICMP echo (RFC 792)::

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |     Type      |     Code      |          Checksum             |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |           Identifier          |        Sequence Number        |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |     Data: the probe's 32-bit sequence number, then padding    |

The 16-bit ICMP sequence wraps after 65 s at 1 ms, so the full probe number rides in the
data, which an echo reply returns unchanged (RFC 792).

TCP SYN (RFC 9293 section 3.1): no options, window 1024; the probe number is the
initial sequence number, so the SYN-ACK's acknowledgment number minus one names the
probe it answers. The prober's own kernel has no socket on the source port and answers
the SYN-ACK with a RST, which closes the half-open connection on the web node and in the
balancer's connection table: a probe leaves nothing behind.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from ipaddress import IPv4Address

from lablb.vrrp.packet import inet_checksum as checksum  # RFC 1071, one for lablb

ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST = 0, 8  # RFC 792
TCP_FIN, TCP_SYN, TCP_RST, TCP_ACK = 0x01, 0x02, 0x04, 0x10  # RFC 9293 section 3.1
IPPROTO_TCP = 6
ECHO_DATA = 16  # bytes of echo data: the probe number and padding
SYN_WINDOW = 1024


def echo_request(ident: int, number: int) -> bytes:
    """An ICMP echo request carrying probe ``number`` (a raw ICMP socket adds the IP
    header)."""
    data = struct.pack("!I", number & 0xFFFFFFFF).ljust(ECHO_DATA, b"\xa5")
    head = struct.pack("!BBHHH", ICMP_ECHO_REQUEST, 0, 0, ident & 0xFFFF, number & 0xFFFF)
    csum = checksum(head + data)
    return head[:2] + struct.pack("!H", csum) + head[4:] + data


ICMP6_ECHO_REQUEST, ICMP6_ECHO_REPLY = 128, 129  # RFC 4443 section 4


def echo_request6(ident: int, number: int) -> bytes:
    """An ICMPv6 echo request carrying probe ``number``; its checksum is left 0 for the
    kernel, which computes it on a raw ICMPv6 socket (RFC 3542 section 3.1)."""
    data = struct.pack("!I", number & 0xFFFFFFFF).ljust(ECHO_DATA, b"\xa5")
    return struct.pack("!BBHHH", ICMP6_ECHO_REQUEST, 0, 0, ident & 0xFFFF, number & 0xFFFF) + data


def echo6_reply_number(message: bytes, ident: int) -> int | None:
    """The probe number an ICMPv6 message (a raw ICMPv6 socket gives no IPv6 header;
    the caller checks the source) answers, if it is our echo reply."""
    if len(message) < 8 + 4:
        return None
    kind, _code, _csum, rid = struct.unpack("!BBHH", message[:6])
    if kind != ICMP6_ECHO_REPLY or rid != ident & 0xFFFF:
        return None
    return int(struct.unpack("!I", message[8:12])[0])


def ip_payload(packet: bytes) -> tuple[IPv4Address, int, bytes] | None:
    """(source, protocol, payload) of an IPv4 packet, None if it is not one."""
    if len(packet) < 20 or packet[0] >> 4 != 4:
        return None
    ihl = (packet[0] & 0x0F) * 4
    if ihl < 20 or len(packet) < ihl:
        return None
    return IPv4Address(packet[12:16]), packet[9], packet[ihl:]


def echo_reply_number(packet: bytes, ident: int, source: IPv4Address) -> int | None:
    """The probe number an IPv4 packet answers, if it is our echo reply from ``source``
    (a raw ICMP socket receives every ICMP message to the host)."""
    parsed = ip_payload(packet)
    if parsed is None:
        return None
    src, proto, icmp = parsed
    if src != source or proto != 1 or len(icmp) < 8 + 4:
        return None
    kind, _code, _csum, rid = struct.unpack("!BBHH", icmp[:6])
    if kind != ICMP_ECHO_REPLY or rid != ident & 0xFFFF:
        return None
    return int(struct.unpack("!I", icmp[8:12])[0])


@dataclass(frozen=True)
class SynProbe:
    """Where SYN probes go and come from; ports rotate over [port_low, port_high).

    Probe ``number`` carries sequence number ``isn + number``: give each prober run its
    own random ``isn``. A server whose SYN-ACK met no RST (it was lost in a failover)
    retransmits it for a minute (1, 2, 4, 8, 16 s), from the same port to the same
    port; without a run's own ISN a later run's probe of that port would take the stale
    SYN-ACK for its answer and see the service up in the middle of its outage.

    The stale half-open connection also meets any later SYN from its port (the balancer
    forwards it there, to the same web node): the node answers it at once with a bare
    ACK of the old connection (RFC 9293 3.10.7.4, out of window). That ACK is an answer
    all the same (the SYN went client, VIP, balancer, web node and back, which is what a
    probe asks), so it counts, for the latest probe sent from that port; the client's
    RST to it clears the stale connection. Runs also start at different ports
    (``run_ports``), so such meetings are rare."""

    source: IPv4Address
    target: IPv4Address
    port: int
    # Below the ephemeral range (ip_local_port_range, 32768-60999 by default): no probe
    # shares a port with a connection the client's own programs open (curl beside it).
    port_low: int = 1024
    port_high: int = 32768
    isn: int = 0
    port_offset: int = 0  # probe 0's port is port_low + port_offset (see ``run_ports``)

    def source_port(self, number: int) -> int:
        return self.port_low + (self.port_offset + number) % (self.port_high - self.port_low)

    def syn(self, number: int) -> bytes:
        """The TCP segment of probe ``number`` (a raw TCP socket adds the IP header)."""
        head = struct.pack(
            "!HHIIBBHHH",
            self.source_port(number),
            self.port,
            (self.isn + number) & 0xFFFFFFFF,
            0,
            5 << 4,
            TCP_SYN,
            SYN_WINDOW,
            0,
            0,
        )
        pseudo = self.source.packed + self.target.packed + struct.pack("!BBH", 0, 6, len(head))
        csum = checksum(pseudo + head)
        return head[:16] + struct.pack("!H", csum) + head[18:]

    def answered(self, packet: bytes, latest: int) -> int | None:
        """The probe number an IPv4 packet answers, ``latest`` the last one sent: a
        SYN-ACK acknowledging this run's sequence number of a probe sent from its port,
        or a bare ACK (no data, no FIN) to a probe's port (a stale connection's answer:
        the latest probe from that port)."""
        parsed = ip_payload(packet)
        if parsed is None:
            return None
        src, proto, tcp = parsed
        if src != self.target or proto != IPPROTO_TCP or len(tcp) < 20:
            return None
        sport, dport, _seq, ack, off, flags = struct.unpack("!HHIIBB", tcp[:14])
        if sport != self.port or not self.port_low <= dport < self.port_high:
            return None
        if flags & (TCP_SYN | TCP_ACK | TCP_RST) == TCP_SYN | TCP_ACK:
            number = (ack - 1 - self.isn) & 0xFFFFFFFF
            return number if number <= latest and self.source_port(number) == dport else None
        bare = len(tcp) == (off >> 4) * 4  # no data
        if flags & (TCP_SYN | TCP_ACK | TCP_RST | TCP_FIN) == TCP_ACK and bare:
            span = self.port_high - self.port_low
            index = (dport - self.port_low - self.port_offset) % span
            number = latest - (latest - index) % span
            return number if number >= 0 else None
        return None


def run_ports(started: float, interval: float, span: int) -> int:
    """A prober run's port offset: its start time counted in probe intervals, modulo the
    ``span`` of its ports. Ports then advance with the clock, one per interval, so runs
    that follow one another do not reuse a port for ``span * interval`` (31.7 s at 1 ms
    over 1024-32767). A half-open connection whose RSTs all went astray lives longer
    (63 s: five SYN-ACK retransmits); a probe that meets one is answered by a bare ACK,
    which counts."""
    return int(started / interval) % span
