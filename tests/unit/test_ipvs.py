"""Schedulers and the virtual service's connection table, persistence and quiescing:
pure, table-driven, on a fake clock."""

from __future__ import annotations

from collections import Counter
from ipaddress import IPv4Address

import pytest

from lablb.ipvs.sched import SCHEDULERS, Dest, MaglevHash, maglev_table, scheduler
from lablb.ipvs.service import ACK, FIN, RST, SYN, TCP, UDP, ConnState, Flow, Service

A, B, C = (IPv4Address(f"172.30.0.{n}") for n in (23, 24, 26))
VIP = IPv4Address("172.16.55.100")
CLIENTS = [IPv4Address(f"198.51.100.{n}") for n in range(1, 201)]


def dests(*spec: tuple[IPv4Address, int]) -> list[Dest]:
    return [Dest(addr, 80, weight) for addr, weight in spec]


def picks(name: str, ds: list[Dest], n: int, client: IPv4Address = CLIENTS[0]) -> list[str]:
    s = scheduler(name, VIP)
    return [str(d.addr)[-2:] if (d := s.pick(ds, client)) else "-" for _ in range(n)]


@pytest.mark.parametrize(
    ("name", "spec", "expected"),
    [
        ("rr", [(A, 1), (B, 1)], ["23", "24", "23", "24"]),
        ("rr", [(A, 1), (B, 0), (C, 1)], ["23", "26", "23", "26"]),
        ("wrr", [(A, 3), (B, 1)], ["23", "23", "23", "24", "23", "23", "23", "24"]),
        ("wrr", [(A, 2), (B, 2), (C, 0)], ["23", "24", "23", "24"]),
        ("fo", [(A, 1), (B, 5), (C, 5)], ["24", "24"]),
        ("rr", [(A, 0), (B, 0)], ["-", "-"]),
        ("wlc", [(A, 0)], ["-"]),
    ],
)
def test_stateless_order(
    name: str, spec: list[tuple[IPv4Address, int]], expected: list[str]
) -> None:
    assert picks(name, dests(*spec), len(expected)) == expected


# (scheduler, [(weight, active, inactive)] for A, B, C) -> the pick
LOAD_CASES = [
    ("lc", [(1, 2, 0), (1, 1, 5), (1, 1, 0)], "26"),  # overhead 512, 261, 256
    ("lc", [(9, 1, 0), (1, 0, 0), (0, 0, 0)], "24"),  # weight only matters as 0
    ("wlc", [(3, 3, 0), (1, 2, 0), (1, 2, 0)], "23"),  # 768/3 < 512
    ("wlc", [(1, 1, 0), (1, 0, 300), (1, 1, 0)], "23"),  # inactive weigh 1/256
    ("sed", [(1, 0, 0), (3, 1, 0), (1, 5, 0)], "24"),  # (0+1)/1 = 1 > (1+1)/3
    ("nq", [(1, 1, 0), (5, 1, 0), (1, 0, 0)], "26"),  # an idle server first
    ("nq", [(1, 1, 0), (5, 1, 0), (1, 1, 0)], "24"),  # else as sed
]


@pytest.mark.parametrize(("name", "load", "expected"), LOAD_CASES)
def test_load_aware(name: str, load: list[tuple[int, int, int]], expected: str) -> None:
    ds = [
        Dest(addr, 80, w, act, inact) for addr, (w, act, inact) in zip((A, B, C), load, strict=True)
    ]
    assert picks(name, ds, 1) == [expected]


@pytest.mark.parametrize("name", ["sh", "mh"])
def test_hashing_is_client_affine_and_weighted(name: str) -> None:
    ds = dests((A, 3), (B, 1))
    s = scheduler(name)
    first = {c: s.pick(ds, c) for c in CLIENTS}
    assert all(s.pick(ds, c) is first[c] for c in CLIENTS)  # same client, same server
    share = Counter(str(d.addr) for d in first.values() if d)
    assert 0.6 < share[str(A)] / len(CLIENTS) < 0.9  # about 3/4


def test_dh_sends_everyone_to_one_server() -> None:
    ds = dests((A, 1), (B, 1))
    s = scheduler("dh", VIP)
    assert len({s.pick(ds, c).addr for c in CLIENTS}) == 1  # type: ignore[union-attr]


def test_maglev_tables_built_independently_agree() -> None:
    """Two balancers build their tables on their own, from servers listed in a different
    order: the same client goes to the same server on both."""
    one, two = MaglevHash(), MaglevHash()
    ds1 = dests((A, 1), (B, 1), (C, 2))
    ds2 = list(reversed(dests((A, 1), (B, 1), (C, 2))))
    assert all(one.pick(ds1, c).key == two.pick(ds2, c).key for c in CLIENTS)  # type: ignore[union-attr]


def test_maglev_disruption_is_minimal() -> None:
    """Removing one of three servers moves only that server's clients (Maglev's point)."""
    before = maglev_table(dests((A, 1), (B, 1), (C, 1)), 251)
    after = maglev_table(dests((A, 1), (B, 1)), 251)
    kept = sum(1 for x, y in zip(before, after, strict=True) if x and y and x.key == y.key)
    moved_from_kept = sum(
        1 for x, y in zip(before, after, strict=True) if x and x.addr != C and y and x.key != y.key
    )
    assert kept > 251 * 0.55 and moved_from_kept < 251 * 0.1


def test_every_ipvs_scheduler_is_known() -> None:
    assert set(SCHEDULERS) == {"rr", "wrr", "lc", "wlc", "sh", "mh", "dh", "sed", "nq", "fo"}
    with pytest.raises(ValueError, match="known: rr"):
        scheduler("random")


def flow(client: IPv4Address = CLIENTS[0], cport: int = 40000, proto: int = TCP) -> Flow:
    return Flow(proto, client, cport, VIP, 80)


def service(**kw: object) -> Service:
    s = Service(VIP, 80, sched_name="rr", **kw)  # type: ignore[arg-type]
    s.set_dest(A, 80, 1)
    s.set_dest(B, 80, 1)
    return s


def test_connection_sticks_to_its_server_and_counts() -> None:
    s = service()
    first = s.packet(0.0, flow(), SYN)
    assert first.new and first.dest == (A, 80)
    assert s.packet(0.1, flow(), ACK).dest == (A, 80)
    assert s.packet(0.2, flow(cport=40001), SYN).dest == (B, 80)  # rr for a new one
    assert (s.dests[(A, 80)].active, s.dests[(B, 80)].inactive) == (1, 1)


def test_unknown_non_syn_is_dropped() -> None:
    """What a backup without connection sync does with a stream after failover."""
    d = service().packet(0.0, flow(), ACK)
    assert d.dest is None and "not a SYN" in d.reason


def test_udp_needs_no_syn() -> None:
    assert service().packet(0.0, flow(proto=UDP)).dest == (A, 80)


@pytest.mark.parametrize(
    ("flags", "state", "timeout"),
    [
        (SYN, ConnState.SYN_RECV, 60),
        (ACK, ConnState.ESTABLISHED, 900),
        (FIN | ACK, ConnState.FIN_WAIT, 120),
        (RST, ConnState.CLOSE, 10),
    ],
)
def test_tcp_states_and_timeouts(flags: int, state: ConnState, timeout: float) -> None:
    s = service()
    s.packet(0.0, flow(), SYN)
    s.packet(1.0, flow(), flags)
    conn = s.conns[flow()]
    assert conn.state is state and conn.expires == 1.0 + timeout
    assert s.expire(1.0 + timeout - 0.001) == 0
    assert s.expire(1.0 + timeout) == 1 and not s.conns
    assert s.dests[(A, 80)].active == s.dests[(A, 80)].inactive == 0


def test_quiesced_server_keeps_its_connections_but_gets_no_new_ones() -> None:
    s = service()
    s.packet(0.0, flow(), SYN)  # -> A
    s.set_dest(A, 80, 0)
    assert s.packet(1.0, flow(), ACK).dest == (A, 80)
    assert [s.packet(2.0, flow(cport=p), SYN).dest for p in (1, 2)] == [(B, 80), (B, 80)]


def test_persistence_until_expiry() -> None:
    s = service(persistence=50.0)
    assert s.packet(0.0, flow(cport=1), SYN).dest == (A, 80)
    assert s.packet(10.0, flow(cport=2), SYN).dest == (A, 80)  # rr would say B
    assert s.packet(59.9, flow(cport=3), SYN).dest == (A, 80)  # refreshed at 10.0
    s.conns.clear()
    s.expire(109.9 + 0.2)
    assert s.packet(110.0, flow(cport=4), SYN).dest == (B, 80)  # template gone


def test_persistence_does_not_send_new_connections_to_a_quiesced_server() -> None:
    s = service(persistence=50.0)
    s.packet(0.0, flow(cport=1), SYN)
    s.set_dest(A, 80, 0)
    assert s.packet(1.0, flow(cport=2), SYN).dest == (B, 80)


def test_adopted_connection_is_forwarded_like_the_masters() -> None:
    backup = service()
    backup.adopt(0.0, flow(), (B, 80), ConnState.ESTABLISHED, 900.0)
    assert backup.packet(5.0, flow(), ACK).dest == (B, 80)
    assert backup.dests[(B, 80)].active == 1


def test_nat_replies_find_their_connection_until_it_goes() -> None:
    """LVS-NAT's return half: a real server's packet finds the connection it answers
    (by real server, port, client, client port), adopted ones too; none once expired,
    and a packet that answers nothing (a health check's) finds none."""
    svc = Service(VIP, 80, TCP, "rr", answered=True)
    svc.set_dest(IPv4Address("10.0.0.11"), 8080, 1)
    flow = Flow(TCP, IPv4Address("198.51.100.2"), 40000, VIP, 80)
    assert svc.packet(0.0, flow, SYN).dest == (IPv4Address("10.0.0.11"), 8080)
    rs, client = (IPv4Address("10.0.0.11"), 8080), (IPv4Address("198.51.100.2"), 40000)
    conn = svc.reply(1.0, TCP, rs, client)
    assert conn is not None and conn.flow == flow
    assert svc.reply(1.0, TCP, rs, (IPv4Address("10.0.0.2"), 40000)) is None  # a check's
    assert svc.reply(1.0, UDP, rs, client) is None
    svc.expire(1000.0)
    assert svc.reply(1000.0, TCP, rs, client) is None and not svc.replies
    backup = Service(VIP, 80, TCP, "rr", answered=True)
    backup.adopt(5.0, flow, rs, ConnState.ESTABLISHED, 900.0)
    assert backup.reply(6.0, TCP, rs, client) is not None
    # DR and TUN never look replies up: no index is kept for them.
    direct = Service(VIP, 80, TCP, "rr")
    direct.set_dest(IPv4Address("10.0.0.11"), 8080, 1)
    direct.packet(0.0, flow, SYN)
    assert direct.conns and not direct.replies
