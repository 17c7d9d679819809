"""The command line: exit codes, JSON, one clear line and never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lablb.cli import main
from tests.conftest import SEED, SEED_VERBATIM
from tests.conftest import run_lablb as run


def test_check_verbatim_pair_names_the_service_vip() -> None:
    res = run(
        "check", "--offline", str(SEED_VERBATIM / "lb01.conf"), str(SEED_VERBATIM / "lb02.conf")
    )
    assert res.returncode == 5
    assert "172.16.55.100" in res.stdout and "vip-not-carried" in res.stdout


def test_check_corrected_pair_exits_zero() -> None:
    res = run("check", "--strict", "--offline", str(SEED / "lb01.conf"), str(SEED / "lb02.conf"))
    assert (res.returncode, res.stdout) == (0, "")


def test_check_json_schema() -> None:
    res = run("check", "--json", "--offline", str(SEED_VERBATIM / "lb01.conf"))
    doc = json.loads(res.stdout)
    assert (doc["verdict"], doc["exit"], res.returncode) == ("errors", 5, 5)
    assert doc["files"] == [str(SEED_VERBATIM / "lb01.conf")]
    items = doc["diagnostics"]
    assert items
    for item in items:
        assert set(item) == {"file", "line", "col", "severity", "code", "message", "hint"}
        assert item["severity"] in ("error", "warning")
        assert isinstance(item["line"], int) and isinstance(item["col"], int)


@pytest.mark.parametrize(
    "content",
    [
        "vrrp_instance X {\n",  # missing }
        "}}}}\n{{{\n",  # brace soup
        "\x00\x01\xff garbage\n",  # binary junk
        "vrrp_instance X {\n priority 1e9999\n}\n",  # absurd number
        "include /nonexistent/*\n",
    ],
)
def test_garbage_never_tracebacks(tmp_path, content: str) -> None:  # type: ignore[no-untyped-def]
    conf = tmp_path / "bad.conf"
    conf.write_text(content, errors="surrogateescape")
    res = run("check", "--offline", str(conf))
    assert "Traceback" not in res.stderr + res.stdout
    assert res.returncode in (0, 4, 5, 6)


def test_missing_file_is_fatal_one_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    res = run("check", str(tmp_path / "nope.conf"))
    assert res.returncode == 4  # keepalived -t exits 0 here (a bug); lablb does not
    assert "cannot read" in res.stdout and "Traceback" not in res.stderr


def test_lab_error_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["topo", "show", "no-such-topology"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lablb: no topology named 'no-such-topology'") and err.count("\n") == 1


def test_topo_list_and_show(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert "seed" in run("topo", "list").stdout
    png = tmp_path / "seed.png"
    res = run("topo", "show", "seed", "--png", str(png))
    assert res.returncode == 0, res.stderr
    for needle in ("lb01", "172.30.0.20/24", "web02", "172.16.55.100/32", "r1", "198.51.100.1/24"):
        assert needle in res.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_topo_show_plans_a_spread_over_servers(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["topo", "show", "seed", "--servers", "srv1,srv2"]) == 0
    out = capsys.readouterr().out
    assert "srv2: web01, web02" in out and "switch s1: VXLAN VNI 4200" in out
    assert main(["topo", "show", "seed", "--placement", "p.txt"]) == 2
    err = capsys.readouterr()
    assert err.err.startswith("lablb: --placement places hosts on --servers") and not err.out


def _result(tmp_path: object, outages: list[float], **extra: object) -> dict[str, object]:
    from lablb.measure.result import SCHEMA, RunResult

    r: dict[str, object] = {
        "schema": SCHEMA,
        "scenario": "failover",
        "topology": "seed",
        "engine": "lablb",
        "parameters": {"fault": "crash"},
        "configs": {"lb01.conf": "aa", "lb02.conf": "bb"},
        "bounds": {"outage_s": [2.6, 3.7]},
        "slack": {"epsilon_s": 0.0015},
        "trials": [{"outage_s": o} for o in outages],
        **extra,
    }
    return RunResult.from_json(r).finish().to_json()


def test_compare_refuses_runs_of_other_configs_in_one_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    base, other = tmp_path / "base.json", tmp_path / "other.json"
    base.write_text(json.dumps(_result(tmp_path, [3.2, 3.3])))
    changed = _result(tmp_path, [3.2, 3.3], configs={"lb01.conf": "cc", "lb02.conf": "bb"})
    other.write_text(json.dumps(changed))
    res = run("compare", str(base), str(other))
    assert res.returncode == 6 and "configs differ" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr
    assert run("compare", "--force", str(base), str(other)).returncode == 0


def test_report_recomputes_a_verdict_its_trials_contradict(tmp_path) -> None:  # type: ignore[no-untyped-def]
    r = _result(tmp_path, [3.2, 3.3])
    r["trials"][1]["outage_s"] = 9.9  # type: ignore[index]
    (tmp_path / "result.json").write_text(json.dumps(r))
    res = run("report", str(tmp_path))
    assert res.returncode == 1
    assert "the stored verdict is 'pass'" in res.stdout and "verdict: FAIL" in res.stdout


def _bad_set(tmp_path, broken: bool) -> str:  # type: ignore[no-untyped-def]
    d = tmp_path / ("broken" if broken else "half")
    d.mkdir()
    (d / "lb01.conf").write_text((SEED / "lb01.conf").read_text())
    if broken:
        (d / "lb02.conf").write_text("vrrp_instance VI_1 {\n    priority 900\n}\n")
    return str(d)


@pytest.mark.parametrize(
    ("argv", "code", "says"),
    [
        (["failover", "--param", "fault=crsh"], 2, "--param fault: 'crsh' is not one of crash"),
        (["failover", "--fault", "crsh"], 2, "is not one of crash, graceful, ifdown"),
        (["failover", "--param", "interval=5"], 2, "--param interval: 5 is above 0.01"),
        (["failover", "--param", "interval=fast"], 2, "'fast' is not a float"),
        (["failover", "--param", "seed=1.5"], 2, "'1.5' is not an int"),
        (["failover", "--param", "interval=nan"], 2, "not a finite number"),
        (["failover", "--param", "faults=crash"], 2, "failover takes fault=<crash|graceful"),
        (["failover", "--param", "preempt=maybe"], 2, "'maybe' is not yes/no"),
        (["healthcheck", "--param", "target=web09"], 2, "'web09' is not one of web01, web02"),
        (["healthcheck", "--param", "checks=slow"], 2, "is not one of seed, fast"),
        (["stream", "--param", "video_mb=0"], 2, "0 is below 1"),
        (["blackout", "--param", "ms=-5"], 2, "-5 is below 1"),
        (["failover", "--topo", "nosuch"], 2, "no topology named 'nosuch'"),
        (["failover", "--engine", "bird"], 2, "--engine 'bird': expected lablb, keepalived"),
        (["failover", "--repeat", "0"], 2, "--repeat 0: from 1 to"),
        (["failover", "--configs", "/nonexistent-set"], 2, "no config set '/nonexistent-set'"),
        (["failover", "--configs", "HALF"], 3, "which no other file uses (theirs: no other"),
        (["failover", "--topo", "seed", "--configs", "HALF"], 2, "has no lb02.conf"),
        # priority 900 is ignored as keepalived ignores it; no interface, it cannot run
        (["failover", "--configs", "BROKEN"], 3, "lb02.conf:1:1: vrrp_instance VI_1 has no"),
        (["nosuchscenario"], 2, "no scenario 'nosuchscenario'"),
        (["failover", "--baseline", "/nonexistent/result.json"], 2, "not a result"),
    ],
)
def test_bad_run_arguments_are_one_line_before_any_lab(  # type: ignore[no-untyped-def]
    tmp_path, capsys: pytest.CaptureFixture[str], argv: list[str], code: int, says: str
) -> None:
    argv = [
        {"HALF": _bad_set(tmp_path, False), "BROKEN": _bad_set(tmp_path, True)}.get(a, a)
        if a in ("HALF", "BROKEN")
        else a
        for a in argv
    ]
    assert main(["run", *argv, "--out", str(tmp_path / "runs")]) == code
    err = capsys.readouterr().err
    assert err.startswith("lablb: ") and err.count("\n") == 1, err
    assert says in err, err
    assert not (tmp_path / "runs").exists()  # nothing ran: no run directory, no lab


# -- rough edges a new user hit: each one line and a bad-input exit, never a traceback
def _one_line(res: object, code: int, says: str) -> None:
    import subprocess

    assert isinstance(res, subprocess.CompletedProcess)
    assert res.returncode == code, (res.returncode, res.stderr[-800:])
    assert "Traceback" not in res.stderr and says in res.stderr, res.stderr[-800:]


def test_rough_edges_are_one_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os

    _one_line(run("topo", "show", "seed", "--png", "/nonexistent/x.png"), 2,
              "cannot write the picture /nonexistent/x.png")  # fmt: skip
    _one_line(run("genhash", "http://[::1"), 2, "Invalid IPv6 URL")
    _one_line(run("genhash", "--timeout", "-1", "http://127.0.0.1:9/"), 2, "is not above 0")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    _one_line(run("genhash", "--file", str(fifo), timeout=10), 2, "not a regular file")
    _one_line(run("status", "--run-dir", str(tmp_path / "nosuch")), 2, "no such folder")
    _one_line(run("check", "--docroot", str(tmp_path / "nosuch"), str(SEED / "lb01.conf")), 2,
              "--docroot")  # fmt: skip
    _one_line(run("report", str(tmp_path / "missing.json")), 2, "not a result")
    _one_line(run("topo", "derive", str(tmp_path / "nosuch")), 2, "is not a folder")


def test_version() -> None:
    res = run("--version")
    assert res.returncode == 0 and res.stdout.startswith("lablb ")


def test_topo_make_keeps_files_it_would_overwrite(tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "set"
    assert main(["topo", "make", "webfarm", "2", str(out)]) == 0
    edited = out / "lb01.conf"
    edited.write_text(edited.read_text() + "\n# my edit\n")
    res = run("topo", "make", "webfarm", "2", str(out))
    _one_line(res, 2, "--force writes over them")
    assert "# my edit" in edited.read_text()
    assert main(["topo", "make", "webfarm", "2", str(out), "--force"]) == 0
    assert "# my edit" not in edited.read_text()


def test_a_report_that_cannot_write_its_plots_is_one_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    data = Path(__file__).resolve().parents[2] / "notebooks" / "data" / "failover-result.json"
    (tmp_path / "result.json").write_text(data.read_text())
    # Root writes in any folder: a folder where the picture goes makes the write fail.
    (tmp_path / "timeline.png").mkdir()
    _one_line(run("report", str(tmp_path)), 2, f"cannot write the plots in {tmp_path}")


def test_asking_which_labs_run_removes_nothing(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import os
    import subprocess

    from lablb.lab import clean, procs

    gone = subprocess.Popen(["true"])
    gone.wait()
    monkeypatch.setattr(procs, "STATE_DIR", tmp_path)
    dead = tmp_path / "lab-1.json"
    dead.write_text(json.dumps({"pid": gone.pid, "topology": "seed"}))
    broken = tmp_path / "lab-2.json"
    broken.write_text("{")
    assert clean.live_labs() == [] and dead.exists() and broken.exists()
    # A root lab seen by another user (``lablb status`` without sudo): its namespace
    # cannot be read, its process cannot be signalled; it runs, as far as anyone knows.
    def refused(pid: int, sig: int) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(procs, "netns_of", lambda pid: None)
    monkeypatch.setattr(os, "kill", refused)
    assert [s["pid"] for s in clean.live_labs()] == [gone.pid] and dead.exists()
