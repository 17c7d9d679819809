"""VRRP on the seed lab with the corrected configs: lablb's engine, the real keepalived,
and the mixed pair in both roles. A client probes the VIP every millisecond (lablb's
prober, kernel timestamps); every bound below is computed from the keepalived.conf
files and the derived slack of ``lablb.measure.bounds``, none is typed in. Where a
transition is seen by polling the nodes, the poll's own bracket is the resolution."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path

import pytest

from lablb.config.load import load
from lablb.config.model import v4
from lablb.lab.balancer import VrrpNode, engines_for, start_vrrp
from lablb.lab.faults import Fault, fault
from lablb.lab.net import Lab, LabSpec
from lablb.lab.probe import Prober
from lablb.lab.registry import get
from lablb.lab.trials import IN_FLIGHT_S
from lablb.measure import bounds as B
from lablb.measure.outage import Outage, outage
from lablb.vrrp.engine import params_of
from lablb.vrrp.fsm import Router
from tests.conftest import SEED, wait_for
from tests.lab.leftovers import Snapshot, snapshot

PROBE_INTERVAL = 0.001
WAIT = 5.0  # beyond any bound here: only how long a failing test waits before it fails
PRIMARY = {"lb01": IPv4Address("172.30.0.20"), "lb02": IPv4Address("172.30.0.21")}
PAIRS = ["lablb", "keepalived", "lb01=lablb,lb02=keepalived", "lb01=keepalived,lb02=lablb"]


@dataclass(frozen=True)
class Timing:
    """One node's VRRP timers, as its keepalived.conf implies them."""

    master_down: float
    skew: float
    advert_int: float
    vip: IPv4Address


def timing(conf: Path, node: str) -> Timing:
    cfg = load(str(conf))
    inst = cfg.vrrp_instances[0]
    r = Router(params_of(cfg, inst, PRIMARY[node]))
    return Timing(r.master_down_interval(), r.skew_time(), inst.advert_int, v4(inst.vips[0]))


def holders(nodes: dict[str, VrrpNode], vip: IPv4Address) -> list[str]:
    return sorted(n for n, node in nodes.items() if node.holds(vip))


def slack(nodes: dict[str, VrrpNode]) -> B.Slack:
    return B.Slack.of([n.engine.name for n in nodes.values()], os.cpu_count() or 1)


def bt(t: Timing) -> B.Timing:
    return B.Timing(t.master_down, t.skew, t.advert_int)


def until_holders(
    nodes: dict[str, VrrpNode],
    vip: IPv4Address,
    want: list[str],
    timeout: float = WAIT,
    quiet: float = 0.0,
) -> tuple[float, float]:
    """Poll until ``want`` hold the VIP; the bracket (CLOCK_REALTIME) in which it
    happened: after the start of the last poll that did not see it, before the end of
    the one that did. Each poll spawns `ip` in the nodes, so a test sleeps through
    ``quiet`` seconds first: polls must not compete with the timer being measured."""
    t0 = time.time()
    last_start = t0
    time.sleep(quiet)
    while time.time() - t0 < timeout:
        start = time.time()
        if holders(nodes, vip) == want:
            return last_start, time.time()
        last_start = start
        time.sleep(0.01)
    raise AssertionError(f"{want} did not hold {vip} within {timeout} s")


def within(bracket: tuple[float, float], origin: float, bound: tuple[float, float]) -> bool:
    """Can the instant in ``bracket`` lie ``bound`` seconds after ``origin``?"""
    return bracket[0] - origin <= bound[1] and bracket[1] - origin >= bound[0]


@pytest.fixture
def seed_lab(before: Snapshot) -> Iterator[Lab]:
    with Lab(LabSpec(get("seed"))) as lab:
        yield lab
    after = snapshot()
    assert after.lab_processes == before.lab_processes, "a daemon outlived the lab"
    assert after.netns == before.netns


def elect(lab: Lab, engines: str, configs: Path = SEED) -> tuple[dict[str, VrrpNode], Timing]:
    nodes = start_vrrp(lab, configs, engines_for(engines, get("seed").balancers))
    t1 = timing(configs / "lb01.conf", "lb01")
    # Both start as backups; lb01 (higher priority) wins after its master-down interval.
    wait_for("lb01 elected", lambda: holders(nodes, t1.vip) == ["lb01"], t1.master_down + 2.0)
    return nodes, t1


def probe_fault(
    lab: Lab, node: VrrpNode, name: str, settle: float, vip: IPv4Address | IPv6Address | None = None
) -> tuple[Outage, Fault]:
    """Inject a fault on ``node`` under the 1 ms ICMP probe of the VIP (the node's first
    instance's, or ``vip``: ICMPv6 for an IPv6 one); the outage and the fault (still
    injected: the caller undoes it)."""
    vip = vip or timing(node.config, node.host).vip
    prober = Prober(lab, "cl01", vip, None, PROBE_INTERVAL, lab.workdir / "probe.json").start()
    time.sleep(0.5)
    since = time.time() - 0.5
    f = fault(name, node)
    at = f.inject()
    time.sleep(max(0.0, at.after + settle - time.time()))
    until = time.time()
    time.sleep(IN_FLIGHT_S)
    o = outage(
        prober.stop()["icmp"], at.after, since, until, latest_start=settle, fault_from=at.before
    )
    assert not o.problems(), o.problems()
    assert o.judged is not None, f"{name}: no probe lost around the fault"
    return o, f


def crash_lb01(lab: Lab, nodes: dict[str, VrrpNode], t2: Timing) -> Fault:
    """Crash lb01 under the 1 ms probe: the client's outage lies in the crash bounds of
    lb02's timers and lb02 then holds the VIP. The fault stays injected (undo it)."""
    o, crash = probe_fault(lab, nodes["lb01"], "crash", settle=t2.master_down + 1.0)
    low, high = B.client_outage("crash", bt(t2), slack(nodes), o.resolution)
    assert o.seconds is not None and low <= o.seconds <= high, (
        f"crash outage {o.seconds} s not in [{low:.4f}, {high:.4f}]"
    )
    assert holders(nodes, t2.vip) == ["lb02"]
    return crash


def assert_scheduled_as_configured(nodes: dict[str, VrrpNode]) -> None:
    """Each VRRP process runs as its file says: SCHED_RR at ``vrrp_rt_priority``, or
    timesharing without it; keepalived's child as lablb's (keepalived is the oracle for
    what the keyword does)."""
    for name, node in nodes.items():
        want = load(str(node.config)).global_defs.vrrp_rt_priority
        pid = node.pids()[1]
        assert pid is not None, f"{name}: no VRRP process"
        policy = os.sched_getscheduler(pid) & ~os.SCHED_RESET_ON_FORK
        got = os.sched_getparam(pid).sched_priority
        expected = (os.SCHED_RR, want) if want else (os.SCHED_OTHER, 0)
        assert (policy, got) == expected, (name, node.engine, policy, got)


@pytest.mark.parametrize("engines", PAIRS)
def test_failover_preempt_and_graceful(seed_lab: Lab, engines: str) -> None:
    lab = seed_lab
    nodes, t1 = elect(lab, engines)
    assert_scheduled_as_configured(nodes)
    t2 = timing(SEED / "lb02.conf", "lb02")
    assert lab.run("cl01", ["ping", "-c", "3", "-i", "0.2", "-W", "1", str(t1.vip)]).returncode == 0

    s = slack(nodes)
    # Crash of the master: the backup waits out its master-down timer, which started at
    # the last advert it heard, 0..advert_int before the crash.
    crash = crash_lb01(lab, nodes, t2)

    # lb01 comes back and pre-empts: it discards lb02's lower-priority adverts, so its
    # own master-down timer runs out, counted from its own start (its log says when).
    back = crash.undo()
    # Quiet until the earliest moment a daemon started when start() returned can pre-empt.
    quiet = max(0.0, back.after + t1.master_down - time.time())
    seen = until_holders(nodes, t1.vip, ["lb01"], quiet=quiet)
    started = nodes["lb01"].started_at(back.before)
    assert started is not None
    low, high = B.preempt(bt(t1), s, started - back.before)
    # Seen as "only lb01 holds the VIP": lb02 must also hear lb01's advert and step down.
    bound = (low, high + s.epsilon)
    assert within(seen, back.before, bound), (
        f"pre-empted {seen[0] - back.before:.3f}..{seen[1] - back.before:.3f} s after the "
        f"restart, bound [{bound[0]:.3f}, {bound[1]:.3f}]"
    )
    assert nodes["lb02"].state("VI_1") == "BACKUP"

    # Graceful stop: the priority-0 advert makes lb02 wait only its skew time.
    o, _ = probe_fault(lab, nodes["lb01"], "graceful", settle=t2.skew + 1.5)
    low, high = B.client_outage("graceful", bt(t2), s, o.resolution)
    assert o.seconds is not None and low <= o.seconds <= high, (
        f"graceful outage {o.seconds} s not in [{low:.4f}, {high:.4f}]"
    )
    assert holders(nodes, t1.vip) == ["lb02"]
    assert nodes["lb01"].state("VI_1") in ("INITIALIZE", "MASTER")  # lablb / keepalived logs


def _variant(tmp: Path, edit: Callable[[str, str], str]) -> Path:
    out = tmp / "configs"
    out.mkdir()
    for node in ("lb01", "lb02"):
        (out / f"{node}.conf").write_text(edit(node, (SEED / f"{node}.conf").read_text()))
    return out


@pytest.mark.parametrize("engines", ["lablb", "keepalived"])
def test_nopreempt_keeps_the_new_master(seed_lab: Lab, engines: str, tmp_path: Path) -> None:
    def nopreempt(_node: str, text: str) -> str:
        return text.replace("state MASTER", "state BACKUP").replace(
            "    priority", "    nopreempt\n    priority"
        )

    configs = _variant(tmp_path, nopreempt)
    assert load(str(configs / "lb01.conf")).vrrp_instances[0].nopreempt
    nodes, t1 = elect(seed_lab, engines, configs)
    t2 = timing(configs / "lb02.conf", "lb02")
    f = fault("crash", nodes["lb01"])
    f.inject()
    wait_for("lb02 takes over", lambda: holders(nodes, t1.vip) == ["lb02"], t2.master_down + WAIT)
    f.undo()
    # Longer than lb01 would need to pre-empt, plus one advert interval.
    time.sleep(t1.master_down + t1.advert_int + 0.5)
    assert holders(nodes, t1.vip) == ["lb02"]
    assert nodes["lb01"].state("VI_1") == "BACKUP"


@pytest.mark.parametrize("peer", ["lablb", "keepalived"])
def test_wrong_password_is_rejected_and_counted(seed_lab: Lab, tmp_path: Path, peer: str) -> None:
    """lb02 uses another password: lablb on lb01 rejects its adverts and counts them by
    reason, the peer rejects lablb's, and both end up master, each ignoring the other."""

    def wrong(node: str, text: str) -> str:
        return text.replace("auth_pass 1111", "auth_pass 2222") if node == "lb02" else text

    configs = _variant(tmp_path, wrong)
    nodes = start_vrrp(seed_lab, configs, {"lb01": "lablb", "lb02": peer})
    t2 = timing(configs / "lb02.conf", "lb02")
    wait_for(
        "both masters",
        lambda: holders(nodes, t2.vip) == ["lb01", "lb02"],
        t2.master_down + 2.0,
    )
    # A lablb peer advertises every advert_int. keepalived restarts its advert timer on
    # every packet it receives, even a rejected one, so its rate depends on the phase of
    # lb01's adverts: for it, one reject is the proof.
    want = 3 if peer == "lablb" else 1
    wait_for(
        f"{want} rejects",
        lambda: len(nodes["lb01"].events("reject")) >= want,
        want * t2.advert_int + t2.master_down,
    )
    rejects = nodes["lb01"].events("reject")
    assert {r["reason"] for r in rejects} == {"AUTH_MISMATCH"}
    assert {r["source"] for r in rejects} == {str(PRIMARY["lb02"])}
    assert [r["count"] for r in rejects] == list(range(1, len(rejects) + 1))
    if peer == "keepalived":
        assert "received an invalid passwd" in nodes["lb02"].log.read_text()
    else:
        assert {r["reason"] for r in nodes["lb02"].events("reject")} == {"AUTH_MISMATCH"}


def test_reload_and_notify(seed_lab: Lab, tmp_path: Path) -> None:
    """SIGHUP re-reads the file: lb02 raised to priority 150 pre-empts lb01; its notify
    script gets keepalived's arguments (TYPE NAME STATE PRIORITY)."""
    notes = tmp_path / "notify.log"
    script = tmp_path / "notify.sh"
    script.write_text(f'#!/bin/sh\necho "$@" >> {notes}\n')
    script.chmod(0o755)

    def with_notify(node: str, text: str) -> str:
        return text.replace("    advert_int 1", f"    advert_int 1\n    notify {script}")

    configs = _variant(tmp_path, with_notify)
    nodes, t1 = elect(seed_lab, "lablb", configs)
    lb02 = configs / "lb02.conf"
    lb02.write_text(lb02.read_text().replace("priority 99", "priority 150"))
    parent, _child = nodes["lb02"].pids()
    assert parent is not None
    os.kill(parent, signal.SIGHUP)
    t2 = timing(lb02, "lb02")
    wait_for(
        "lb02 pre-empts after reload",
        lambda: holders(nodes, t1.vip) == ["lb02"],
        t2.master_down + 1.0,
    )
    reloads = nodes["lb02"].events("reload")
    assert reloads and reloads[-1]["ok"] is True
    wait_for("notify ran", lambda: notes.exists() and "MASTER 150" in notes.read_text(), 2.0)
    lines = notes.read_text().splitlines()
    assert "INSTANCE VI_1 BACKUP 99" in lines
    assert "INSTANCE VI_1 MASTER 150" in lines
    assert "INSTANCE VI_1 MASTER 100" in lines and "INSTANCE VI_1 BACKUP 100" in lines


@pytest.mark.parametrize("name", ["ifdown", "isolate"])
def test_interface_faults_fail_over_and_recover(seed_lab: Lab, name: str) -> None:
    """The master loses its interface, or its whole host is cut off: it goes to FAULT
    and cannot say goodbye, so lb02 takes over after its master-down interval; undone,
    lb01 is a backup again and pre-empts."""
    nodes, t1 = elect(seed_lab, "lablb")
    t2 = timing(SEED / "lb02.conf", "lb02")
    s = slack(nodes)
    o, f = probe_fault(seed_lab, nodes["lb01"], name, settle=t2.master_down + 1.0)
    low, high = B.client_outage(name, bt(t2), s, o.resolution)
    assert o.seconds is not None and low <= o.seconds <= high, (
        f"{name}: outage {o.seconds} s not in [{low:.4f}, {high:.4f}]"
    )
    assert holders(nodes, t1.vip) == ["lb02"]
    assert nodes["lb01"].state("VI_1") == "FAULT"
    back = f.undo()
    # The link is back at once: lb01 leaves FAULT (woken by the kernel, one quantum),
    # then waits out its master-down timer as a backup.
    seen = until_holders(nodes, t1.vip, ["lb01"])
    low, high = B.preempt(bt(t1), s, back.width + s.quantum)
    bound = (low, high + s.epsilon)  # and lb02 steps down on hearing it
    assert within(seen, back.before, bound), (seen[0] - back.before, seen[1] - back.before, bound)
    assert nodes["lb01"].state("VI_1") == "MASTER"
    assert nodes["lb02"].state("VI_1") == "BACKUP"


def test_frozen_master_means_two_masters_until_it_thaws(seed_lab: Lab) -> None:
    """A stalled VRRP process still holds the VIP (the kernel keeps answering for it):
    lb02 takes over after its master-down interval, so there are two masters, which
    clients do not notice (lb02's GARPs win). Thawed, lb01 advertises at once with
    the higher priority and lb02 backs off."""
    nodes, t1 = elect(seed_lab, "lablb")
    t2 = timing(SEED / "lb02.conf", "lb02")
    s = slack(nodes)
    f = fault("freeze", nodes["lb01"])
    at = f.inject()
    wait_for("lb02 master", lambda: nodes["lb02"].state("VI_1") == "MASTER", t2.master_down + WAIT)
    became = [e for e in nodes["lb02"].events("state") if e["to"] == "MASTER"][-1]
    offset = time.time() - time.monotonic()  # lablb logs CLOCK_MONOTONIC
    took = float(str(became["ts"])) + offset - at.after
    # lb01's last advert went out at most advert_int (+ its own epsilon) before the freeze.
    low, high = t2.master_down - t2.advert_int - s.epsilon, t2.master_down + s.epsilon
    assert low <= took <= high, f"lb02 master {took:.4f} s after the freeze, not in [{low}, {high}]"
    assert holders(nodes, t1.vip) == ["lb01", "lb02"]
    thawed = f.undo()
    # Thawed, lb01's overdue timer fires at once (epsilon): lb02 hears the higher
    # priority and steps down; the poll's bracket is the resolution.
    seen = until_holders(nodes, t1.vip, ["lb01"])
    assert within(seen, thawed.after, (0.0, 2 * s.epsilon)), (
        seen[0] - thawed.after,
        seen[1] - thawed.after,
    )
    assert nodes["lb02"].state("VI_1") == "BACKUP"
