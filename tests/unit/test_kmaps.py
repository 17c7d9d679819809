"""The kernel data plane's map keys and values, byte for byte as ``dr.bpf.c`` lays out
its structs."""

from __future__ import annotations

import re
from ipaddress import IPv4Address
from pathlib import Path

from lablb.ipvs.kmaps import CONN_VALUE_LEN, KernelConn, flow_key, flow_of, service_key
from lablb.ipvs.service import TCP, UDP, Flow

SOURCE = Path(__file__).resolve().parents[2] / "lablb" / "ipvs" / "dr.bpf.c"
FLOW = Flow(TCP, IPv4Address("172.16.0.10"), 40001, IPv4Address("172.16.55.100"), 80)


def test_a_flow_key_is_the_c_struct_in_network_order() -> None:
    key = flow_key(FLOW)
    assert key == bytes([172, 16, 0, 10, 172, 16, 55, 100, 0x9C, 0x41, 0, 80, 6, 0, 0, 0])
    assert flow_of(key) == FLOW


def test_a_service_key_is_vip_port_proto_and_a_pad() -> None:
    assert service_key(IPv4Address("172.16.55.100"), 53, UDP) == bytes(
        [172, 16, 55, 100, 0, 53, 17, 0]
    )


def test_a_connection_value_round_trips_in_host_order() -> None:
    conn = KernelConn(b"\x02" * 6, b"\x04" * 6, 7, last_ns=123456789, packets=3, octets=1500)
    buf = conn.encode()
    assert len(buf) == CONN_VALUE_LEN == 40
    assert buf[:12] == b"\x02" * 6 + b"\x04" * 6
    assert int.from_bytes(buf[12:16], "little") == 7
    assert KernelConn.decode(buf) == conn


def test_the_c_structs_have_the_fields_packed_here() -> None:
    """The layouts are written twice (C and Python): the field lists must agree."""
    text = SOURCE.read_text()

    def fields(name: str) -> list[str]:
        body = re.search(r"struct " + name + r" \{(.*?)\};", text, re.S)
        assert body is not None, name
        return re.findall(r"(\w+)(?:\[\d+\])?;", body.group(1))

    assert fields("flow_key") == ["client", "vip", "cport", "vport", "proto", "pad"]
    assert fields("service_key") == ["vip", "port", "proto", "pad"]
    assert fields("conn_val") == ["dmac", "smac", "ifindex", "last_ns", "packets", "bytes"]
