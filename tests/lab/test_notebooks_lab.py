"""Every teaching notebook, executed top to bottom in a real Jupyter kernel (nbclient),
as root, with its live labs: a cell error fails it, and so does a notebook whose point
is not in its outputs or that saved none of the figures it draws. The HTML copy
``lablb notebooks`` writes for a teacher is made on the way."""

from __future__ import annotations

from pathlib import Path

import pytest

from lablb.live import LIVE_DIR_ENV
from lablb.notebooks import execute, notebooks
from tests.lab.leftovers import Snapshot, snapshot

# What each notebook must show when it runs (its point, not just "no exception"), and
# the figures it must have saved from this run.
SHOWS: dict[str, tuple[str, tuple[str, ...]]] = {
    "vrrp-election": (
        "master_down by hand 3.6133 s, measured 3.6",
        ("vrrp-election-adverts.png",),
    ),
    "failover-timing": (
        "crash: outage median",
        ("failover-timeline.png", "failover-outage-vs-advert-int.png"),
    ),
    "direct-routing": (
        "proxy: the clients received",
        ("direct-routing-bytes.png",),
    ),
    "health-checks": (
        "MD5 of the page web01 serves: 7d3a1b2df0abe53bf1788199cda93d40",
        ("health-checks.png",),
    ),
    "seed-pitfalls": ("lablb check --strict: 0", ("seed-pitfalls.png",)),
    "reading-keepalived-conf": ("vip-not-carried", ()),
    "vrrp-on-a-fake-lan": ("lb02 became MASTER 0.6", ()),
    "reading-a-failover-run": ("outage_s: median", ()),
}
NOTEBOOK_TIMEOUT_S = 300.0  # "a few minutes each"


@pytest.mark.parametrize("name", sorted(SHOWS))
def test_notebook_runs_in_a_kernel(
    name: str, tmp_path: Path, before: Snapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(LIVE_DIR_ENV, str(tmp_path / "labs"))  # a failure's logs kept
    run = execute(notebooks([name])[0], tmp_path, timeout=NOTEBOOK_TIMEOUT_S)
    assert run.error is None, run.error
    point, figures = SHOWS[name]
    assert point in run.text, run.text[-3000:]
    assert {f.name for f in run.figures} >= set(figures)
    assert run.html.stat().st_size > 10_000
    assert run.seconds < NOTEBOOK_TIMEOUT_S
    after = snapshot()  # the notebook's last cell took its lab down
    assert after.lab_processes == before.lab_processes and after.netns == before.netns
