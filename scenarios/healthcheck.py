"""healthcheck: one web node fails its health checks while clients keep requesting.

Timeline (one trial):
  t0          both real servers are UP on the master's checker; clients request
              /whoami.txt through the service VIP every 0.2 s
  t0 + 1 s    the failure: ``drop`` (nftables on the web node drops the balancers'
              packets to port 80: checks time out), ``stop`` (nginx stopped: refused) or
              ``digest`` (the checked page changes: the MD5 no longer matches)
  ...         the checker retries, then removes the server; traffic moves to the other
  + settle    the failure is undone; the next check brings the server back

``checker=UDP_CHECK|PING_CHECK|TCP_CHECK|SSL_GET|MISC_CHECK|SMTP_CHECK|DNS_CHECK|
FILE_CHECK`` checks every real server with one checker of that kind instead (UDP_CHECK
against the lab's UDP echo with ``require_reply``, SSL_GET against nginx's HTTPS,
MISC_CHECK with curl, SMTP_CHECK against the lab's SMTP sink, DNS_CHECK against the
lab's DNS server, FILE_CHECK on a track file per server with weight 0), so each checker
kind is shown removing and restoring a server within its bounds. ``failure=file``
writes 1 into the target's track file (0 restores it): keepalived acts on the change at
once, so a FILE_CHECK's bounds are the slack alone.

Bounds, from the checker's keepalived.conf timings (delay_loop, connect_timeout, retry,
delay_before_retry): detection within [(retry+1) x attempt + retry x delay_before_retry,
delay_loop + the same], attempt = connect_timeout for ``drop``, ~0 otherwise (for
``drop`` one attempt sooner at the earliest: one may be under way when it starts);
recovery within max(delay_loop, delay_before_retry) + connect_timeout. Widened only by
derived slack (``lablb.lab.trials.checker_slack``): two ticks of the checker's loop and
a scheduling quantum per attempt, one tick more where a timer runs between checks (the
verdict before the change can be read a tick after it, and the next check is timed from
that read), and per trial the fault's own measured duration. ``checks=fast`` derives a
config with short timings (delay_loop 2, connect_timeout 1, retry 1,
delay_before_retry 1) so a run takes seconds; the bounds follow from it.
"""

from __future__ import annotations

import dataclasses
import json
import time
import typing
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from lablb.checker.daemon import TICK, read_lag
from lablb.checker.dns import DNS_PORT
from lablb.checker.logic import Timing, detection_bound, recovery_bound
from lablb.config import model as m
from lablb.config.diagnostics import NOWHERE
from lablb.config.edit import Variant, checker_timings, map_real_servers, variant
from lablb.config.sets import derive
from lablb.config.track_files import track_files
from lablb.errors import LabError, UsageError
from lablb.lab.trials import RequestLoop, attempt_slack, checker_slack
from lablb.measure.result import Trial
from lablb.scenario import Bounds, Context, Scenario, param

if TYPE_CHECKING:
    from lablb.lab.cluster import Cluster
    from lablb.lab.web import MailSink, UdpService, WebNode

FAILURES = ("drop", "stop", "digest", "file")
# checker=KIND: every real server checked by one checker of that kind instead (the
# config's own timings kept), against the service the lab runs for it.
CHECKERS = (
    "config", "TCP_CHECK", "UDP_CHECK", "PING_CHECK", "SSL_GET", "MISC_CHECK", "SMTP_CHECK",
    "DNS_CHECK", "FILE_CHECK",
)  # fmt: skip
UDP_ECHO_PORT = 7  # the lab's UDP echo on each web node (RFC 862's port)
UDP_PAYLOAD = b"lablb UDP_CHECK"
# What each failure can do to each kind: digest needs a page, stop a service to stop.
FAILS = {
    "config": ("drop", "stop", "digest"),
    "TCP_CHECK": ("drop", "stop"),
    "UDP_CHECK": ("drop", "stop"),
    "PING_CHECK": ("drop",),
    "SSL_GET": ("drop", "stop", "digest"),
    "MISC_CHECK": ("drop", "stop"),
    "SMTP_CHECK": ("drop", "stop"),
    "DNS_CHECK": ("drop", "stop"),
    "FILE_CHECK": ("file",),
}
SMTP_PORT = 25  # the lab's SMTP sink on each web node
TLS_PORT = 443
DNS_NAME = "www.lab.test"  # the lab's DNS server answers any name NOERROR
MISC_PAGE = "/whoami.txt"


def track_file_name(rs: m.RealServer) -> str:
    return f"rs_{str(rs.address).replace('.', '_').replace(':', '_')}"


def only_checker(kind: m.CheckerKind, track_dir: Path) -> Variant:
    """Every real server checked by one ``kind`` checker, on its first checker's timings.
    A FILE_CHECK tracks a file of its own under ``track_dir`` (0 at start: up)."""

    @variant(f"{kind} only")
    def only(config: m.KeepalivedConfig) -> m.KeepalivedConfig:
        def one(rs: m.RealServer) -> m.RealServer:
            if not rs.checkers:
                return rs
            first = rs.checkers[0]
            ck = dataclasses.replace(
                first, kind=kind, urls=(), misc_path=None, connect_port=None, unsupported=()
            )
            if kind == "UDP_CHECK":
                ck = dataclasses.replace(
                    ck, connect_port=UDP_ECHO_PORT, payload=UDP_PAYLOAD, require_reply=UDP_PAYLOAD
                )
            elif kind == "SMTP_CHECK":
                ck = dataclasses.replace(ck, connect_port=SMTP_PORT, helo_name="lablb")
            elif kind == "DNS_CHECK":
                ck = dataclasses.replace(ck, connect_port=DNS_PORT, dns_type="A", dns_name=DNS_NAME)
            elif kind == "FILE_CHECK":
                ck = m.Checker("FILE_CHECK", track_file=track_file_name(rs))
            elif kind == "SSL_GET":
                urls = first.urls or (m.Url(MISC_PAGE),)
                ck = dataclasses.replace(ck, connect_port=TLS_PORT, urls=urls)
            elif kind == "MISC_CHECK":
                # keepalived's MISC_CHECK runs a program; this one fetches a page the
                # real server serves, bounded by the checker's own connect_timeout.
                port = rs.port or first.connect_port or 80
                url = f"http://{rs.address}:{port}{MISC_PAGE}"
                command = f"/usr/bin/curl -sf -o /dev/null -m {first.connect_timeout:g} {url}"
                ck = dataclasses.replace(
                    ck, misc_path=m.Script(command), misc_timeout=first.connect_timeout
                )
            return dataclasses.replace(rs, checkers=(ck,))

        config = map_real_servers(config, one)
        if kind != "FILE_CHECK":
            return config
        blocks = tuple(
            m.Unsupported(
                "track_file",
                (track_file_name(rs),),
                NOWHERE,
                (f'file "{track_dir / str(rs.address)}"', "weight 0", "init_file 0 overwrite"),
            )
            for vs in config.virtual_servers
            for rs in vs.real_servers
            if rs.checkers
        )
        return dataclasses.replace(config, unsupported=(*config.unsupported, *blocks))

    return only


# checks=fast: every checker on these timings, so a run takes seconds.
fast = checker_timings(delay_loop=2.0, connect_timeout=1.0, retry=1, delay_before_retry=1.0)


@dataclasses.dataclass(frozen=True)
class HealthcheckParams:
    failure: str = param("drop", "how the web node fails", choices=FAILURES)
    target: str = param("web01", "the web node that fails (a host of role web)")
    checks: str = param(
        "seed", "the config's own check timings, or fast ones", choices=("seed", "fast")
    )
    checker: str = param(
        "config", "the config's checkers, or one of this kind on each server", choices=CHECKERS
    )


class Healthcheck(Scenario[HealthcheckParams]):
    name = "healthcheck"
    quick = {"checks": "fast", "failure": "stop"}  # noqa: RUF012
    Params = HealthcheckParams

    def check(self, params: HealthcheckParams, hosts: dict[str, str]) -> None:
        if params.failure not in FAILS[params.checker]:
            raise UsageError(
                f"--param failure={params.failure} cannot fail a {params.checker}: "
                f"use {' or '.join(FAILS[params.checker])}"
            )
        webs = sorted(h for h, role in hosts.items() if role == "web")
        if params.target not in webs:
            raise UsageError(f"--param target: {params.target!r} is not one of {', '.join(webs)}")

    def configure(self, configs: Path, params: HealthcheckParams, out: Path) -> Path:
        variants = [fast] if params.checks == "fast" else []
        kind = params.checker
        if kind != "config":
            assert kind in typing.get_args(m.CheckerKind)  # Param choices: a checker kind
            track_dir = (out / "track").resolve()
            track_dir.mkdir(parents=True, exist_ok=True)
            variants.append(only_checker(typing.cast(m.CheckerKind, kind), track_dir))
        return derive(configs, out, *variants) if variants else configs

    def _timing(self, ctx: Context[HealthcheckParams]) -> Timing:
        """The target's first checker's timings, as the balancers' config says them."""
        c = ctx.cluster
        addr = c.address(ctx.params.target)
        for vs in c.config(c.balancers[0]).virtual_servers:
            for rs in vs.real_servers:
                if rs.address == addr and rs.checkers:
                    return Timing.of(rs.checkers[0])
        raise UsageError(f"--param target: {ctx.params.target} ({addr}) has no checker")

    def bounds(self, ctx: Context[HealthcheckParams]) -> Bounds:
        """The checker's timings, widened by what lies between them and the log: each
        attempt starts up to one loop tick after it falls due and its result is seen up
        to one tick after it ends (the next attempt is timed from then), plus a
        scheduling quantum; detection takes retry + 1 attempts; for ``drop``, an attempt
        already under way when the packets start to drop fails up to one attempt sooner
        than one started after. The last verdict before the failure (or the undo) is
        read on a tick, up to one tick after it, and a delay_loop or delay_before_retry
        timer runs from that read: one tick more at the top (none for a FILE_CHECK,
        whose next read follows at once). Each trial adds the fault's own duration (an
        ``nft`` process, nginx stopping), measured."""
        t, c = self._timing(ctx), ctx.cluster
        refused = ctx.params.failure != "drop"
        low, high = detection_bound(t, refused=refused)
        loop, read = attempt_slack(c), read_lag(t)
        attempts = t.retry + 1
        ctx.notes.append(
            f"checker slack {loop * 1000:.1f} ms per attempt = 2 x the checker's "
            f"{TICK * 1000:.0f} ms tick + one scheduling quantum ({attempts} attempts to "
            "detect, 1 to recover)"
            + (f", and {read * 1000:.0f} ms for the verdict before the change, read on a "
               "tick that the next check is timed from" if read else "")
            + "; each trial adds its fault's duration"
        )  # fmt: skip
        in_flight = 0.0 if refused else t.connect_timeout
        return {
            "detection_s": (max(0.0, low - in_flight), high + checker_slack(c, t, attempts)),
            "recovery_s": (0.0, recovery_bound(t) + checker_slack(c, t, 1)),
        }

    def trial(self, ctx: Context[HealthcheckParams], index: int) -> Trial:
        c, target, failure = ctx.cluster, ctx.params.target, ctx.params.failure
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

        deadline = time.monotonic() + t.delay_loop + t.connect_timeout + 2 * attempt_slack(c)
        while not (health() and all(health().values())):
            if time.monotonic() > deadline:
                return Trial.failed(f"before the fault, real servers are down: {reasons()}")
            time.sleep(0.1)
        load = RequestLoop(c).start()
        time.sleep(1.0)
        at = time.monotonic()
        ck = _first_checker(c, target)
        undo = _inject(c, target, failure, ck, ck.connect_port or service[1])
        injected = time.monotonic() - at
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
        undone = time.monotonic() - back
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
                # to the microsecond, as the bounds: rounded to the millisecond, a value
                # within a bound can read up to 0.5 ms past it
                "detection_s": round(detection, 6) if detection is not None else None,
                "recovery_s": round(recovery, 6) if recovery is not None else None,
            }
        )
        lo, hi = ctx.bounds["detection_s"]
        trial.bounds["detection_s"] = (lo, hi + injected)
        trial.bounds["recovery_s"] = (0.0, ctx.bounds["recovery_s"][1] + undone)
        trial.keep(
            failure=failure, target=target, client_errors=errors, client_requests=served,
            fault_s=round(injected, 4), undo_s=round(undone, 4),
        )  # fmt: skip
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


def _first_checker(c: Cluster, target: str) -> m.Checker:
    addr = c.address(target)
    for vs in c.config(c.balancers[0]).virtual_servers:
        for rs in vs.real_servers:
            if rs.address == addr and rs.checkers:
                return rs.checkers[0]
    raise LabError(f"{target} ({addr}) has no checker")


def _inject(
    c: Cluster, target: str, failure: str, ck: m.Checker, port: int
) -> Callable[[], object]:
    if failure == "stop":
        service: UdpService | MailSink | WebNode = {
            "UDP_CHECK": c.udp_echo.get(target),
            "DNS_CHECK": c.dns.get(target),
            "SMTP_CHECK": c.smtp.get(target),
        }.get(ck.kind) or c.web[target]
        service.stop()
        return service.start
    if failure == "file":  # the tracked file holds 1: with weight 0, the server fails
        assert ck.track_file is not None
        path = Path(track_files(c.config(c.balancers[0]))[ck.track_file].path)
        path.write_text("1\n")
        return lambda: path.write_text("0\n")
    if failure == "digest":
        page = c.web[target].root / "testurl" / "test.jsp"
        original = page.read_bytes()
        page.write_bytes(original + b"<!-- changed -->\n")
        return lambda: page.write_bytes(original)
    # drop: the checker's own packets, from the balancers, on the web node.
    match = {
        "PING_CHECK": "icmp type echo-request",
        "UDP_CHECK": f"udp dport {port}",
        "DNS_CHECK": f"udp dport {port}",
    }.get(ck.kind, f"tcp dport {port}")
    balancers = ", ".join(str(c.address(b)) for b in c.balancers)
    script = (
        f"table ip lablb_hc {{\n chain input {{\n  type filter hook input priority 0;\n"
        f"  ip saddr {{ {balancers} }} {match} drop\n }}\n}}\n"
    )
    path = c.workdir / f"{target}-drop.nft"
    path.write_text(script)
    c.run(target, ["nft", "-f", str(path)])
    return lambda: c.run(target, ["nft", "delete", "table", "ip", "lablb_hc"])


SCENARIO = Healthcheck
