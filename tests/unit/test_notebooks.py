"""Every notebook's code cells run, in order, without a Jupyter kernel."""

from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path

import pytest

from tests.conftest import REPO

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
# What each notebook must show when it runs: its point, not just "no exception".
SHOWS = {
    "01-reading-keepalived-conf.ipynb": "vip-not-carried",
    "02-vrrp-failover-on-a-fake-lan.ipynb": "lb02 became MASTER 0.6",
    "03-reading-a-failover-run.ipynb": "outage_s: median",
}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path: Path) -> None:
    cells = json.loads(path.read_text())["cells"]
    namespace: dict[str, object] = {}
    cwd = os.getcwd()
    os.chdir(path.parent)
    try:
        with contextlib.redirect_stdout(io.StringIO()) as out:
            for cell in cells:
                if cell["cell_type"] == "code":
                    exec(compile("".join(cell["source"]), f"{path.name}", "exec"), namespace)
    finally:
        os.chdir(cwd)
    assert SHOWS[path.name] in out.getvalue()


def test_there_is_a_notebook() -> None:
    assert NOTEBOOKS
