"""The two VRRP speakers as one type (``lablb.lab.engines``), read without a lab: each
one's command line, what it stands in for, how its log says states and timer starts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from lablb.config.edit import with_sync_daemon
from lablb.config.load import load
from lablb.errors import LabError
from lablb.lab.engines import ENGINES, engine
from tests.conftest import SEED


@dataclass
class FakeNode:
    dir: Path
    config: Path
    host: str = "lb01"
    lab: object = None
    virtual_servers: bool = True

    @property
    def pidfile(self) -> Path:
        return self.dir / "p.pid"

    @property
    def vrrp_pidfile(self) -> Path:
        return self.dir / "v.pid"

    @property
    def companion_pidfile(self) -> Path:
        return self.dir / "c.pid"

    @property
    def log(self) -> Path:
        return self.dir / "engine.log"

    def has_virtual_servers(self) -> bool:
        return self.virtual_servers


def test_each_engine_s_command_line_and_companion(tmp_path: Path) -> None:
    node = FakeNode(tmp_path, SEED / "lb01.conf")
    ka, lb = engine("keepalived"), engine("lablb")
    argv = ka.argv(node)
    assert argv[0] == "keepalived" and "-P" in argv and str(SEED / "lb01.conf") in argv
    assert lb.argv(node)[1:4] == ["-m", "lablb", "daemon"]
    assert "-C" in (ka.companion_argv(node) or [])
    assert lb.companion_argv(node) is None  # its own children
    node.virtual_servers = False
    assert ka.companion_argv(node) is None
    assert (ka.runs_vrrp, lb.runs_vrrp, ka.logs_events, lb.logs_events) == (
        False, True, False, True,
    )  # fmt: skip
    assert set(ENGINES) == {"lablb", "keepalived"} and str(ka) == "keepalived"
    with pytest.raises(LabError, match="expected lablb or keepalived"):
        engine("ipvs")


def test_keepalived_stands_in_for_nothing_lablb_runs_itself() -> None:
    synced = with_sync_daemon(load(str(SEED / "lb01.conf")))
    assert engine("lablb").stand_ins(synced) == []
    (said,) = engine("keepalived").stand_ins(synced)
    assert said.startswith("lvs_sync_daemon: keepalived's runs in lablb's companion")
    assert engine("keepalived").stand_ins(load(str(SEED / "lb01.conf"))) == []


def test_states_and_timer_starts_from_each_engine_s_own_log(tmp_path: Path) -> None:
    node = FakeNode(tmp_path, SEED / "lb01.conf")
    node.log.write_text(
        "[100.000001] Starting VRRP child process, pid=7\n"
        "[100.250000] (VI_1) Entering BACKUP STATE (init)\n"
        "[100.253000] VRRP sockpool: [ifindex(  2), family(IPv4), proto(112), ...]\n"
        "[103.900000] (VI_1) Entering MASTER STATE\n"
    )
    ka = engine("keepalived")
    assert ka.states(node.log) == [("VI_1", "BACKUP"), ("VI_1", "MASTER")]
    assert ka.timer_starts(node) == [100.253]
    assert ka.events(node.log, "start") == []
    events = [{"event": "start", "ts": 5.0}, {"event": "state", "instance": "VI_1",
              "to": "MASTER"}]  # fmt: skip
    node.log.write_text("".join(json.dumps(e) + "\n" for e in events))
    lb = engine("lablb")
    assert lb.states(node.log) == [("VI_1", "MASTER")]
    assert len(lb.timer_starts(node)) == 1
    node.virtual_servers = False
    assert lb.started(node)  # VRRP only: its start is all
    node.virtual_servers = True
    assert not lb.started(node)  # no forwarder, no checker yet
