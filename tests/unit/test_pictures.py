"""The pictures lablb draws, read back: nothing overlaps. Every topology's picture (the
big ones laid out by role, LANs as buses) has no label over another label or over a
host, and no line passing behind a host it does not reach; a run's timeline keeps its
legend off the axis label."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest

from lablb.lab import graph
from lablb.lab.registry import all_topologies, get

TOPOLOGIES = sorted(all_topologies())
ROOT = Path(__file__).resolve().parents[2]


def _inches(p: graph.Point) -> graph.Point:
    return p[0] * graph.CELL_W, p[1] * graph.CELL_H


def _distance(p: graph.Point, a: graph.Point, b: graph.Point) -> float:
    """From point ``p`` to segment ``ab``."""
    (px, py), (ax, ay), (bx, by) = p, a, b
    dx, dy = bx - ax, by - ay
    t = 0.0 if dx == dy == 0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy)
                                                / (dx * dx + dy * dy)))  # fmt: skip
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))


@pytest.mark.parametrize("name", TOPOLOGIES)
def test_hosts_in_rows_by_role_and_no_line_behind_a_host_it_does_not_reach(name: str) -> None:
    g = graph.to_graph(get(name).cls())
    pos = graph.layout(g)
    assert len(set(pos.values())) == len(pos), "two hosts in one place"
    rows: dict[float, set[str]] = {}
    for n, (_x, y) in pos.items():
        rows.setdefault(y, set()).add(g.nodes[n]["role"])
    assert all(len(roles) == 1 for roles in rows.values()), rows
    assert max(sum(1 for p in pos.values() if p[1] == y) for y in rows) <= graph.ROW_MAX
    host_r = graph.NODE_PT / 2 / 72  # inches
    for a, b in graph.lines(g, pos):
        for n, p in pos.items():
            if p in (a, b):
                continue
            r = host_r / 2 if g.nodes[n]["role"] == "switch" else host_r
            d = _distance(_inches(p), _inches(a), _inches(b))
            assert d > r, f"{name}: a line from {a} to {b} passes behind {n}"


def _overlap(a: Any, b: Any, slack: float = 0.5) -> bool:
    return (a.x0 + slack < b.x1 and b.x0 + slack < a.x1
            and a.y0 + slack < b.y1 and b.y0 + slack < a.y1)  # fmt: skip


@pytest.mark.parametrize("name", TOPOLOGIES)
def test_no_label_lies_on_another_or_on_a_host(name: str) -> None:
    topo = get(name).cls()
    fig = graph.figure(name, topo)
    try:
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        ax = fig.axes[0]
        boxes = [(str(t.get_gid()), t.get_window_extent(renderer)) for t in ax.texts]
        boxes += [("legend", fig.legends[0].get_window_extent(renderer)),
                  ("title", ax.title.get_window_extent(renderer))]  # fmt: skip
        assert len(boxes) > len(graph.to_graph(topo).nodes)  # names, addresses, legend
        for i, (what, box) in enumerate(boxes):
            for other, box2 in boxes[i + 1 :]:
                assert not _overlap(box, box2), f"{name}: {what} on {other}"
        pos = graph.layout(graph.to_graph(topo))
        radius = graph.NODE_PT / 2 * fig.dpi / 72
        for n, p in pos.items():
            cx, cy = ax.transData.transform(p)
            for what, box in boxes:
                if what == f"name:{n}":
                    continue
                nx_ = min(max(cx, box.x0), box.x1)
                ny_ = min(max(cy, box.y0), box.y1)
                assert math.hypot(cx - nx_, cy - ny_) > radius - 1, f"{name}: {what} on {n}"
    finally:
        plt.close(fig)


def test_the_timeline_legend_is_off_the_axis_label() -> None:
    from lablb.report import load_result, timeline_figure

    result = load_result(ROOT / "notebooks" / "data" / "failover-result.json")
    fig = timeline_figure(result, result.trials[:10])
    try:
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        ax = fig.axes[0]
        legend = ax.get_legend().get_window_extent(renderer)
        for part in (ax.xaxis.label, *ax.get_xticklabels(), ax.title):
            assert not _overlap(legend, part.get_window_extent(renderer)), part.get_text()
        assert not _overlap(legend, ax.get_window_extent(renderer))
    finally:
        plt.close(fig)
