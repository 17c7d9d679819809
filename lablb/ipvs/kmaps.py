"""The kernel data plane's maps as bytes: keys and values of ``dr.bpf.c``'s ``services``
and ``conns``, packed and unpacked. Pure: no BPF, no sockets, no clock (the kernel's
``last_ns`` comes back as a number; what it means in the forwarder's time is the edge's
business).

Layouts, as the C structs lay them out (addresses and ports in network byte order, the
rest in the host's)::

    services  key   vip(4) port(2) proto(1) pad(1)                              8 bytes
              value forwarding(u32)                                             4 bytes
    conns     key   client(4) vip(4) cport(2) vport(2) proto(1) pad(3)         16 bytes
              value dmac(6) smac(6) ifindex(u32) last_ns(u64) packets(u64)
                    bytes(u64)                                                  40 bytes
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from ipaddress import IPv4Address

from lablb.ipvs.service import Flow

_SERVICE_KEY = struct.Struct("!4sHBx")
_FLOW_KEY = struct.Struct("!4s4sHHB3x")
_CONN = struct.Struct("=6s6sIQQQ")
CONN_VALUE_LEN = _CONN.size


def service_key(vip: IPv4Address, port: int, proto: int) -> bytes:
    return _SERVICE_KEY.pack(vip.packed, port, proto)


def service_value(forwarding: bool) -> bytes:
    return struct.pack("=I", int(forwarding))


def flow_key(flow: Flow) -> bytes:
    return _FLOW_KEY.pack(flow.client.packed, flow.vip.packed, flow.cport, flow.vport, flow.proto)


def flow_of(key: bytes) -> Flow:
    client, vip, cport, vport, proto = _FLOW_KEY.unpack(key)
    return Flow(proto, IPv4Address(client), cport, IPv4Address(vip), vport)


@dataclass(frozen=True)
class KernelConn:
    """One connection as the kernel forwards it: to ``dmac`` from ``smac`` out of
    ``ifindex``; ``last_ns`` (``bpf_ktime_get_ns``, CLOCK_MONOTONIC) of the last packet
    it forwarded, 0 before the first; how many packets and octets (IP length) it did."""

    dmac: bytes
    smac: bytes
    ifindex: int
    last_ns: int = 0
    packets: int = 0
    octets: int = 0

    def encode(self) -> bytes:
        return _CONN.pack(self.dmac, self.smac, self.ifindex, self.last_ns, self.packets,
                          self.octets)  # fmt: skip

    @classmethod
    def decode(cls, buf: bytes) -> KernelConn:
        return cls(*_CONN.unpack(buf[: _CONN.size]))
