"""hijack: a host on the server LAN claims the virtual router with priority 255.

Timeline (one trial):
  t0          the prober in cl01 pings the cluster VIP every ``interval`` s
  t0 + 0.5 s  the attacker (``--param attacker``, a lab host on the server LAN, not a
              balancer) starts ``lablb.lab.attacker``: adverts for the cluster's VRID at
              priority 255 every advert_int (with ``garp=yes`` also a gratuitous ARP
              for each VIP: ARP spoofing, which no VRRP defence stops; seen here, a
              rejected attack with it still cost about half a second, until r1
              re-resolved the VIP; its outage is then reported, not bounded)
  + hold      the attacker stops
  ...         if the attack took the VIP, the balancers (both backups since its first
              advert) wait out their master-down timers; the preferred one takes over

``attack`` says what the attacker knows and what defends the cluster:
  password        it sends the cluster's own PASS password (cleartext on the wire:
                  anyone on the LAN has it). Outcome: stolen.
  wrong-password  it guesses. Outcome: rejected, counted (AUTH_MISMATCH).
  ah              the cluster runs auth_type AH (derived config, same key); it has no
                  key and sends AH with a guess. Outcome: rejected (bad ICV).
  unicast         the cluster's configs use unicast_peer (``--topo unicast``) with
                  check_unicast_src added; it sends the right password. Outcome:
                  rejected (UNKNOWN_SOURCE).
  nft             nftables on each balancer admits VRRP only from the balancers; it
                  sends the right password. Outcome: dropped before the daemon.

Measured: whether the VIP left the balancers during the attack (``stolen``), the
client's outage (0 when every probe was answered: seen at the probe's resolution), and
for a stolen VIP ``recover_s``, the attacker's last advert (capture) to the VIP
answering again. Bounds: a defended attack costs no probe: outage_s in [0, 0]; a
stolen VIP comes back master_down of the preferred balancer after the attacker's last
advert, in [master_down - epsilon, master_down + epsilon + quantum] widened by the
probe's resolution (``lablb.measure.bounds``). lablb's daemons must count the rejects
by the expected reason; keepalived's are in its log.
"""

from __future__ import annotations

import dataclasses
import functools
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from lablb.config import model as m
from lablb.config.edit import map_instances, variant
from lablb.config.sets import derive
from lablb.errors import UsageError
from lablb.lab.kernel import InNetns, Nft
from lablb.lab.probe import Prober
from lablb.lab.trials import IN_FLIGHT_S, PROBE_LEAD_S, slack_of
from lablb.measure.outage import outage, summary
from lablb.measure.result import Trial
from lablb.scenario import Bounds, Context, Scenario, param

if TYPE_CHECKING:
    from lablb.lab.cluster import Cluster

ATTACKS = ("password", "wrong-password", "ah", "unicast", "nft")
DEFENCE = {
    "password": "PASS password",
    "wrong-password": "PASS password",
    "ah": "auth_type AH",
    "unicast": "unicast_peer + check_unicast_src",
    "nft": "nftables: VRRP from the balancers only",
}
REJECT = {"wrong-password": "AUTH_MISMATCH", "ah": "AUTH_MISMATCH", "unicast": "UNKNOWN_SOURCE"}
AH_KEY = "1111"  # the derived AH configs' key; the attacker does not have it
GUESS = "guess123"
ATTACKER_START_S = 5.0  # the attacker's first advert is out within this, or it failed
TABLE = "lablb_vrrp_peers"


@variant("auth_type AH")
def _ah(config: m.KeepalivedConfig) -> m.KeepalivedConfig:
    return map_instances(
        config, lambda i: dataclasses.replace(i, authentication=m.Authentication("AH", AH_KEY))
    )


@variant("check_unicast_src")
def _check_source(config: m.KeepalivedConfig) -> m.KeepalivedConfig:
    return map_instances(config, lambda i: dataclasses.replace(i, check_unicast_src=True))


@dataclasses.dataclass(frozen=True)
class HijackParams:
    attack: str = param("password", "what the attacker knows, what defends", choices=ATTACKS)
    attacker: str = param("mx01", "the attacking host (on the server LAN, not a balancer)")
    hold: float = param(3.0, "seconds the attack lasts", low=0.5, high=120.0)
    interval: float = param(0.001, "probe interval, seconds", low=0.0002, high=0.01)
    garp: bool = param(False, "the attacker also sends gratuitous ARP for the VIPs")


class Hijack(Scenario[HijackParams]):
    name = "hijack"
    quick = {"attack": "wrong-password", "hold": "1"}  # noqa: RUF012
    Params = HijackParams

    def check(self, params: HijackParams, hosts: dict[str, str]) -> None:
        who = params.attacker
        if who not in hosts or hosts[who] in ("balancer", "client", "router"):
            fit = sorted(h for h, r in hosts.items() if r not in ("balancer", "client", "router"))
            raise UsageError(
                f"--param attacker: {who!r} is not a server-LAN host other than a balancer "
                f"(one of {', '.join(fit)})"
            )

    def configure(self, configs: Path, params: HijackParams, out: Path) -> Path:
        if params.attack == "ah":
            return derive(configs, out, _ah)
        if params.attack == "unicast":
            return derive(configs, out, _check_source)
        return configs

    def bounds(self, ctx: Context[HijackParams]) -> Bounds:
        c = ctx.cluster
        slack = slack_of(c)
        ctx.notes.append(slack.explain())
        ctx.slack = slack.as_json()
        if ctx.params.attack != "password":
            # ARP spoofing is another attack, which no VRRP defence stops: with it, the
            # outage is r1's neighbour timers', not bounded here.
            return {} if ctx.params.garp else {"outage_s": (0.0, 0.0)}
        t = c.timers(c.preferred())
        # Widened per trial by the probe's resolution (its own bounds).
        return {"recover_s": (t.master_down - slack.epsilon, t.master_down + slack.epsilon
                              + slack.quantum)}  # fmt: skip

    def trial(self, ctx: Context[HijackParams], index: int) -> Trial:
        c, attack = ctx.cluster, ctx.params.attack
        master = c.settle()
        inst = c.instance(master)
        if attack == "unicast" and not inst.unicast_peer:
            return Trial.failed("attack=unicast needs configs with unicast_peer (--topo unicast)")
        vip = c.cluster_vip()
        version = c.config(master).version_of(inst)
        auth = {
            "password": f"pass:{self._password(inst)}",
            "wrong-password": f"pass:{GUESS}",
            "ah": f"ah:{GUESS}",
        }.get(attack, f"pass:{self._password(inst)}")
        argv = [
            sys.executable, "-m", "lablb.lab.attacker", "--vrid", str(inst.virtual_router_id),
            "--interval", f"{inst.advert_int:g}", "--version", str(version),
            "--auth", auth, "--for", str(ctx.params.hold),
            *(a for v in inst.vips for a in ("--vip", str(v))),
            *([] if ctx.params.garp else ["--no-garp"]),
        ]  # fmt: skip
        workers: list[tuple[InNetns, Nft]] = []
        if attack == "nft":
            workers = self._peer_filter(c)
        rejects_before = {n: len(c.nodes[n].events("reject")) for n in c.balancers}
        interval = ctx.params.interval
        out = c.workdir / f"hijack-probe-{index}.json"
        prober = Prober(c.lab, c.roles("client")[0], vip, None, interval, out).start()
        attacker = ctx.params.attacker
        try:
            time.sleep(PROBE_LEAD_S)
            since = time.time() - PROBE_LEAD_S
            start = time.time()
            proc = c.program(attacker, argv)
            assert proc.stdout is not None  # a pipe: Cluster.program's
            ready, _, _ = select.select([proc.stdout], [], [], ATTACKER_START_S)
            line = proc.stdout.readline() if ready else ""
            if line.strip() != "sending":
                proc.kill()
                return Trial.failed(f"the attacker did not start: {proc.communicate()[1][-300:]}")
            time.sleep(ctx.params.hold / 2)
            during = c.holders(vip)
            try:
                proc.wait(timeout=ctx.params.hold + ATTACKER_START_S)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=5)
            stopped = time.time()
            t = c.timers(c.preferred())
            time.sleep(t.master_down + 1.0)
            until = time.time()
            time.sleep(IN_FLIGHT_S)
        finally:
            logs = prober.stop()
            for worker, nft in workers:
                worker.call(functools.partial(nft.run, f"delete table ip {TABLE}"))
                worker.call(nft.close)
                worker.close()
        frames = ctx.capture.frames(since, until + 1.0)
        mine = str(c.address(attacker))
        sent = [f.t for f in frames if f.src_ip == mine and f.kind == "advert"]
        first = sent[0] if sent else start
        o = outage(logs["icmp"], first, since, until, latest_start=until - first, fault_from=start)
        stolen = not during
        trial = Trial(measured={})
        trial.keep(
            attack=attack,
            defence=DEFENCE[attack],
            outcome="stolen" if stolen else ("dropped" if attack == "nft" else "rejected"),
            holders_during_attack=",".join(during) or "nobody",
            attacker_adverts_seen=len(sent),
            probe=summary(o, first),
        )
        for p in o.problems():
            trial.require(False, p)
        if attack == "password":
            trial.require(stolen, f"the right password did not take the VIP (held by {during})")
            end = o.judged.end if o.judged is not None else None
            last = sent[-1] if sent else None
            trial.measured["outage_s"] = round(o.seconds, 6) if o.seconds is not None else None
            trial.measured["recover_s"] = (
                round(end - last, 6) if end is not None and last is not None else None
            )
            low, high = ctx.bounds["recover_s"]
            trial.bounds["recover_s"] = (low - o.resolution, high + o.resolution)
            trial.require(last is not None, "the capture saw none of the attacker's adverts")
        else:
            seen = round(o.seconds, 6) if o.seconds is not None else None
            if ctx.params.garp:
                trial.keep(outage_s=seen)
            else:
                trial.measured["outage_s"] = seen
            trial.require(not stolen, f"the {DEFENCE[attack]} did not stop the attack")
            self._rejects(c, attack, rejects_before, trial)
        trial.keep(attack_s=round(stopped - start, 3))
        return trial

    @staticmethod
    def _password(inst: m.VrrpInstance) -> str:
        a = inst.authentication
        return a.auth_pass if a is not None and a.auth_type == "PASS" else ""

    @staticmethod
    def _peer_filter(c: Cluster) -> list[tuple[InNetns, Nft]]:
        """On each balancer, nftables admits VRRP only from the balancers' addresses."""
        peers = ", ".join(str(c.address(b)) for b in c.balancers)
        rule = (
            f"add table ip {TABLE}\n"
            f"add chain ip {TABLE} input {{ type filter hook input priority 0; }}\n"
            f"add rule ip {TABLE} input ip protocol {{ vrrp, ah }} ip saddr != {{ {peers} }} drop"
        )
        workers = []
        for b in c.balancers:
            worker = InNetns(c.pid(b))
            nft = worker.call(Nft)
            worker.call(functools.partial(nft.run, rule))
            workers.append((worker, nft))
        return workers

    @staticmethod
    def _rejects(c: Cluster, attack: str, before: dict[str, int], trial: Trial) -> None:
        """lablb's daemons count each reject by reason; keepalived logs its own."""
        want = REJECT.get(attack)
        counts: dict[str, dict[str, int]] = {}
        for n in c.balancers:
            node = c.nodes[n]
            if not node.engine.logs_events:
                continue
            new = node.events("reject")[before[n] :]
            reasons: dict[str, int] = {}
            for e in new:
                reasons[str(e.get("reason"))] = reasons.get(str(e.get("reason")), 0) + 1
            counts[n] = reasons
            if want is not None:
                trial.require(reasons.get(want, 0) > 0, f"{n} counted no {want} reject: {reasons}")
            else:  # dropped by nftables: the daemon never saw the attacker
                trial.require(not reasons, f"{n} saw the attacker's adverts: {reasons}")
        trial.keep(rejects=counts)


SCENARIO = Hijack
