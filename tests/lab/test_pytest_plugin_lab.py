"""The pytest plugin as a team uses it: a test file of their own, with nothing but the
``lab`` and ``cluster`` fixtures, run by pytest in a subprocess (the plugin comes from
lablb's installed entry point, not from this suite), runs a failover in a real lab and
passes on its verdict."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.lab.test_scenarios_lab import V3_10MS, clean_after  # noqa: F401  (the fixture)

TEAM_TEST = '''
from pathlib import Path


def test_the_cluster_serves(cluster):
    assert cluster.holders(cluster.cluster_vip()) == [cluster.preferred()]


def test_failover(lab):
    result = lab.run("failover", fault="graceful")
    assert result.passed, str(result)
    assert len(result.trials) == 1 and (Path(result.path) / "result.json").is_file()
'''


def test_a_teams_own_test_file_runs_a_failover(tmp_path: Path, clean_after: None) -> None:  # noqa: F811
    (tmp_path / "test_team.py").write_text(TEAM_TEST)
    res = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_team.py",
         "--lablb-configs", str(V3_10MS), "--lablb-engine", "lablb"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    assert "2 passed" in res.stdout, res.stdout[-2000:]
