"""The VRRP process: runs the pure ``Engine`` against real sockets and a real clock.

This is the daemon edge. It reads the keepalived.conf, opens a protocol-112 socket per
interface, and then loops: wait for a packet, a link change, a signal or the engine's next
deadline; feed the engine; execute what it returns. It runs alone in its own process (the
supervisor in ``lablb.daemon`` starts it), so checkers and the forwarder can never delay
an advert, the way keepalived keeps its VRRP child apart.

Every event is one JSON line with ``ts`` (CLOCK_MONOTONIC, the same clock for every
network namespace on the host) and ``wall``. SIGTERM/SIGINT: graceful stop (priority 0,
addresses removed). SIGHUP: reload the file; unchanged instances keep their state.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv6Address

from lablb.config.load import load_running
from lablb.config.model import (
    GlobalDefs,
    IPAddress,
    KeepalivedConfig,
    VirtualAddress,
    VrrpInstance,
    v4,
)
from lablb.errors import LablbError, PacketError
from lablb.eventlog import EventLog
from lablb.loop import Loop, RunDelay
from lablb.mail import send_alert
from lablb.vrrp import ah, io, sched, scripts
from lablb.vrrp.engine import Engine, Out, adopt, family_of
from lablb.vrrp.fsm import AddVips, AhSeen, Garp, Rejected, RemoveVips, Send, State, Transition
from lablb.vrrp.packet import VRRP_TTL, Checksum, Reject, decode_ipv4, decode_ipv6
from lablb.vrrp.scripts import Children, ScriptTracker
from lablb.vrrp.timers import wait_towards

MAX_WAIT = 0.5  # the loop wakes at least this often, to reap scripts and poll links
LINGER_MAX = 1.0  # after a goodbye, sockets stay open this long at most (see run)


LINK_LOCAL_WAIT = 3.0  # a link-local address is tentative while DAD runs (~1 s)


def _link_locals(interfaces: set[str]) -> dict[str, IPv6Address]:
    """Each interface's link-local address, waiting (bounded) while DAD still holds it
    tentative, as it does for a second after a link comes up."""
    deadline = time.monotonic() + LINK_LOCAL_WAIT
    found: dict[str, IPv6Address] = {}
    while True:
        found.update({n: a for n in interfaces - set(found) if (a := io.link_local(n))})
        if set(found) == interfaces or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def _addresses(inst: VrrpInstance) -> tuple[VirtualAddress, ...]:
    """What an instance adds as master: its virtual addresses and the excluded ones
    (keepalived adds both; only the first are in the adverts)."""
    return (*inst.virtual_ipaddress, *inst.virtual_ipaddress_excluded)


@dataclass
class Daemon:
    config_path: str
    log: EventLog
    config: KeepalivedConfig | None = None
    engine: Engine | None = None
    # (interface, family) -> its socket: IPv4 and IPv6 instances on one interface
    sockets: dict[tuple[str, int], io.VrrpSocket | io.VrrpSocket6] = field(default_factory=dict)
    garp: dict[str, io.GarpSender] = field(default_factory=dict)
    na: dict[str, io.NaSender] = field(default_factory=dict)
    links: dict[str, bool] = field(default_factory=dict)
    scripts: list[ScriptTracker] = field(default_factory=list)
    children: Children = field(init=False)
    late: float | None = None  # how late the timer being expired woke (logged with a move)
    wake_late: float | None = None  # of which the select's return (the rest: work before)
    queued: float | None = None  # of which waiting for a CPU (the rest: the timer's IRQ)
    undecodable: dict[str, int] = field(default_factory=dict)  # reason -> count
    # instance -> the address lines it added, by address: what it removes later
    held: dict[str, dict[str, VirtualAddress]] = field(default_factory=dict)

    # -- setup ---------------------------------------------------------------------------
    def __post_init__(self) -> None:
        self.children = Children(self.log)

    def configure(self, now: float, ready: Callable[[], None] | None = None) -> list[Out]:
        """(Re)read the file and build the engine; on reload, keep unchanged instances."""
        config, ignored = load_running(self.config_path)
        for d in ignored:  # as keepalived logs and carries on
            self.log("config-ignored", where=str(d.where), code=d.code, message=d.message)
        interfaces = {i.interface for i in config.vrrp_instances if i.interface}
        wanted = {(i.interface, family_of(i)) for i in config.vrrp_instances if i.interface}
        primaries = {n: ip for n in interfaces if (ip := io.primary_ipv4(n)) is not None}
        locals6 = _link_locals({n for n, family in wanted if family == 6})
        engine = Engine.from_config(config, primaries, locals6)
        old, self.config = self.engine, config
        if old is None:
            self._clear_stale_vips(config)
        for name, family in wanted - set(self.sockets):
            if family == 6:
                self.sockets[name, 6] = io.VrrpSocket6(name, locals6[name])
                continue
            group = config.global_defs.vrrp_mcast_group4
            ah = any(
                i.interface == name and i.authentication is not None
                and i.authentication.auth_type == "AH"
                for i in config.vrrp_instances
            )  # fmt: skip
            self.sockets[name, 4] = io.VrrpSocket(name, primaries[name], group, ah)
            self.garp[name] = io.GarpSender(name)
        for (name, _family), sock in self.sockets.items():
            if isinstance(sock, io.VrrpSocket):  # this config's VRIDs, on a reload too
                sock.only_vrids({
                    i.virtual_router_id for i in config.vrrp_instances
                    if i.interface == name and family_of(i) == 4 and i.virtual_router_id
                })  # fmt: skip
        self.engine = engine
        self.scripts = scripts.trackers(config)
        for vs in scripts.disabled(config):
            self.log("script-disabled", script=vs.name, why="program not found",
                     command=vs.script.command if vs.script else "")  # fmt: skip
        if old is None:
            # A new engine's timers start once its sockets listen (a backup must hear
            # adverts for a whole master_down interval) and its process is scheduled as
            # it will run (``ready``: lablb.vrrp.sched), not before.
            if ready is not None:
                ready()
            now = time.monotonic()
            out = engine.start(now)
        else:
            out = adopt(old, engine, now)
        for name in interfaces:
            self.links[name] = io.link_up(name)
            if not self.links[name]:
                out += engine.track_interface(now, name, up=False)
        for inst in config.vrrp_instances:
            for t in inst.track_interface:
                if not io.link_up(t.name):
                    out += engine.track(now, inst.name, f"interface {t.name}", False, t.weight)
        return out

    def _clear_stale_vips(self, config: KeepalivedConfig) -> None:
        """A crashed run may have left addresses behind; a starting node owns none."""
        for inst in config.vrrp_instances:
            for vip in _addresses(inst):
                io.del_vip(vip, inst.interface or "")

    # -- executing actions -----------------------------------------------------------
    def execute(self, out: Out | list[Out]) -> None:
        """Carry out the engine's actions in order. Notify scripts and alert mail wait
        until the whole batch is on the wire: a mail thread holding the GIL for its
        switch interval (5 ms) must not delay the addresses or the GARPs."""
        assert self.engine is not None and self.config is not None
        later: list[tuple[str, Transition]] = []
        for instance, action in out if isinstance(out, list) else [out]:
            iface = self.engine.interfaces.get(instance, "")
            inst = self.config.instance(instance)
            if isinstance(action, Send):
                sock = self.sockets[iface, self.engine.families.get(instance, 4)]
                if isinstance(sock, io.VrrpSocket6):
                    sock.send(action.advert.encode(sock.source, sock.group), sock.group)
                    continue
                peers = tuple(v4(p) for p in inst.unicast_peer) if inst else ()
                for dst in peers or (sock.group,):
                    if action.ah_seq is not None:
                        key = self.engine.routers[instance].params.auth_pass
                        sock.send_ah(
                            ah.encode(
                                action.advert, sock.source, dst, key, action.ah_seq,
                                sock.next_ident(), unicast=bool(peers),
                            ),
                            dst,
                        )  # fmt: skip
                        continue
                    # v3's checksum covers the destination (RFC 5798 section 5.2.8): each
                    # unicast peer gets its own, as keepalived has since 1.3.6.
                    wire = action.advert.encode(sock.source, dst, Checksum.PSEUDO_HEADER)
                    sock.send(wire, dst)
            elif isinstance(action, AddVips | RemoveVips):
                self._vips(instance, iface, action)
            elif isinstance(action, Garp):
                for vip in self._lines_for(instance, action.vips, self._vip_lines(instance)):
                    dev = vip.dev or iface
                    if isinstance(vip.ip, IPv6Address):
                        na = self.na.get(dev) or self.na.setdefault(dev, io.NaSender(dev))
                        sent = na.send(vip.ip, action.count)
                        self.log("na", instance=instance, address=vip.ip, interface=dev, count=sent)
                        continue
                    sender = self.garp.get(dev) or self.garp.setdefault(dev, io.GarpSender(dev))
                    sent = sender.send(vip.ip, action.count)
                    self.log("garp", instance=instance, address=vip.ip, interface=dev, count=sent)
            elif isinstance(action, Transition):
                self.log(
                    "state",
                    instance=instance,
                    **{"from": action.old.value, "to": action.new.value},
                    reason=action.reason,
                    priority=action.priority,
                    **({} if self.late is None else {"timer_late_s": round(self.late, 6)}),
                    **({} if self.wake_late is None else {"wake_late_s": round(self.wake_late, 6)}),
                    **({} if self.queued is None else {"queued_s": round(self.queued, 6)}),
                )
                if inst is not None:
                    later.append((instance, action))
            elif isinstance(action, Rejected):
                count = self.engine.routers[instance].rejected.get(action.reason, 0)
                self.log(
                    "reject",
                    instance=instance,
                    reason=action.reason.name,
                    source=action.source,
                    detail=action.detail,
                    count=count,
                )
        for instance, transition in later:
            self._notify(instance, transition)

    def _vip_lines(self, instance: str) -> tuple[VirtualAddress, ...]:
        inst = self.config.instance(instance) if self.config else None
        return _addresses(inst) if inst else ()

    def _lines_for(
        self, instance: str, addresses: tuple[IPAddress, ...], pool: Iterable[VirtualAddress]
    ) -> list[VirtualAddress]:
        """The config lines an action on ``addresses`` means: all of them (the excluded
        addresses too) when it names every advertised address, as a move to or from
        MASTER does; only the named ones when a reload adds or drops some."""
        inst = self.config.instance(instance) if self.config else None
        every = inst is not None and set(addresses) >= set(inst.vips)
        return [line for line in pool if every or line.ip in addresses]

    def _vips(self, instance: str, iface: str, action: AddVips | RemoveVips) -> None:
        held = self.held.setdefault(instance, {})
        if isinstance(action, AddVips):
            for vip in self._lines_for(instance, action.vips, self._vip_lines(instance)):
                error = io.add_vip(vip, iface)
                held[str(vip.interface)] = vip
                self.log("vip", instance=instance, op="add", address=vip.interface, error=error)
            return
        # What this daemon added (a reload may have dropped the line from the config).
        pool = list(held.values()) or list(self._vip_lines(instance))
        for vip in self._lines_for(instance, action.vips, pool):
            error = io.del_vip(vip, iface)
            held.pop(str(vip.interface), None)
            self.log("vip", instance=instance, op="del", address=vip.interface, error=error)

    def _notify(self, instance: str, t: Transition) -> None:
        """keepalived's notify contract: notify_master/backup/fault/stop run bare;
        ``notify`` gets TYPE NAME STATE PRIORITY."""
        inst = self.config.instance(instance) if self.config else None
        if inst is None:
            return
        state = "STOP" if t.new is State.INITIALIZE else t.new.value
        specific = {
            "MASTER": inst.notify_master,
            "BACKUP": inst.notify_backup,
            "FAULT": inst.notify_fault,
            "STOP": inst.notify_stop,
        }[state]
        self.children.spawn(specific, [])
        self.children.spawn(inst.notify, ["INSTANCE", instance, state, str(t.priority)])
        if inst.smtp_alert and self.config is not None:
            # Mail may take smtp_connect_timeout: a thread, so no advert waits for it.
            g = self.config.global_defs
            subject = (
                f"[{g.router_id or 'lablb'}] VRRP Instance {instance} - Entering {state} state"
            )
            threading.Thread(target=self._mail, args=(g, subject, t.reason), daemon=True).start()

    def _mail(self, g: GlobalDefs, subject: str, body: str) -> None:
        self.log("alert", subject=subject, result=send_alert(g, subject, body))

    # -- inputs ------------------------------------------------------------------------
    def _undecodable(self, iface: str, exc: PacketError) -> None:
        reason = getattr(exc.reason, "name", str(exc.reason))
        self.undecodable[reason] = self.undecodable.get(reason, 0) + 1
        self.log(
            "reject",
            instance=None,
            reason=reason,
            detail=exc.detail,
            interface=iface,
            count=self.undecodable[reason],
        )

    def on_packet(self, key: tuple[str, int], now: float) -> None:
        """Every datagram waiting on one socket, each fed to the engine at its kernel
        arrival (``io.arrival``), never later than ``now``."""
        assert self.engine is not None
        iface, sock = key[0], self.sockets[key]
        if isinstance(sock, io.VrrpSocket6):
            while (got6 := sock.receive()) is not None:
                msg, src6, dst6, hops, at = got6
                try:
                    advert = decode_ipv6(msg, src6, dst6, hops)[2]
                except PacketError as exc:
                    self._undecodable(iface, exc)
                    continue
                if src6 != sock.source:
                    self.execute(self.engine.receive(min(at, now), iface, src6, advert))
            return
        while (got := sock.receive()) is not None:
            buf, at = got
            try:
                src, _dst, advert = decode_ipv4(buf)
            except PacketError as exc:
                self._undecodable(iface, exc)
                continue
            if src == sock.source:
                continue
            if advert.priority == 0:
                # A goodbye starts the skew timer: how late it was read says how much
                # a late wake-up would have cost without the kernel's stamp.
                self.log("goodbye", interface=iface, source=src, read_lag_s=round(now - at, 6))
            self.execute(self.engine.receive(min(at, now), iface, src, advert))
        while (got := sock.receive_ah()) is not None:
            self.on_ah(iface, sock, got[0], min(got[1], now))

    def on_ah(self, iface: str, sock: io.VrrpSocket, buf: bytes, now: float) -> None:
        """An AH datagram: decoded, then judged with the key of the instance its VRID
        names (keepalived's order: the ICV before anything in the packet is trusted)."""
        assert self.engine is not None and self.config is not None
        try:
            got = ah.decode(buf)
        except PacketError as exc:
            self._undecodable(iface, exc)
            return
        name = self.engine.instance_for(iface, got.advert.vrid)
        if got.src == sock.source or name is None:
            return
        params = self.engine.routers[name].params
        inst = self.config.instance(name)
        unicast = bool(inst and inst.unicast_peer)
        if not unicast and got.ttl != VRRP_TTL:
            self._undecodable(iface, PacketError(Reject.BAD_TTL, f"TTL {got.ttl}"))
            return
        seen = AhSeen(got.seq, got.authentic(params.auth_pass, unicast=unicast))
        self.execute(self.engine.receive(now, iface, got.src, got.advert, seen))

    def on_links(self, now: float) -> None:
        assert self.engine is not None and self.config is not None
        for name, was in list(self.links.items()):
            up = io.link_up(name)
            if up != was:
                self.links[name] = up
                self.log("link", interface=name, up=up)
                self.execute(self.engine.track_interface(now, name, up))
        for inst in self.config.vrrp_instances:
            for t in inst.track_interface:
                up = io.link_up(t.name)
                self.execute(self.engine.track(now, inst.name, f"interface {t.name}", up, t.weight))

    def on_scripts(self, now: float) -> None:
        assert self.engine is not None
        for tr in self.scripts:
            change = tr.poll(now)
            if change is None:
                continue
            up, code = change
            self.log("track-script", script=tr.script.name, up=up, exit=code)
            for inst, weight in tr.users:
                self.execute(self.engine.track(now, inst, tr.script.name, up, weight))

    # -- the loop -----------------------------------------------------------------------
    def run(self, run_for: float | None = None) -> int:
        # A script's exit wakes the loop (SIGCHLD), as keepalived reaps on it: its verdict
        # counts when it ends, not at the loop's next turn.
        loop = Loop(children=True)
        links = io.LinkWatch()
        run_delay = RunDelay()
        start = time.monotonic()
        self.execute(self.configure(start, ready=self._schedule))
        assert self.engine is not None
        self.log("start", config=self.config_path, states=self._states())
        by_fd = {fd: name for name, s in self.sockets.items() for fd in s.fds()}
        try:
            while not loop.stopping:
                now = time.monotonic()
                if run_for is not None and now - start >= run_for:
                    break
                # The engine's timers and the scripts' schedules (each run starts when
                # due, keepalived's timer thread; not at the loop's next turn).
                dues = [t for t in (self.engine.deadline(), *(s.due() for s in self.scripts))
                        if t is not None]  # fmt: skip
                deadline = min(dues, default=None)
                wait = MAX_WAIT if deadline is None else wait_towards(deadline - now, MAX_WAIT)
                slept = run_delay.read()
                readable = loop.wait([*by_fd, links.fileno()], wait)
                now = time.monotonic()  # the wake-up, GIL included, before any work
                queued = run_delay.read()
                for fd in readable:
                    if fd == links.fileno():
                        links.drain()
                        self.on_links(now)
                    else:
                        self.on_packet(by_fd[fd], now)
                if loop.take_reload():
                    self._reload(now)
                    by_fd = {fd: name for name, s in self.sockets.items() for fd in s.fds()}
                woke = time.monotonic()
                due = self.engine.deadline()
                self.late = None if due is None or woke < due else woke - due
                # Of which the wake-up itself (the rest: this turn's packets and links).
                self.wake_late = None if due is None or self.late is None else max(0.0, now - due)
                self.queued = (
                    None if self.wake_late is None or slept is None or queued is None
                    else queued - slept
                )  # fmt: skip
                self.execute(self.engine.expire(woke))
                # Only the moves this expiry made carry them, not a later packet's.
                self.late = self.wake_late = self.queued = None
                self.on_scripts(woke)
                self.children.reap(now)
        finally:
            self.execute(self.engine.stop(time.monotonic()))
            self.log("stop", states=self._states())
            # Linger one advert interval before the sockets close: the backup takes over
            # within its skew_time (< advert_int) of the goodbye, and closing them (a
            # multicast leave, an AF_PACKET release) takes kernel locks that a backup in
            # the same kernel (a lab) needs for its addresses at that very moment.
            if self.config is not None and loop.stopping:
                ints = [i.advert_int for i in self.config.vrrp_instances]
                time.sleep(min(LINGER_MAX, max(ints, default=0.0)))
            for s in self.sockets.values():
                s.close()
            for g in self.garp.values():
                g.close()
            for n in self.na.values():
                n.close()
            links.close()
            loop.close()
        return 0

    def _schedule(self) -> None:
        assert self.config is not None
        sched.apply(sched.Policy.of(self.config.global_defs), self.log)

    def _reload(self, now: float) -> None:
        sched.drop()  # reading a file in Python outlasts vrrp_rlimit_rttime (lablb.vrrp.sched)
        try:
            out = self.configure(now)
        except LablbError as exc:
            self.log("reload", ok=False, error=str(exc))
            return
        finally:
            if self.config is not None:
                self._schedule()
        self.execute(out)
        self.log("reload", ok=True, states=self._states())

    def _states(self) -> dict[str, str]:
        return {n: s.value for n, s in self.engine.states().items()} if self.engine else {}


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m lablb.vrrp.daemon -f CONFIG [--log FILE] [-r PIDFILE]``: the VRRP
    process alone. Users run ``lablb daemon``, which starts this."""
    p = argparse.ArgumentParser(prog="lablb-vrrp")
    p.add_argument("-f", "--use-file", dest="config", required=True)
    p.add_argument("--log", help="append JSON event lines here (default: stderr)")
    p.add_argument("-r", "--vrrp_pid", dest="pidfile")
    p.add_argument("--run-for", type=float, help="stop gracefully after this many seconds")
    args = p.parse_args(argv)
    stream = open(args.log, "a", encoding="utf-8") if args.log else sys.stderr  # noqa: SIM115
    log = EventLog(stream)
    if args.pidfile:
        with open(args.pidfile, "w", encoding="utf-8") as f:
            f.write(f"{os.getpid()}\n")
    try:
        return Daemon(args.config, log).run(args.run_for)
    except LablbError as exc:
        log("error", error=str(exc))
        print(f"lablb vrrp: {exc}", file=sys.stderr)
        return exc.exit_code
    finally:
        if args.pidfile:
            with contextlib.suppress(OSError):
                os.unlink(args.pidfile)


if __name__ == "__main__":
    raise SystemExit(main())
