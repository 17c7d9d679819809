"""healthcheck: one web node fails its health checks while clients keep requesting.

Timeline (one trial):
  t0          both real servers are UP on the master's checker; clients request
              /whoami.txt through the service VIP every 0.2 s
  t0 + 1 s    the failure: ``drop`` (nftables on the web node drops the balancers'
              packets to port 80: checks time out), ``stop`` (nginx stopped: refused) or
              ``digest`` (the checked page changes: the MD5 no longer matches)
  ...         the checker retries, then removes the server; traffic moves to the other
  + settle    the failure is undone; the next check brings the server back

Bounds, from the checker's keepalived.conf timings (delay_loop, connect_timeout, retry,
delay_before_retry): detection within [(retry+1) x attempt + retry x delay_before_retry,
delay_loop + the same], attempt = connect_timeout for ``drop``, ~0 otherwise; recovery
within max(delay_loop, delay_before_retry) + connect_timeout. ``checks=fast`` derives a
config with short timings (delay_loop 2, connect_timeout 1, retry 1,
delay_before_retry 1) so a run takes seconds; the bounds follow from it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lablb.checker.logic import Timing, detection_bound, recovery_bound
from lablb.config.edit import checker_timings
from lablb.config.files import derive
from lablb.errors import LabError, UsageError
from lablb.lab.trials import RequestLoop
from lablb.measure.result import Trial
from lablb.scenario import Bounds, Context, Param, Scenario

if TYPE_CHECKING:
    from lablb.lab.cluster import Cluster

SLACK = 0.5  # checker loop tick and process scheduling
FAILURES = ("drop", "stop", "digest")


# checks=fast: every checker on these timings, so a run takes seconds.
fast = checker_timings(delay_loop=2.0, connect_timeout=1.0, retry=1, delay_before_retry=1.0)
fast.__name__ = "fast checks"


class Healthcheck(Scenario):
    name = "healthcheck"
    quick = {"checks": "fast", "failure": "stop"}  # noqa: RUF012
    params = {  # noqa: RUF012
        "failure": Param("drop", "how the web node fails", choices=FAILURES),
        "target": Param("web01", "the web node that fails (a host of role web)"),
        "checks": Param(
            "seed", "the config's own check timings, or fast ones", choices=("seed", "fast")
        ),
    }

    def check(self, params: dict[str, Any], hosts: dict[str, str]) -> None:
        webs = sorted(h for h, role in hosts.items() if role == "web")
        if params["target"] not in webs:
            raise UsageError(
                f"--param target: {params['target']!r} is not one of {', '.join(webs)}"
            )

    def configure(self, configs: Path, params: dict[str, Any], out: Path) -> Path:
        return derive(configs, out, fast) if params["checks"] == "fast" else configs

    def _timing(self, ctx: Context) -> Timing:
        """The target's first checker's timings, as the balancers' config says them."""
        c = ctx.cluster
        addr = c.address(ctx.params["target"])
        for vs in c.config(c.balancers[0]).virtual_servers:
            for rs in vs.real_servers:
                if rs.address == addr and rs.checkers:
                    return Timing.of(rs.checkers[0])
        raise UsageError(f"--param target: {ctx.params['target']} ({addr}) has no checker")

    def bounds(self, ctx: Context) -> Bounds:
        t = self._timing(ctx)
        low, high = detection_bound(t, refused=ctx.params["failure"] != "drop")
        return {
            "detection_s": (max(0.0, low - SLACK), high + SLACK),
            "recovery_s": (0.0, recovery_bound(t) + SLACK),
        }

    def trial(self, ctx: Context, index: int) -> Trial:
        c, target, failure = ctx.cluster, ctx.params["target"], ctx.params["failure"]
        service = c.service_vip()
        if service is None:
            return Trial.failed("the configs have no virtual_server to check")
        master = c.settle()
        t = self._timing(ctx)
        key = f"{c.address(target)}:{service[1]}"

        def health() -> dict[str, bool]:
            path = c.nodes[master].dir / "checker.json"
            if not path.exists():
                return {}
            data = json.loads(path.read_text())
            return {
                rs["rs"]: rs["up"] for vs in data["virtual_servers"] for rs in vs["real_servers"]
            }

        def reasons() -> str:
            path = c.nodes[master].dir / "checker.json"
            data = json.loads(path.read_text()) if path.exists() else {"virtual_servers": []}
            return "; ".join(
                f"{rs['rs']}: {ck['last']}"
                for vs in data["virtual_servers"]
                for rs in vs["real_servers"]
                if not rs["up"]
                for ck in rs["checkers"]
            )

        deadline = time.monotonic() + t.delay_loop + t.connect_timeout + 2 * SLACK
        while not (health() and all(health().values())):
            if time.monotonic() > deadline:
                return Trial.failed(f"before the fault, real servers are down: {reasons()}")
            time.sleep(0.1)
        load = RequestLoop(c).start()
        time.sleep(1.0)
        at = time.monotonic()
        undo = _inject(c, target, failure, service[1])
        high = ctx.bounds["detection_s"][1]
        while health().get(key, True) and time.monotonic() - at < high + 2:
            time.sleep(0.05)
        events = [
            e
            for e in c.nodes[master].events("real-server")
            if e["rs"] == key and e["up"] is False and _ts(e) >= at
        ]
        detection = _ts(events[0]) - at if events else None
        time.sleep(1.0)
        back = time.monotonic()
        undo()
        limit = recovery_bound(t) + 2
        while not health().get(key, False) and time.monotonic() - back < limit:
            time.sleep(0.05)
        ups = [
            e
            for e in c.nodes[master].events("real-server")
            if e["rs"] == key and e["up"] is True and _ts(e) >= back
        ]
        recovery = _ts(ups[0]) - back if ups else None
        errors, served = load.stop()
        mails = [m for m in (c.mail.messages() if c.mail else []) if key in m]
        trial = Trial(
            measured={
                "detection_s": round(detection, 3) if detection is not None else None,
                "recovery_s": round(recovery, 3) if recovery is not None else None,
            }
        )
        trial.keep(failure=failure, target=target, client_errors=errors, client_requests=served)
        if c.mail is not None and c.config(master).global_defs.smtp_server is not None:
            trial.require(
                any("DOWN" in m for m in mails), f"no DOWN mail about {key} reached the SMTP sink"
            )
        return trial


def _ts(event: dict[str, object]) -> float:
    """A daemon event's time (CLOCK_MONOTONIC, like ``time.monotonic()`` here)."""
    ts = event.get("ts")
    if not isinstance(ts, int | float):
        raise LabError(f"a daemon event without a time: {event}")
    return float(ts)


def _inject(c: Cluster, target: str, failure: str, port: int) -> Callable[[], object]:
    if failure == "stop":
        c.web[target].stop()
        return c.web[target].start
    if failure == "digest":
        page = c.web[target].root / "testurl" / "test.jsp"
        original = page.read_bytes()
        page.write_bytes(original + b"<!-- changed -->\n")
        return lambda: page.write_bytes(original)
    balancers = ", ".join(str(c.address(b)) for b in c.balancers)
    script = (
        f"table ip lablb_hc {{\n chain input {{\n  type filter hook input priority 0;\n"
        f"  ip saddr {{ {balancers} }} tcp dport {port} drop\n }}\n}}\n"
    )
    path = c.workdir / f"{target}-drop.nft"
    path.write_text(script)
    c.run(target, ["nft", "-f", str(path)])
    return lambda: c.run(target, ["nft", "delete", "table", "ip", "lablb_hc"])


SCENARIO = Healthcheck
