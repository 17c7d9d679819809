"""The kernel data plane's tc hook on a real interface, in a throwaway namespace: a
forwarder that closes after another one took its place leaves the newer program where
it is (and the qdisc the newer one uses); the last one out takes its own program off.
No lab: one veth pair, in a namespace made and removed here."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from lablb.ipvs.kernel import OBJECT, object_state

NS = "lablb-kdp-test"
ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import subprocess
    from lablb.ipvs.kernel import KernelPath

    def ingress():
        return subprocess.run(["tc", "filter", "show", "dev", "kdp0", "ingress"],
                              capture_output=True, text=True, check=True).stdout.split()

    old, new = KernelPath.open(), KernelPath.open()
    old.attach("kdp0")
    new.attach("kdp0")  # a restarted forwarder: same handle, its own program
    (_made, new_id), = new._hooked.values()
    old.close()
    words = ingress()
    print("after old:", "dr_tc" in words, words[words.index("id") + 1] == str(new_id))
    new.close()
    print("after new:", "dr_tc" in ingress())
    """
)


@pytest.fixture
def netns() -> Iterator[str]:
    subprocess.run(["ip", "netns", "add", NS], check=True)
    try:
        subprocess.run(["ip", "-n", NS, "link", "add", "kdp0", "type", "veth", "peer",
                        "name", "kdp1"], check=True)  # fmt: skip
        for dev in ("kdp0", "kdp1"):
            subprocess.run(["ip", "-n", NS, "link", "set", dev, "up"], check=True)
        yield NS
    finally:
        subprocess.run(["ip", "netns", "del", NS], check=False)


def test_a_closing_forwarder_leaves_a_newer_forwarders_program(netns: str) -> None:
    if object_state() is not None:
        pytest.fail(f"{OBJECT}: {object_state()}")
    res = subprocess.run(
        ["ip", "netns", "exec", netns, sys.executable, "-c", SCRIPT],
        check=False, capture_output=True, text=True, timeout=60, cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == ["after old: True True", "after new: False"], res.stdout
