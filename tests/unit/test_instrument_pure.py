"""The failover instrument with no lab: probe packets against scapy, the outage model on
recorded logs, the capture reader on scapy-written pcaps, the timeline, the bounds and
the judged trial."""

from __future__ import annotations

import dataclasses
import struct
from ipaddress import IPv4Address, IPv4Interface, ip_interface
from pathlib import Path

import pytest
from scapy.layers.inet import ICMP, IP, TCP
from scapy.layers.l2 import ARP, Ether
from scapy.layers.vrrp import VRRPv3
from scapy.utils import wrpcap

from lablb.config.model import VirtualAddress
from lablb.measure import bounds as B
from lablb.measure.failover import Lan, Window, judge
from lablb.measure.outage import ProbeLog, find_gaps, outage, summary
from lablb.measure.pcap import Frame, read_frames
from lablb.measure.timeline import confirmation, responders, runs, takeover
from lablb.probe.packets import (
    SynProbe,
    checksum,
    echo_reply_number,
    echo_request,
    run_ports,
)
from lablb.vrrp import netlink

CLIENT, VIP = IPv4Address("198.51.100.11"), IPv4Address("172.30.0.22")
LB01, LB02, WEB01 = "0a:00:00:00:00:20", "0a:00:00:00:00:21", "0a:00:00:00:00:23"


# -- probe packets ----------------------------------------------------------------------
def test_echo_request_is_a_valid_icmp_echo_carrying_the_probe_number() -> None:
    wire = echo_request(0x1234, 70000)
    pkt = ICMP(wire)
    assert pkt.type == 8 and pkt.id == 0x1234 and pkt.seq == 70000 & 0xFFFF
    assert checksum(wire) == 0  # the checksum field makes the sum come out right
    assert struct.unpack("!I", bytes(pkt.payload)[:4])[0] == 70000


def test_echo_reply_number_only_for_our_identifier_and_source() -> None:
    data = struct.pack("!I", 70000) + b"\xa5" * 12
    reply = bytes(IP(src=str(VIP), dst=str(CLIENT)) / ICMP(type=0, id=0x1234, seq=4464) / data)
    assert echo_reply_number(reply, 0x1234, VIP) == 70000
    assert echo_reply_number(reply, 0x4321, VIP) is None
    assert echo_reply_number(reply, 0x1234, IPv4Address("172.30.0.21")) is None
    assert echo_reply_number(b"\x45garbage", 0x1234, VIP) is None


def test_syn_probe_round_trip_through_scapy() -> None:
    probe = SynProbe(CLIENT, VIP, 80)
    seg = probe.syn(123456)
    pkt = TCP(seg)
    assert pkt.flags == "S" and pkt.seq == 123456 and pkt.dport == 80
    assert pkt.sport == probe.source_port(123456)
    # The checksum covers the pseudo-header: scapy, given the addresses, agrees.
    full = IP(src=str(CLIENT), dst=str(VIP)) / TCP(seg)
    again = IP(bytes(IP(src=str(CLIENT), dst=str(VIP)) / TCP(seg, chksum=None)))
    assert full[TCP].chksum == again[TCP].chksum
    answer = IP(src=str(VIP), dst=str(CLIENT)) / TCP(
        sport=80, dport=pkt.sport, flags="SA", seq=999, ack=123457
    )
    assert probe.answered(bytes(answer), latest=123456) == 123456
    assert probe.answered(bytes(answer), latest=123455) is None  # not sent yet
    rst = IP(src=str(VIP), dst=str(CLIENT)) / TCP(sport=80, dport=pkt.sport, flags="R")
    assert probe.answered(bytes(rst), latest=123456) is None


def test_a_stale_syn_ack_of_an_earlier_run_answers_no_probe_of_this_one() -> None:
    """Seen in the lab: the RST to a SYN-ACK was lost in a failover, the web node
    retransmitted the SYN-ACK 15 s later, and the next trial's probe from the same port
    took it for its answer, 343 ms into a 3.3 s outage. Each run has its own ISN."""
    earlier, now = SynProbe(CLIENT, VIP, 80, isn=7), SynProbe(CLIENT, VIP, 80, isn=0xFFFFFF00)
    seg = TCP(now.syn(505))
    assert seg.seq == (0xFFFFFF00 + 505) & 0xFFFFFFFF and seg.sport == earlier.source_port(505)

    def syn_ack(probe: SynProbe, n: int, port: int | None = None) -> bytes:
        ack = (probe.isn + n + 1) & 0xFFFFFFFF
        dport = probe.source_port(n) if port is None else port
        tcp = TCP(sport=80, dport=dport, flags="SA", ack=ack)
        return bytes(IP(src=str(VIP), dst=str(CLIENT)) / tcp)

    assert now.answered(syn_ack(now, 505), 600) == 505  # wraps past 2**32
    assert earlier.answered(syn_ack(earlier, 505), 600) == 505
    assert now.answered(syn_ack(earlier, 505), 600) is None  # same port, the other run's ISN
    assert now.answered(syn_ack(now, 505, port=now.source_port(506)), 600) is None


def test_a_stale_connections_bare_ack_answers_the_latest_probe_from_its_port() -> None:
    """Seen in the lab: a probe's SYN met a half-open connection an earlier run left at
    the web node; the node answered with a bare ACK of that connection (out of window).
    The SYN made the whole trip, so that is the answer of the latest probe from the
    port; a RST is not, nor is an ACK before any probe from the port was sent."""
    probe = SynProbe(CLIENT, VIP, 80, isn=1234, port_offset=31740)
    port = probe.source_port(31749)  # ports come round every 31744 probes
    assert port == probe.source_port(5) == 1024 + (31740 + 5) % 31744

    def reply(flags: str) -> bytes:
        tcp = TCP(sport=80, dport=port, flags=flags, seq=77, ack=3_000_000_000)
        return bytes(IP(src=str(VIP), dst=str(CLIENT)) / tcp)

    assert probe.answered(reply("A"), latest=31760) == 31749
    assert probe.answered(reply("A"), latest=31748) == 5
    assert probe.answered(reply("A"), latest=4) is None
    data = IP(src=str(VIP), dst=str(CLIENT)) / TCP(sport=80, dport=port, flags="A") / b"mp4"
    assert probe.answered(bytes(data), latest=31760) is None  # a download's segment
    assert probe.answered(reply("FA"), latest=31760) is None
    assert probe.answered(reply("R"), latest=31760) is None
    assert probe.answered(reply("RA"), latest=31760) is None
    other = IP(src="172.30.0.99", dst=str(CLIENT)) / TCP(sport=80, dport=port, flags="A")
    assert probe.answered(bytes(other), latest=31760) is None  # not the target


def test_runs_that_follow_one_another_probe_from_other_ports() -> None:
    """The same lab: the probe at each trial's fault was number ~500, from the same port,
    whose half-open connection from the trial before swallowed it (a lost probe just
    before the fault, a split gap). Ports advance with the clock instead."""
    interval, n = 0.001, 5000  # a trial: 5 s of probes at 1 ms

    span = SynProbe.port_high - SynProbe.port_low

    def ports(started: float) -> set[int]:
        p = SynProbe(CLIENT, VIP, 80, port_offset=run_ports(started, interval, span))
        return {p.source_port(i) for i in range(n)}

    t0 = 1796622134.012
    first = ports(t0)
    assert len(first) == n and max(first) < 32768  # below the client's ephemeral ports
    assert not first & ports(t0 + n * interval + 0.02)  # the next trial
    assert not first & ports(t0 + 26.0)  # any run within span * interval (31.7 s)
    assert first & ports(t0 + 31.744)  # then the ports come round again


# -- the outage model --------------------------------------------------------------------
def log(lost: range, n: int = 100, interval: float = 0.001, t0: float = 100.0) -> ProbeLog:
    sent = tuple((i, t0 + i * interval) for i in range(n))
    answered = {i: t + 0.0001 for i, t in sent if i not in lost}
    return ProbeLog("icmp", str(VIP), interval, sent, answered)


def test_a_gap_is_estimated_from_the_sends_around_it() -> None:
    gaps = find_gaps(log(range(40, 60)), 100.0, 100.1)
    assert len(gaps) == 1
    g = gaps[0]
    assert g.lost == 20 and g.first_lost == 40 and g.last_lost == 59
    assert g.seconds == pytest.approx(0.020)  # 20 probes of 1 ms
    assert g.resolution == pytest.approx(0.001)
    assert g.last_answer_before == pytest.approx(100.0391)


def test_every_gap_is_kept_and_only_the_faults_is_judged() -> None:
    o = outage(_two_gaps(), 100.040, 100.0, 100.1, 0.030)
    assert len(o.gaps) == 2
    assert o.judged is not None and o.judged.first_lost == 40
    assert len(o.unexplained) == 1 and o.unexplained[0].first_lost == 10
    assert o.total_s == pytest.approx(0.022) and o.longest_s == pytest.approx(0.020)
    assert any("does not explain" in p for p in o.problems())


def _two_gaps() -> ProbeLog:
    lost = set(range(10, 12)) | set(range(40, 60))
    sent = tuple((i, 100.0 + i * 0.001) for i in range(100))
    return ProbeLog("icmp", "x", 0.001, sent, {i: t for i, t in sent if i not in lost})


def test_an_outage_that_never_ends_is_never_zero() -> None:
    o = outage(log(range(50, 100)), 100.050, 100.0, 100.1, 1.0)
    assert o.never_recovered and o.seconds is None and o.longest_s is None
    assert any("never recovered" in p for p in o.problems())


def test_nothing_lost_is_an_outage_seen_to_be_zero() -> None:
    o = outage(log(range(0)), 100.050, 100.0, 100.1, 1.0)
    assert o.seconds == 0.0 and o.judged is None and o.problems() == []


def test_a_probe_with_no_answer_before_the_fault_fails() -> None:
    o = outage(log(range(0, 100)), 100.050, 100.0, 100.1, 1.0)
    assert any("no answer before the fault" in p for p in o.problems())


# -- the capture ----------------------------------------------------------------------
def frames_of(tmp: Path, packets: list[object]) -> list:  # type: ignore[type-arg]
    path = tmp / "c.pcap"
    wrpcap(str(path), packets)
    frames, _ = read_frames(path.read_bytes())
    return frames


def advert(mac: str, src: str, prio: int, t: float) -> Ether:
    pkt = (
        Ether(src=mac, dst="01:00:5e:00:00:12")
        / IP(src=src, dst="224.0.0.18", ttl=255)
        / (VRRPv3(vrid=51, priority=prio, ipcount=1, addrlist=[str(VIP)]))
    )
    pkt.time = t
    return pkt


def test_pcap_frames_keep_what_the_timeline_needs(tmp_path: Path) -> None:
    garp = Ether(src=LB02, dst="ff:ff:ff:ff:ff:ff") / ARP(
        hwsrc=LB02, psrc=str(VIP), pdst=str(VIP), op=1
    )
    garp.time = 2.0
    echo = (
        Ether(src=LB01)
        / IP(src=str(VIP), dst=str(CLIENT))
        / ICMP(type=0, id=7, seq=3)
        / (struct.pack("!I", 70003) + bytes(12))
    )
    echo.time = 3.0
    synack = (
        Ether(src=WEB01)
        / IP(src="172.16.55.100", dst=str(CLIENT))
        / TCP(sport=80, dport=20003, flags="SA", ack=70004)
    )
    synack.time = 4.0
    syn = Ether(src=LB01) / IP(src=str(CLIENT), dst="172.16.55.100") / TCP(sport=20004, dport=80)
    syn.time = 5.0
    frames = frames_of(
        tmp_path, [advert(LB01, "172.30.0.20", 100, 1.0), garp, echo, synack, syn]
    )
    kinds = [(f.kind, f.src_mac) for f in frames]
    assert kinds == [
        ("advert", LB01), ("garp", LB02), ("echo-reply", LB01), ("syn-ack", WEB01), ("syn", LB01)
    ]  # fmt: skip
    assert frames[4].src_ip == f"{CLIENT}:20004" and frames[4].port == 80
    assert frames[0].priority == 100 and frames[0].vrid == 51 and frames[0].t == 1.0
    assert frames[2].number == 70003 and frames[2].ident == 7
    assert frames[3].number == 70003 and frames[3].port == 20003
    who = responders(frames, 7, {LB01: "lb01", WEB01: "web01"})
    assert who == {"icmp": {70003: "lb01"}, "tcp": {70003: "web01"}}


def test_a_record_cut_short_is_left_for_the_next_read(tmp_path: Path) -> None:
    path = tmp_path / "c.pcap"
    wrpcap(
        str(path), [advert(LB01, "172.30.0.20", 100, 1.0), advert(LB01, "172.30.0.20", 100, 2.0)]
    )
    data = path.read_bytes()
    frames, offset = read_frames(data[:-5])
    assert len(frames) == 1
    more, end = read_frames(data, offset)
    assert [f.t for f in more] == [2.0] and end == len(data)


def test_takeover_is_last_old_advert_to_first_new_one(tmp_path: Path) -> None:
    frames = frames_of(
        tmp_path,
        [
            advert(LB01, "172.30.0.20", 100, 10.0),
            advert(LB01, "172.30.0.20", 100, 10.01),  # sent just after the fault instant
            advert(LB02, "172.30.0.21", 99, 10.0465),
        ],
    )
    tk = takeover(frames, "172.30.0.20", {LB02: "172.30.0.21"}, graceful=False, vrid=51)
    assert tk.new == "172.30.0.21" and tk.seconds == pytest.approx(0.0365)
    ok, seen = confirmation(frames, {LB01}, "172.30.0.20", "silent", after=10.005)
    assert not ok and seen == pytest.approx(10.01)


def test_graceful_takeover_counts_from_the_goodbye(tmp_path: Path) -> None:
    frames = frames_of(
        tmp_path,
        [
            advert(LB01, "172.30.0.20", 100, 10.0),
            advert(LB01, "172.30.0.20", 0, 10.002),
            advert(LB02, "172.30.0.21", 99, 10.0081),
        ],
    )
    tk = takeover(frames, "172.30.0.20", {LB02: "172.30.0.21"}, graceful=True, vrid=51)
    assert tk.reference == pytest.approx(10.002) and tk.seconds == pytest.approx(0.0061)
    assert confirmation(frames, {LB01}, "172.30.0.20", "goodbye", after=10.001)[0]


def test_runs_break_at_a_lost_probe_and_a_new_host() -> None:
    answered = [(1, 1.0), (2, 1.001), (5, 1.004), (6, 1.005)]
    who = {1: "lb01", 2: "lb01", 5: "lb01", 6: "lb02"}
    assert runs(answered, who, 1.0) == [
        [0.0, 0.001, "lb01"],
        [0.004, 0.004, "lb01"],
        [0.005, 0.005, "lb02"],
    ]


# -- bounds ---------------------------------------------------------------------------
def test_slack_is_derived_from_the_engines_and_the_cpus() -> None:
    assert B.sched_quantum(1) == pytest.approx(0.75e-3)
    assert B.sched_quantum(2) == pytest.approx(1.5e-3)
    assert B.sched_quantum(64) == pytest.approx(3.0e-3)  # at most 8 CPUs count
    s = B.Slack.of(["lablb", "keepalived"], 2)
    # lablb's select() may fire 50 us late (its timer slack, lablb.vrrp.timers);
    # keepalived's timerfd 1 us (its microsecond timers).
    # keepalived restarts master_down on its own clock when it reads an advert
    # (vrrp_init_instance_sands: set_time_now), so the wake-up that reads it adds one
    # quantum to every takeover; lablb takes the kernel's receive stamp.
    assert s.epsilon == pytest.approx(1.55e-3 + 1.5e-3) and "own clock" in s.explain()
    assert s.fire == pytest.approx(1.55e-3)  # a timer no advert started: a restart
    k = B.Slack.of(["keepalived"], 2)
    assert k.read == pytest.approx(1.5e-3) and k.epsilon == pytest.approx(3.001e-3)
    own = B.Slack.of(["lablb"], 2)
    assert own.read == 0 and own.epsilon == own.fire == pytest.approx(1.55e-3)
    assert "quantum" in own.explain() and "own clock" not in own.explain()
    t = B.Timing(master_down=0.0361, skew=0.0061, advert_int=0.01)
    assert B.takeover("graceful", t, k)[1] - B.takeover("graceful", t, own)[1] == (
        pytest.approx(1.5e-3 - 49e-6)
    )
    assert B.preempt(t, k, 0.2)[1] == pytest.approx(0.2 + 0.0361 + k.fire)


def test_bounds_come_from_the_timers() -> None:
    t = B.Timing(master_down=0.0361, skew=0.0061, advert_int=0.01)  # v3, prio 99, 10 ms
    s = B.Slack(timer=1e-6, quantum=1.5e-3)
    low, high = B.takeover("crash", t, s)
    assert low == pytest.approx(0.0361, abs=1e-6) and high == pytest.approx(
        0.0361 + s.epsilon, abs=1e-6
    )
    assert B.takeover("graceful", t, s)[0] == pytest.approx(0.0061, abs=1e-6)
    low, high = B.client_outage("crash", t, s, 0.001)
    assert low == pytest.approx(0.0361 - 0.01 - s.epsilon - 0.001)
    assert high == pytest.approx(0.0361 + s.epsilon + s.quantum + 0.001)
    assert B.client_outage("graceful", t, s, 0.001)[0] > 0  # the protocol sets a minimum
    assert B.client_outage("freeze", t, s, 0.001) == (0.0, 0.001)
    assert B.service_outage("crash", t, s, 0.001)[1] == pytest.approx(high + s.quantum)
    low, high = B.preempt(t, s, started_s=0.3)
    assert low == pytest.approx(0.0361, abs=1e-6) and high == pytest.approx(0.3361 + s.epsilon)


# -- a whole trial, judged ----------------------------------------------------------------
def test_a_crash_trial_judged_end_to_end(tmp_path: Path) -> None:
    fault_at = 100.0500
    sent = tuple((i, 100.0 + i * 0.001) for i in range(200))
    lost = set(range(51, 87))  # 36 ms without answers

    def probe(kind: str) -> ProbeLog:
        return ProbeLog(kind, "x", 0.001, sent, {i: t + 1e-4 for i, t in sent if i not in lost})

    frames = frames_of(
        tmp_path,
        [
            advert(LB01, "172.30.0.20", 100, 100.045),
            advert(LB02, "172.30.0.21", 99, 100.045 + 0.0362),
        ],
    )
    window = Window(
        "crash",
        "silent",
        fault_at - 1e-4,
        fault_at,
        100.0,
        100.19,
        {"icmp": probe("icmp"), "tcp": probe("tcp")},
        7,
        frames,
    )
    lan = Lan({LB01: "lb01", LB02: "lb02"}, {"lb01": "172.30.0.20", "lb02": "172.30.0.21"}, 51)
    t = B.Timing(0.0361, 0.0061, 0.01)
    trial = judge(window, "lb01", lan, t, B.Slack(1e-6, 1.5e-3))
    assert trial.problems == [], trial.problems
    assert trial.data["new_master"] == "lb02" and trial.data["fault_confirmed"] is True
    assert trial.measured["takeover_s"] == pytest.approx(0.0362, abs=1e-6)
    outage = trial.measured["outage_s"]
    assert outage == pytest.approx(0.036, abs=1e-6)
    low, high = trial.bounds["outage_s"]
    assert outage is not None and low <= outage <= high
    # A VRRP-only cluster (no virtual_server) probes its VIP alone: judged on it, with
    # nothing missing; a probe that was expected and did not run still fails it.
    icmp_only = dataclasses.replace(window, probes={"icmp": window.probes["icmp"]})
    alone = judge(dataclasses.replace(icmp_only, expected=("icmp",)), "lb01", lan, t,
                  B.Slack(1e-6, 1.5e-3))  # fmt: skip
    assert alone.problems == [] and "service_outage_s" not in alone.measured
    missing = judge(icmp_only, "lb01", lan, t, B.Slack(1e-6, 1.5e-3))
    assert missing.problems == ["no tcp probe ran"]
    # CI's notebook: the TCP probes were lost from 4 ms before the crash; the capture
    # shows the router delivering those SYNs to lb01 and lb01 passing none of them on.
    tcp_lost = set(range(46, 87))
    held = ProbeLog("tcp", "x", 0.001, sent, {i: t + 1e-4 for i, t in sent if i not in tcp_lost})
    syns = [Frame(t + 5e-5, "02:00:00:00:00:fe", "syn", f"{CLIENT}:{i}") for i, t in sent[:51]]
    syns += [Frame(t + 8e-5, LB01, "syn", f"{CLIENT}:{i}") for i, t in sent[:46]]
    early = dataclasses.replace(
        window,
        probes={"icmp": window.probes["icmp"], "tcp": held},
        frames=sorted([*frames, *syns], key=lambda f: f.t),
    )
    trial = judge(early, "lb01", lan, t, B.Slack(1e-6, 1.5e-3))
    assert trial.measured["service_outage_s"] == pytest.approx(0.041, abs=1e-6)
    assert len(trial.problems) == 1 and "its loss began 2.80 ms before" in trial.problems[0]
    assert trial.disturbed == [
        "lb01: its forwarder passed on no client SYN in the 3.85 ms before the fault"
        " (4 delivered to it), the bounds allow a wake-up 1.50 ms"
    ]
    assert judge(window, "lb01", lan, t, B.Slack(1e-6, 1.5e-3)).disturbed == []


# -- rtnetlink for the VIPs -----------------------------------------------------------------
def test_address_message_is_what_ip_addr_would_send() -> None:
    vip = VirtualAddress(IPv4Interface("172.30.0.22/24"), dev="eth0", label="eth0:0")
    msg = netlink.address_message(vip, index=3, add=True, seq=9)
    length, kind, flags, seq, _pid = struct.unpack("=IHHII", msg[:16])
    assert length == len(msg) and kind == netlink.RTM_NEWADDR and seq == 9
    assert flags & netlink.NLM_F_ACK and flags & netlink.NLM_F_CREATE
    family, prefix, _f, scope, index = struct.unpack("=BBBBI", msg[16:24])
    assert (family, prefix, scope, index) == (2, 24, 0, 3)
    assert VIP.packed in msg and b"eth0:0\0" in msg
    gone = netlink.address_message(vip, 3, add=False, seq=10)
    assert struct.unpack("=H", gone[4:6])[0] == netlink.RTM_DELADDR and b"eth0:0" not in gone
    ack = struct.pack("=IHHII", 36, netlink.NLMSG_ERROR, 0, 9, 0) + struct.pack("=i", -17)
    assert netlink.ack_errno(ack + bytes(16), 9) == 17 and netlink.ack_errno(ack, 8) is None


def test_address_events_read_what_the_kernel_announces() -> None:
    # The kernel's announcements have the requests' layout; a link message between them,
    # an IPv6 address and a truncated tail are read past.
    v4 = VirtualAddress(IPv4Interface("10.20.0.200/24"), dev="eth0")
    v6 = VirtualAddress(ip_interface("fd00::200/64"), dev="eth0")
    link = struct.pack("=IHHII", 20, 16, 0, 0, 0) + bytes(4)
    data = (netlink.address_message(v4, 2, add=True, seq=0) + link
            + netlink.address_message(v6, 2, add=True, seq=0)
            + netlink.address_message(v4, 2, add=False, seq=0))  # fmt: skip
    events = [(True, v4.ip), (True, v6.ip), (False, v4.ip)]
    assert netlink.address_events(data) == events
    assert netlink.address_events(data + data[:30]) == events
    assert netlink.address_events(b"") == [] and netlink.address_events(link) == []


def test_a_probe_in_flight_when_the_fault_hit_belongs_to_its_gap() -> None:
    # Answers take 3 ms (a busy forwarder): the probe sent 2 ms before the fault was
    # still on its way, so the gap it starts is the fault's, not an unexplained one.
    sent = tuple((i, 100.0 + i * 0.001) for i in range(100))
    lost = set(range(48, 80))
    answered = {i: t + 0.003 for i, t in sent if i not in lost}
    o = outage(ProbeLog("tcp", "x", 0.001, sent, answered), 100.050, 100.0, 100.1, 0.05)
    assert o.judged is not None and o.judged.first_lost == 48 and not o.unexplained


def test_a_fault_acts_anywhere_in_its_kernel_call() -> None:
    # The port-down ioctl ran from 100.0475 to 100.0500 (an RCU grace period): traffic
    # stopped at its start. That gap is the fault's; judged from ``after`` alone it
    # would have begun before the fault could cause it (0.9 ms beyond the one interval
    # and 0.1 ms in flight allowed) and failed.
    sent = tuple((i, 100.0 + i * 0.001) for i in range(100))
    lost = set(range(48, 80))
    answered = {i: t + 1e-4 for i, t in sent if i not in lost}
    log = ProbeLog("icmp", "x", 0.001, sent, answered)
    assert outage(log, 100.0500, 100.0, 100.1, 0.05).began_early == pytest.approx(0.0009)
    o = outage(log, 100.0500, 100.0, 100.1, 0.05, fault_from=100.0475)
    assert o.judged is not None and o.judged.first_lost == 48 and not o.unexplained
    assert o.began_early == 0.0 and o.problems() == []


def test_a_link_counts_as_running_only_when_the_kernel_says_so() -> None:
    """``Running`` waits for this: an RTM_NEWLINK with IFF_RUNNING for the interface,
    the instant its VRRP instance may leave FAULT; an admin-up without carrier, a
    deleted link or a truncated message is not it."""
    from lablb.lab.kernel import IFF_RUNNING, IFF_UP, RTM_NEWLINK, running_links

    def msg(kind: int, index: int, flags: int, pad: int = 0) -> bytes:
        body = struct.pack("=BxHiII", 0, 1, index, flags, 0xFFFFFFFF) + b"\0" * pad
        head = struct.pack("=IHHII", 16 + len(body), kind, 0, 0, 0)
        return head + body + b"\0" * (-len(body) % 4)

    up_no_carrier = msg(RTM_NEWLINK, 6, IFF_UP)
    running = msg(RTM_NEWLINK, 5, IFF_UP | IFF_RUNNING, pad=3)  # padded to 4 bytes
    deleted = msg(17, 7, IFF_UP | IFF_RUNNING)  # RTM_DELLINK
    assert running_links(up_no_carrier + running + deleted) == {5}
    assert running_links(up_no_carrier) == set()
    assert running_links(running[:20]) == set()  # cut short: not read as running


def test_a_gap_that_began_before_the_fault_is_judged_as_seen_and_fails() -> None:
    # CI's notebook: the TCP probes stopped being answered 4 ms before the crash (its
    # answers took 0.1 ms) and stayed lost until the backup took over: one gap of 32
    # probes that the fault's window did not admit, so the outage read as none ("0.0000
    # s") beside "a gap ... the fault does not explain". It is the fault's gap, seen.
    sent = tuple((i, 100.0 + i * 0.001) for i in range(100))
    lost = set(range(46, 78))
    answered = {i: t + 1e-4 for i, t in sent if i not in lost}
    o = outage(ProbeLog("tcp", "x", 0.001, sent, answered), 100.050, 100.0, 100.1, 0.05)
    assert o.judged is not None and o.judged.first_lost == 46 and not o.unexplained
    assert o.seconds == pytest.approx(0.032)
    # The fault can hold what was sent from 100.0489 on (one interval, 0.1 ms in flight).
    assert o.began_early == pytest.approx(0.0029)
    (problem,) = o.problems()
    assert "loss began 2.90 ms before the fault could have caused it" in problem
    assert summary(o, 100.050)["began_early_s"] == pytest.approx(0.0029)
    # A probe in flight is not early; nor is a gap that began at the fault.
    on_time = outage(log(range(50, 80)), 100.050, 100.0, 100.1, 0.05)
    assert on_time.began_early == 0.0 and "began_early_s" not in summary(on_time, 100.050)


def test_a_gap_over_before_the_fault_could_act_is_not_the_faults() -> None:
    # Lost and answered again before the fault: unexplained, whatever follows.
    o = outage(log(range(40, 45)), 100.050, 100.0, 100.1, 0.05)
    assert o.judged is None and len(o.unexplained) == 1 and o.began_early == 0.0
