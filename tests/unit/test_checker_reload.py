"""The checker daemon's reload (SIGHUP), without a lab: unchanged checkers keep their
state, and the forwarder hears only the difference: a removed server, a new one, a new
weight. A config that does not load leaves the running one in place."""

from __future__ import annotations

import dataclasses
import json
from ipaddress import IPv4Address
from pathlib import Path

from lablb.checker.daemon import CheckerDaemon
from lablb.checker.logic import Pool, Remove, SetWeight
from lablb.config import model as m
from lablb.config.load import load
from tests.conftest import SEED

WEB1, WEB2, WEB3 = (IPv4Address(f"172.30.0.{n}") for n in (23, 24, 26))


def _events(log: list[dict[str, object]]):  # type: ignore[no-untyped-def]
    def record(event: str, **fields: object) -> None:
        log.append({"event": event, **fields})

    return record


def _edit(config: m.KeepalivedConfig, **changes: object) -> m.KeepalivedConfig:
    (vs,) = config.virtual_servers
    servers = list(vs.real_servers)
    if "drop" in changes:
        servers = [rs for rs in servers if rs.address != changes["drop"]]
    if "weight" in changes:
        servers = [dataclasses.replace(rs, weight=int(changes["weight"])) for rs in servers]  # type: ignore[call-overload]
    if "add" in changes:
        servers.append(dataclasses.replace(servers[0], address=changes["add"]))
    return dataclasses.replace(
        config, virtual_servers=(dataclasses.replace(vs, real_servers=tuple(servers)),)
    )


def test_pool_reconcile_sends_only_the_difference() -> None:
    config = load(str(SEED / "lb01.conf"))
    old = Pool(config.virtual_servers[0])
    old.health[f"{WEB1}:80"] = False  # web01 is down when the reload comes
    new = Pool(_edit(config, drop=WEB2, add=WEB3, weight=3).virtual_servers[0])
    actions = new.reconcile(old)
    label = new.vs.label
    assert Remove(label, WEB2, 80) in actions
    assert SetWeight(label, WEB3, 80, 3) in actions
    assert not [a for a in actions if getattr(a, "addr", None) == WEB1]  # still down
    assert new.health[f"{WEB1}:80"] is False


def test_the_daemon_keeps_unchanged_checkers(tmp_path: Path) -> None:
    config = load(str(SEED / "lb01.conf"))
    log: list[dict[str, object]] = []
    d = CheckerDaemon(config, tmp_path, _events(log))
    try:
        d.flush()  # the forwarder is not listening: the changes wait, nothing raises
        d.jobs[0].state.up, d.jobs[0].state.next_at = False, 123.0
        d.pending.clear()
        d.reload(_edit(config, add=WEB3))
        assert len(d.jobs) == 3
        assert (d.jobs[0].state.up, d.jobs[0].state.next_at) == (False, 123.0)
        assert [json.loads(json.dumps(p)) for p in d.pending] == [
            {"op": "set", "vs": d.pools[0].vs.label, "addr": str(WEB3), "port": 80, "weight": 1}
        ]
        assert log[-1]["event"] == "reload" and log[-1]["ok"] is True
    finally:
        d.ctl.close()
        d.mailer.shutdown(wait=False)
