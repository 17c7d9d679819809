"""stream: clients play a large MP4 through the VIP while the master crashes.

Timeline (one trial):
  t0            every client starts fetching the MP4 through the service VIP, paced at
                ``speed`` x its bitrate, as a player with a buffer would
  t0 + crash_at the master crashes (VRRP frozen, processes killed, link down)
  ...           the backup takes over; with connection sync it already knows where each
                stream's packets go, and the streams go on
  end           every client has the whole file, or gave up after ``stall_timeout``

Measured: per client, bytes, SHA-256 against the file, stalls of a player that starts
after 2 s of buffer (a stall that never ends fails the trial); per host, bytes on its
interface. The forwarding method's proof, from the counters of balancers and clients:
the balancers received at least what the clients sent to the VIP (all but the outage's
share of the run: a floor, so a bypassed balancer fails); with Direct Routing or
LVS-TUN they carried at most twice that (in and out; TUN: plus 20 B of outer header per
client packet) plus their own traffic measured over one checker period before (a
ceiling, so a balancer carrying the download fails); with LVS-NAT their LAN links sent
at least every byte of video the clients received (a floor: the replies come back
through them). Bound: a player's total stall is
at most 2 x the service outage a crash implies (``lablb.measure.bounds``) + 200 ms: TCP's
retransmission backoff (the web node resends at doubling intervals, so its first
resend after the takeover comes within twice the outage, plus the 200 ms minimum RTO).
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from lablb.config.edit import with_sync_daemon
from lablb.config.sets import derive
from lablb.ipvs.frame import IPIP_OVERHEAD
from lablb.lab.trials import slack_of
from lablb.lab.web import VIDEO_BITRATE, sha256, video
from lablb.measure.bounds import service_outage
from lablb.measure.playback import play
from lablb.measure.result import Trial
from lablb.scenario import Bounds, Context, Scenario, param

RTO_MIN = 0.2  # Linux TCP's minimum retransmission timeout, seconds


@dataclass(frozen=True)
class StreamParams:
    video_mb: int = param(150, "size of the MP4, MB", low=1, high=4096)
    speed: float = param(1.0, "fetch pace, x the video bitrate (1: real time)", low=0.1, high=100.0)
    crash_at: float = param(
        5.0, "seconds into the streams the master crashes (0: no crash)", low=0.0, high=3600.0
    )
    sync: bool = param(True, "connection sync between the balancers (lvs_sync_daemon)")
    stall_timeout: float = param(
        15.0, "a client gives up after this long without data", low=1.0, high=600.0
    )


class Stream(Scenario[StreamParams]):
    name = "stream"
    quick = {"video_mb": "20", "speed": "4", "crash_at": "1.5"}  # noqa: RUF012
    Params = StreamParams

    def video_mb(self, params: StreamParams) -> int | None:
        return params.video_mb

    def configure(self, configs: Path, params: StreamParams, out: Path) -> Path:
        return derive(configs, out, with_sync_daemon) if params.sync else configs

    def bounds(self, ctx: Context[StreamParams]) -> Bounds:
        # The web node's TCP retries its unacknowledged data at doubling intervals (RTO
        # backoff), so it resends within twice the outage (+ RTO_MIN) once lb02 forwards.
        c = ctx.cluster
        t = c.timers(c.successor(c.preferred()))
        slack = slack_of(c)
        ctx.notes.append(slack.explain())
        ctx.slack = slack.as_json()
        outage = service_outage("crash", t, slack, 0.0)[1]
        return {"stall_s": (0.0, 2 * outage + RTO_MIN)}

    def trial(self, ctx: Context[StreamParams], index: int) -> Trial:
        c, p = ctx.cluster, ctx.params
        path = video(p.video_mb)
        want = sha256(path)
        service = c.service_vip()
        if service is None:
            return Trial.failed("the configs have no virtual_server to stream from")
        vip, port = service
        url = f"http://{vip}:{port}/video/{path.name}"
        rate = VIDEO_BITRATE / 8 * p.speed
        master = c.settle()
        hosts = [*c.balancers, *sorted(c.web), *c.roles("client")]
        # The balancers' own traffic (adverts, checks, sync) over one checker period
        # (the longest delay_loop), so every check is in it: what they carry without
        # any client, as a rate.
        idle0 = {h: (c.counter(h, "rx_bytes"), c.counter(h, "tx_bytes")) for h in c.balancers}
        quiet_from = time.monotonic()
        loops = [vs.delay_loop for b in c.balancers for vs in c.config(b).virtual_servers]
        time.sleep(max(loops, default=1.0))
        before = {h: (c.counter(h, "rx_bytes"), c.counter(h, "tx_bytes")) for h in hosts}
        before_pk = {h: c.counter(h, "tx_packets") for h in c.roles("client")}
        quiet_s = time.monotonic() - quiet_from
        idle_bytes = sum(sum(before[b]) - sum(idle0[b]) for b in c.balancers)
        started = time.monotonic()
        procs = {}
        for client in c.roles("client"):
            out, log = (
                ctx.out / f"t{index + 1}-{client}.mp4",
                ctx.out / f"t{index + 1}-{client}.json",
            )
            procs[client] = (
                c.popen(
                    client,
                    [
                        sys.executable,
                        "-m",
                        "lablb.player",
                        url,
                        "--out",
                        str(out),
                        "--log",
                        str(log),
                        "--rate",
                        str(rate),
                        "--timeout",
                        str(p.stall_timeout),
                    ],
                ),
                out,
                log,
            )
        if p.crash_at > 0:
            time.sleep(p.crash_at)
            ctx.progress(f"stream: crashing {master}")
            ctx.faults.new("crash", c.nodes[master]).inject()  # the runner undoes it
        duration = path.stat().st_size / rate
        for proc, _out, _log in procs.values():
            proc.wait(timeout=duration * 3 + p.stall_timeout + 60)
        trial = Trial()
        clients: dict[str, object] = {}
        stall = 0.0
        received = 0
        video_bytes = 0  # of the video, as the clients' players counted them
        for client, (_proc, out, log) in procs.items():
            data = json.loads(log.read_text())
            pb = play(
                [(float(a), int(b)) for a, b in data["samples"]], VIDEO_BITRATE, path.stat().st_size
            )
            ok = data["sha256"] == want and data["bytes"] == path.stat().st_size
            video_bytes += int(data["bytes"])
            clients[client] = {
                "bytes": data["bytes"],
                "sha256_ok": ok,
                "stalls": pb.stalls,
                "stall_s": pb.stall_s,
                "startup_s": pb.startup_s,
                "error": data["error"],
            }
            stall = max(stall, pb.stall_s)
            trial.require(
                not pb.open_stall, f"{client}: a stall that never ended ({pb.stall_s:.1f} s)"
            )
            trial.require(
                ok,
                f"{client}: received {data['bytes']} B that are not the video "
                f"({path.stat().st_size} B, SHA-256 {want[:12]}...)",
            )
            out.unlink(missing_ok=True)  # the SHA-256 is kept; 150 MB copies are not
        after = {h: (c.counter(h, "rx_bytes"), c.counter(h, "tx_bytes")) for h in hosts}
        after_pk = {h: c.counter(h, "tx_packets") for h in c.roles("client")}
        delta = {h: (after[h][0] - before[h][0], after[h][1] - before[h][1]) for h in hosts}
        duration = time.monotonic() - started
        received = sum(delta[h][0] for h in c.roles("client"))
        upstream = sum(delta[h][1] for h in c.roles("client"))
        trial.keep(clients=clients, bytes={h: {"rx": d[0], "tx": d[1]} for h, d in delta.items()})
        # The forwarding method, from the counters: every byte the clients sent goes to
        # the VIP and so through a balancer (but what they sent while no balancer
        # forwarded: at most the service outage's share of the run). Then by method
        # (``lvs_method`` of the streamed virtual server):
        # - DR and TUN: the balancers carry nothing else but their own traffic (and
        #   TUN's outer header, 20 B per packet the clients sent); the download goes
        #   round them;
        # - NAT: the download comes back through them, so their LAN links sent at least
        #   every byte of video the clients received.
        method = c.service_method()
        carried_in = sum(delta[b][0] for b in c.balancers)
        carried_out = sum(delta[b][1] for b in c.balancers)
        carried = carried_in + carried_out
        outage = ctx.bounds["stall_s"][1] if p.crash_at > 0 else 0.0
        floor = upstream * max(0.0, 1 - outage / max(duration, 1e-3))
        up_packets = sum(after_pk[h] - before_pk[h] for h in c.roles("client"))
        tunnel = IPIP_OVERHEAD * up_packets if method == "TUN" else 0
        # Own traffic: one quiet window's worth per window of the run, plus one more
        # (the run may hold a round of checks more than its length suggests).
        ceiling = 2 * upstream + tunnel + idle_bytes * (math.ceil(duration / quiet_s) + 1)
        trial.measured["stall_s"] = round(stall, 6)  # to the microsecond, as its bound
        trial.data["method"] = method
        trial.data["dr"] = {  # the byte accounting (named when DR was the only method)
            "balancers_bytes": carried,
            "balancers_rx": carried_in,
            "balancers_tx": carried_out,
            "clients_upstream": upstream,
            "clients_upstream_packets": up_packets,
            "clients_received": received,
            "clients_video_bytes": video_bytes,
            "floor_rx": round(floor),
            "ceiling": round(ceiling) if method != "NAT" else None,
            "floor_tx": video_bytes if method == "NAT" else None,
            "idle_bytes": idle_bytes,
            "idle_window_s": round(quiet_s, 3),
        }
        trial.data["dr_share"] = round(carried / max(received, 1), 5)
        trial.require(
            carried_in >= floor,
            f"{method}: the balancers received {carried_in} B, less than the "
            f"{round(floor)} B the clients sent to the VIP: bypassed?",
        )
        if method == "NAT":
            trial.require(
                carried_out >= video_bytes,
                f"NAT: the balancers sent {carried_out} B, less than the {video_bytes} B of "
                "video the clients received: the replies went round them?",
            )
        else:
            trial.require(
                carried <= ceiling,
                f"{method}: the balancers carried {carried} B, more than twice the clients' "
                f"upstream{' and its tunnel headers' if tunnel else ''} plus their own "
                f"traffic ({round(ceiling)} B)",
            )
        return trial


SCENARIO = Stream
