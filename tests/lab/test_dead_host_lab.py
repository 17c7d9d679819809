"""A host that dies does not hang the lab: every process in lb01's namespace killed
(its Mininet shell included, as an OOM kill or a crashed machine would leave it) while
balancers run, and the lab's teardown still finishes, bounded, leaving nothing behind.
Before, Mininet waited forever on the dead host's terminal."""

from __future__ import annotations

import os
import signal
import time

from lablb.lab import procs
from lablb.lab.balancer import start_vrrp
from lablb.lab.net import NET_STOP_TIMEOUT, Lab, LabSpec
from lablb.lab.registry import get
from tests.conftest import SEED
from tests.lab.leftovers import Snapshot, snapshot


def test_teardown_finishes_after_a_host_dies(before: Snapshot) -> None:
    lab = Lab(LabSpec(get("seed")))
    with lab:
        start_vrrp(lab, SEED, {"lb01": "lablb", "lb02": "keepalived"})
        shell = lab.host("lb01").pid
        ns = procs.netns_of(shell)
        assert ns is not None
        victims = procs.pids_in_netns({ns})
        assert shell in victims and len(victims) > 2  # the shell and the daemons
        for pid in victims:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
        deadline = time.monotonic() + 5
        while procs.pids_in_netns({ns}) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not procs.pids_in_netns({ns}), "lb01's processes survived SIGKILL"
        t0 = time.monotonic()
    took = time.monotonic() - t0
    # Bounded: well inside Mininet's own timeout when the dead host is recognised.
    assert took < NET_STOP_TIMEOUT, f"teardown took {took:.1f} s"
    after = snapshot()
    assert after.lab_processes == before.lab_processes, "a lab process outlived the lab"
    assert after.netns == before.netns and after.links == before.links
