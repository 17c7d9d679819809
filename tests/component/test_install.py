"""``pip install .`` outside a checkout: the wheel carries the scenarios and the
topologies (their configs and web root), and an installed lablb finds them with no
checkout in sight. Builds the wheel as pip would (an isolated build: setuptools from the
index), installs it into a folder of its own and runs lablb from another directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_of_the_tree_is_listed_for_the_wheel() -> None:
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    tree = {
        ".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "lablb").rglob("__init__.py")
    }
    assert tree <= listed, f"packages missing from pyproject.toml: {sorted(tree - listed)}"
    assert {"lablb.scenarios", "lablb.topologies"} <= listed


@pytest.mark.timeout(600)
def test_an_installed_lablb_lists_its_scenarios_and_topologies(tmp_path: Path) -> None:
    # A copy of what the wheel is made of, so the build leaves nothing in the checkout.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for name in ("lablb", "scenarios", "topologies"):
        shutil.copytree(ROOT / name, source / name,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))  # fmt: skip
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path),
         str(source)],
        check=False, capture_output=True, text=True, timeout=540,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-2000:]
    wheel = next(tmp_path.glob("lablb-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "lablb/scenarios/failover.py" in names and "lablb/topologies/seed.py" in names
    assert "lablb/topologies/configs/seed/lb01.conf" in names
    assert "lablb/topologies/www/testurl/test.jsp" in names
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site),
         str(wheel)], check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    # The venv's dependencies (mininet, scapy, ...) stay importable; lablb itself and
    # its folders come from the installed wheel only.
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABLB_")}
    env["PYTHONPATH"] = str(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    def lablb(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "lablb", *args], check=False,
                              cwd=elsewhere, env=env, capture_output=True, text=True,
                              timeout=120)  # fmt: skip

    where = subprocess.run(
        [sys.executable, "-c", "import lablb; print(lablb.__file__)"],
        check=False, cwd=elsewhere, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert where.stdout.startswith(str(site)), where.stdout + where.stderr
    listed = lablb("list")
    assert listed.returncode == 0, listed.stderr
    for name in ("failover", "soak", "stream", "healthcheck"):
        assert f"\n{name} " in f"\n{listed.stdout}", listed.stdout
    topos = lablb("topo", "list")
    assert topos.returncode == 0 and "seed" in topos.stdout, topos.stdout + topos.stderr
