"""A whole seed-style cluster in a running lab: web nodes with nginx, the SMTP sink, and
a VRRP/forwarder/checker daemon on each balancer. Lab layer.

Scenarios and lab tests both start from here, so "the lab" means the same thing in a
report as in a test.
"""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from pathlib import Path

from lablb.checker.dns import DNS_PORT
from lablb.config.edit import service_instance
from lablb.config.load import load_lenient
from lablb.config.local_service import Watched, tracked_weight
from lablb.config.model import KeepalivedConfig, VrrpInstance, v4
from lablb.errors import LabError
from lablb.lab.balancer import VrrpNode, engines_for, start_vrrp
from lablb.lab.kernel import cpu_steal
from lablb.lab.local import LocalService, fronted, start_local_services
from lablb.lab.net import Lab
from lablb.lab.registry import TopoEntry
from lablb.lab.web import (
    DNS_SERVER,
    UDP_ECHO,
    Decapsulator,
    MailSink,
    UdpService,
    WebNode,
    start_decapsulators,
    start_udp_service,
    start_web,
)
from lablb.measure.bounds import Timing
from lablb.measure.disturbance import cpu_waits
from lablb.vrrp.timers import master_down_interval, skew_time

SETTLE_S = 5.0  # beyond master_down: a restarted daemon's start, before it is judged stuck
SETTLE_POLL_S = 0.05  # the holders poll's own period: the check comes after the interval
SERVICE_TIMEOUT_S = 5.0  # the service answers this soon after the master is elected


@dataclass
class Cluster:
    lab: Lab
    entry: TopoEntry
    configs: Path
    nodes: dict[str, VrrpNode]
    web: dict[str, WebNode]
    mail: MailSink | None
    udp_echo: dict[str, UdpService] = field(default_factory=dict)  # for UDP_CHECK
    dns: dict[str, UdpService] = field(default_factory=dict)  # for DNS_CHECK
    smtp: dict[str, MailSink] = field(default_factory=dict)  # web nodes' SMTP, for SMTP_CHECK
    # VRRP only: the stand-in for the service the VIP fronts, per balancer
    local: dict[str, LocalService] = field(default_factory=dict)
    tunnels: dict[str, Decapsulator] = field(default_factory=dict)  # LVS-TUN's web nodes
    _configs: dict[str, KeepalivedConfig] = field(default_factory=dict, repr=False)

    @property
    def balancers(self) -> tuple[str, ...]:
        return self.entry.balancers

    def forget_configs(self) -> None:
        """The config files changed (a reload): read them again when next asked."""
        self._configs.clear()

    def config(self, node: str) -> KeepalivedConfig:
        """The node's parsed keepalived.conf (parsed once: trials ask for it in loops)."""
        if node not in self._configs:
            self._configs[node] = load_lenient(str(self.configs / f"{node}.conf"))
        return self._configs[node]

    def roles(self, role: str) -> list[str]:
        return sorted(h.name for h in self.lab.hosts if getattr(h, "role", "") == role)

    # -- hosts, without Mininet ----------------------------------------------------
    @property
    def workdir(self) -> Path:
        return self.lab.workdir

    def address(self, host: str) -> IPv4Address:
        """The host's primary IPv4 address."""
        ip = self.lab.host(host).IP()
        if not ip:
            raise LabError(f"{host} has no IPv4 address")
        return IPv4Address(str(ip))

    def macs(self, host: str) -> list[str]:
        """The MAC of each of the host's interfaces, lower case."""
        return [str(i.MAC()).lower() for i in self.lab.host(host).intfList() if i.MAC()]

    def lan_interface(self, host: str) -> str:
        """The interface a balancer's VRRP instance runs on; any other host's first."""
        if host in self.balancers:
            iface = self.instance(host).interface
            if iface:
                return iface
        return str(self.lab.host(host).intfList()[0].name)

    def pid(self, host: str) -> int:
        """A process in the host's namespaces (for ``lablb.lab.kernel.InNetns``)."""
        return int(self.lab.host(host).pid)

    def run(
        self, host: str, argv: list[str], timeout: float = 10.0
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` in ``host``, bounded in time; its output as text."""
        return self.lab.run(host, argv, timeout)

    def program(self, host: str, argv: list[str]) -> subprocess.Popen[str]:
        """Start ``argv`` in ``host`` with its output as text pipes; the caller reads and
        waits for it (bounded)."""
        proc: subprocess.Popen[str] = self.lab.host(host).popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        return proc

    def popen(self, host: str, argv: list[str]) -> subprocess.Popen[bytes]:
        """Start ``argv`` in ``host``; the caller waits for it (bounded)."""
        proc: subprocess.Popen[bytes] = self.lab.host(host).popen(argv)
        return proc

    # -- VRRP roles, from the kernel -------------------------------------------------
    def instance(self, node: str) -> VrrpInstance:
        """The node's instance that carries the cluster VIP."""
        vip = self.cluster_vip()
        config = self.config(node)
        for inst in config.vrrp_instances:
            if vip in inst.vips:
                return inst
        raise LabError(f"{node}: no vrrp_instance carries the cluster VIP {vip}")

    def master(self, timeout: float | None = None) -> str:
        """The balancer that holds the cluster VIP now, read from the kernels (``ip
        addr`` in each balancer), once exactly one does; LabError if none alone does
        within ``timeout`` (default: master_down of the slowest member + 1 s)."""
        vip = self.cluster_vip()
        if timeout is None:
            timeout = max(self.timers(b).master_down for b in self.members()) + 1.0
        deadline = time.monotonic() + timeout
        while True:
            holders = self.holders(vip)
            if len(holders) == 1:
                return holders[0]
            if time.monotonic() > deadline:
                raise LabError(f"no single master of {vip} within {timeout:.1f} s: {holders}")
            time.sleep(0.05)

    def settle(self, timeout: float | None = None) -> str:
        """Wait until the cluster is where the protocol leads it, and return its master
        (seen in the kernels): with pre-emption on every member, the preferred member
        (a restarted one takes the VIP back once its start and master-down timer are
        over); without, whoever holds the VIP.

        Settled means the master has held the VIP alone for longer than any backup's
        master-down interval, so every backup hears it: a backup that does not (a lost
        or rejected advert stream) takes the VIP too, and a trial from a split brain
        measures nothing. A backup that took it once (its daemon kept from its CPU
        while the lab's daemons start, say) gives it back at the master's next advert:
        the wait starts again, until ``timeout``; a split brain that lasts is a
        LabError."""
        if timeout is None:
            timeout = max(self.timers(b).master_down for b in self.members()) + SETTLE_S
        deadline = time.monotonic() + timeout
        split = ""  # the last time a backup was seen beside the master
        while True:
            try:
                master = self._settled_master(max(0.0, deadline - time.monotonic()))
            except LabError:
                if split:
                    raise LabError(split) from None
                raise
            alone_since = time.monotonic()
            self.wait_started(max(0.0, deadline - time.monotonic()))
            hear = max(self.timers(b).master_down for b in self.members() if b != master)
            time.sleep(max(0.0, alone_since + hear + SETTLE_POLL_S - time.monotonic()))
            holders = self.holders(self.cluster_vip())
            if holders == [master]:
                return master
            split = (
                f"{self.cluster_vip()} held by {holders}, not by {master} alone, "
                f"{hear:.3f} s (a backup's master-down interval) after {master} took it: "
                "a backup does not hear the master's adverts"
            )
            if time.monotonic() > deadline:
                raise LabError(split)

    def _settled_master(self, timeout: float) -> str:
        """The master the protocol leads to, once it alone holds the VIP."""
        if any(
            self.instance(b).nopreempt or self.instance(b).preempt_delay for b in self.members()
        ):
            return self.master(timeout)
        master = self.preferred()
        self.wait_master(master, timeout)
        return master

    def wait_started(self, timeout: float) -> None:
        """Until every balancer's daemon has all its subsystems up (``VrrpNode.started``):
        a restarted node's forwarder and checkers starting would compete for the CPU
        with the timers the next trial measures."""
        deadline = time.monotonic() + timeout
        while not all(node.started() for node in self.nodes.values()):
            if time.monotonic() > deadline:
                late = [n for n, node in self.nodes.items() if not node.started()]
                raise LabError(f"{', '.join(late)}: daemons not all started in {timeout:.1f} s")
            time.sleep(0.05)

    def successor(self, master: str) -> str:
        """The backup that takes over when ``master`` fails: of the other members of its
        instance (same VRID), the highest priority, then the highest primary address
        (RFC 3768 section 6.4.3 / RFC 5798 section 6.4.2)."""
        vrid = self.instance(master).virtual_router_id
        others = [
            b for b in self.members() if b != master and self.instance(b).virtual_router_id == vrid
        ]
        if not others:
            raise LabError(f"{master} has no backup in its VRRP instance (VRID {vrid})")
        return max(others, key=self._election_key)

    def members(self) -> list[str]:
        """The balancers whose VRRP instance carries the cluster VIP (other pairs may
        share the LAN, with VRIDs of their own)."""
        vip = self.cluster_vip()
        return [
            b for b in self.balancers if any(vip in i.vips for i in self.config(b).vrrp_instances)
        ]

    def preferred(self) -> str:
        """The member that is master when every member is up (preemption on): the
        highest priority, then the highest address."""
        return max(self.members(), key=self._election_key)

    def _election_key(self, node: str) -> tuple[int, IPv4Address]:
        """VRRP's election order: priority, then primary address (RFC 5798 6.4.3)."""
        return self.priority(node), self.address(node)

    def timers(self, node: str, service_up: bool = True) -> Timing:
        """The node's VRRP timers for its cluster instance, as its keepalived.conf
        implies them (``lablb.vrrp.timers``, RFC 3768/5798 section 6.1), at the
        priority it runs with (``priority``): skew_time is the effective priority's."""
        inst = self.instance(node)
        version = self.config(node).version_of(inst)
        prio = self.priority(node, service_up)
        return Timing(
            master_down_interval(prio, inst.advert_int, version, inst.down_timer_adverts),
            skew_time(prio, inst.advert_int, version),
            inst.advert_int,
        )

    def local_service(self) -> Watched | None:
        """VRRP only: what the cluster instance's tracked script watches on the
        balancers, when the lab runs a stand-in for it (``start_cluster``)."""
        return next(iter(self.local.values())).watched if self.local else None

    def priority(self, node: str, service_up: bool = True) -> int:
        """The node's effective priority for its cluster instance: its own, moved by
        the weight of the script that watches the local service (up or down, as
        ``service_up`` says; keepalived's rule, ``TrackedWeight``). Scripts whose
        outcome the lab does not set move nothing here; a trial checks the priority on
        the wire against this."""
        inst = self.instance(node)
        watched = self.local_service()
        if watched is None or not any(t.name == watched.script for t in inst.track_script):
            return inst.priority
        return tracked_weight(self.config(node), inst, watched.script).priority(
            inst.priority, service_up
        )

    def service_vip(self) -> tuple[IPv4Address, int] | None:
        vs = next(iter(self.config(self.balancers[0]).virtual_servers), None)
        return (v4(vs.address), vs.port) if vs and vs.address and vs.port else None

    def service_method(self) -> str:
        """The ``lvs_method`` of the virtual server ``service_vip`` is (DR without one)."""
        vs = next(iter(self.config(self.balancers[0]).virtual_servers), None)
        return vs.lvs_method if vs is not None else "DR"

    def probe_service(self) -> tuple[IPv4Address, int] | None:
        """Where the service probe sends its SYNs: the virtual server's VIP:port, or,
        VRRP only, the cluster VIP and the port of the local service it fronts."""
        svc, watched = self.service_vip(), self.local_service()
        if svc is None and watched is not None:
            return self.cluster_vip(), watched.port
        return svc

    def cluster_vip(self) -> IPv4Address:
        """The first virtual address of the instance that carries the service (the one
        the failover probes ping), on the first balancer's config."""
        inst = service_instance(self.config(self.balancers[0]))
        if inst is None or not inst.vips:
            raise LabError(f"{self.balancers[0]}: no vrrp_instance with a virtual address")
        return v4(inst.vips[0])

    def holders(self, vip: IPv4Address) -> list[str]:
        return sorted(n for n, node in self.nodes.items() if node.holds(vip))

    def counter(self, host: str, name: str, iface: str | None = None) -> int:
        """An interface counter of ``host`` (default: its LAN interface, the balancers'
        being the one their VRRP instance runs on); a counter that cannot be read is an
        error, never 0."""
        if iface is None:
            iface = self.lan_interface(host)
        res = self.lab.run(host, ["cat", f"/sys/class/net/{iface}/statistics/{name}"])
        try:
            return int(res.stdout)
        except ValueError:
            raise LabError(f"{host}: cannot read {iface} {name}: {res.stderr.strip()}") from None

    def forwarder(self, node: str) -> dict[str, object]:
        path = self.nodes[node].dir / "forwarder.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def curl(self, client: str, path: str, timeout: float = 3.0) -> str:
        svc = self.service_vip()
        if svc is None:
            raise LabError("the configuration has no virtual_server to send requests to")
        res = self.lab.run(
            client,
            ["curl", "-s", "-m", f"{timeout:g}", f"http://{svc[0]}:{svc[1]}{path}"],
            timeout=timeout + 5,
        )
        return res.stdout if res.returncode == 0 else ""

    def whoami(self, client: str | None = None) -> str:
        """Which web node answered ``client`` through the service VIP ("" if none did):
        every web node serves its own name as /whoami.txt."""
        return self.curl(client or self.roles("client")[0], "/whoami.txt").strip()

    def wait_serving(self, service: bool = True) -> None:
        """Until the preferred balancer is master (a fresh start: within four advert
        intervals and a few seconds) and, with ``service``, the service VIP answers the
        first client."""
        inst = self.config(self.balancers[0]).vrrp_instances[0]
        self.wait_master(self.preferred(), 4 * inst.advert_int + 3)
        clients = self.roles("client")
        if service and self.service_vip() and clients:
            deadline = time.monotonic() + SERVICE_TIMEOUT_S
            while not self.whoami(clients[0]):
                if time.monotonic() > deadline:
                    raise LabError("the service VIP does not answer")
                time.sleep(0.1)

    def cpu_waits(self, since: float, until: float, allowed: float) -> list[str]:
        """Each wake-up of a balancer's VRRP timer between ``since`` and ``until``
        (CLOCK_REALTIME) that waited longer than ``allowed`` for a CPU, as its engine
        logged it (``lablb.measure.disturbance``)."""
        found = []
        for name in self.balancers:
            found += cpu_waits(name, self.nodes[name].events("state"), since, until, allowed)
        return found

    def cpu_steal(self) -> float:
        """Seconds of CPU the hypervisor has taken from the machine so far (all CPUs;
        0 on bare metal): a trial's share is the difference of two readings."""
        return cpu_steal()

    def wait_master(self, node: str, timeout: float) -> float:
        """Seconds until ``node`` alone holds the cluster VIP; LabError after ``timeout``."""
        vip, t0 = self.cluster_vip(), time.monotonic()
        while self.holders(vip) != [node]:
            if time.monotonic() - t0 > timeout:
                raise LabError(
                    f"{node} did not become the only master within {timeout:.1f} s "
                    f"(holders: {self.holders(vip)})"
                )
            time.sleep(0.05)
        return time.monotonic() - t0


def start_cluster(
    lab: Lab,
    entry: TopoEntry,
    configs: Path,
    engine: str = "lablb",
    video_mb: int | None = None,
    wait_service: bool = True,
) -> Cluster:
    """Web nodes, mail sink and balancers up; returns once the first balancer is the
    master and the service answers."""
    hosts = {h.name: getattr(h, "role", "") for h in lab.hosts}
    webs = sorted(n for n, r in hosts.items() if r == "web")
    # The services the configs' checkers check, beyond nginx's plain HTTP: HTTPS for
    # SSL_GET, a UDP echo for UDP_CHECK, a DNS server for DNS_CHECK (their ports, as the
    # checkers will connect).
    first = load_lenient(str(configs / f"{entry.balancers[0]}.conf"))
    checked = [
        (ck, ck.connect_port or rs.port or vs.port)
        for vs in first.virtual_servers
        for rs in vs.real_servers
        for ck in rs.checkers
    ]
    tls = tuple(sorted({p or 443 for ck, p in checked if ck.kind == "SSL_GET"}))
    udp = sorted({p for ck, p in checked if ck.kind == "UDP_CHECK" and p})
    dns = sorted({p or DNS_PORT for ck, p in checked if ck.kind == "DNS_CHECK"})
    smtp = any(ck.kind == "SMTP_CHECK" for ck, _ in checked)
    pages = tuple(sorted({url.path for ck, _ in checked for url in ck.urls if not url.digest}))
    web = start_web(lab, webs, entry.docroot() or Path(), video_mb, tls, pages) if webs else {}
    tunnels = start_decapsulators(lab)
    mail_hosts = [n for n, r in hosts.items() if r == "mail"]
    mail = MailSink(lab, mail_hosts[0]) if mail_hosts else None
    watched = fronted(first)
    local = start_local_services(lab, entry.balancers, watched) if watched else {}
    nodes = start_vrrp(lab, configs, engines_for(engine, entry.balancers))
    cluster = Cluster(
        lab, entry, configs, nodes, web, mail, local=local, tunnels=tunnels,
        _configs={entry.balancers[0]: first},
    )
    for port in udp:
        cluster.udp_echo.update(start_udp_service(lab, webs, port, UDP_ECHO))
    for port in dns:
        cluster.dns.update(start_udp_service(lab, webs, port, DNS_SERVER))
    if smtp:  # the lab's SMTP sink listens on 25, SMTP_CHECK's default port
        cluster.smtp.update({w: MailSink(lab, w) for w in webs})
    cluster.wait_serving(wait_service)
    return cluster
