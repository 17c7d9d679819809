"""What a keepalived.conf says, as typed, frozen values with keepalived's defaults.

Pure data; ``lablb.config.parser`` builds these. Every default below is keepalived's
(keepalived.conf(5), keepalived 2.2), so a value a file does not set reads the way
keepalived would run it. Times are seconds as ``float``. ``where`` says where each
object was declared, for diagnostics. ``unsupported`` keeps, per block, the keywords
keepalived knows and lablb does not implement: parsed and reported, never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv6Address, IPv6Interface
from typing import Literal

from lablb.config.diagnostics import NOWHERE, Where
from lablb.config.tree import Statement
from lablb.errors import ConfigError

# keepalived's defaults, named where more than one block uses them.
DEFAULT_ADVERT_INT = 1.0
DEFAULT_PRIORITY = 100
DEFAULT_GARP_MASTER_DELAY = 5.0
DEFAULT_GARP_MASTER_REPEAT = 5
DEFAULT_GARP_MASTER_REFRESH = 0.0
DEFAULT_GARP_MASTER_REFRESH_REPEAT = 1
DEFAULT_DOWN_TIMER_ADVERTS = 3
DEFAULT_DELAY_LOOP = 60.0
DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_PERSISTENCE_TIMEOUT = 360  # "persistence_timeout" with no value: 6 minutes
DEFAULT_SMTP_PORT = 25
DEFAULT_SMTP_CONNECT_TIMEOUT = 30.0
DEFAULT_RLIMIT_RTTIME_US = 10000  # vrrp_rlimit_rttime: RT CPU between blocking calls
VRRP_MCAST_GROUP4 = IPv4Address("224.0.0.18")  # RFC 3768 section 5.2.2
LVS_SYNC_GROUP = IPv4Address("224.0.0.81")  # IPVS's connection sync group

# Addresses as keepalived takes them: IPv4 or IPv6 (keepalived.conf(5)); what lablb's
# lab runs is IPv4 (``lablb.lab.refuse`` says so before a lab starts).
IPAddress = IPv4Address | IPv6Address
IPInterface = IPv4Interface | IPv6Interface


def v4(addr: IPAddress) -> IPv4Address:
    """``addr`` for lablb's engine and lab, which run IPv4 only. A config that names
    IPv6 is turned away before either starts (``lablb.config.runnable``), so this
    raising means a caller skipped that check."""
    if not isinstance(addr, IPv4Address):
        raise ConfigError(f"{addr}: lablb's engine and lab run IPv4 only")
    return addr


def v4_interface(iface: IPInterface) -> IPv4Interface:
    if not isinstance(iface, IPv4Interface):
        raise ConfigError(f"{iface}: lablb's engine and lab run IPv4 only")
    return iface


CheckerKind = Literal[
    "HTTP_GET",
    "SSL_GET",
    "TCP_CHECK",
    "MISC_CHECK",
    "UDP_CHECK",
    "PING_CHECK",
    "SMTP_CHECK",
    "DNS_CHECK",
    "FILE_CHECK",
]
# retry and delay_before_retry when neither the checker, its real_server nor its
# virtual_server says (keepalived.conf(5), virtual_server).
CHECKER_DEFAULT_RETRY: dict[str, int] = {
    "HTTP_GET": 1,
    "SSL_GET": 1,
    "TCP_CHECK": 1,
    "MISC_CHECK": 0,
    "UDP_CHECK": 1,
    "PING_CHECK": 1,
    "SMTP_CHECK": 1,
    "DNS_CHECK": 3,  # "The retry default is 3"
    "FILE_CHECK": 0,  # no attempts: the file's value is the verdict
}
CHECKER_DEFAULT_DELAY_BEFORE_RETRY: dict[str, float] = {
    "HTTP_GET": 3.0,
    "SSL_GET": 3.0,
    "TCP_CHECK": 1.0,
    "MISC_CHECK": 1.0,
    "UDP_CHECK": 1.0,
    "PING_CHECK": 1.0,
    "SMTP_CHECK": 1.0,
    "FILE_CHECK": 0.0,
}  # DNS_CHECK's default is its delay_loop (keepalived.conf(5), delay_before_retry)
DEFAULT_MAX_REPLY_LENGTH = 255  # UDP_CHECK (keepalived.conf(5))


def at(obj: object, keyword: str) -> Where:
    """Where ``keyword`` was written in the block ``obj`` was read from; the block's
    own line when it was not written (a default)."""
    lines: tuple[tuple[str, Where], ...] = getattr(obj, "lines", ())
    for name, where in lines:
        if name == keyword:
            return where
    own = getattr(obj, "where", NOWHERE)
    return own if isinstance(own, Where) else NOWHERE


@dataclass(frozen=True)
class Unsupported:
    """A keyword keepalived knows and lablb parses but does not act on."""

    keyword: str
    args: tuple[str, ...]
    where: Where
    block: tuple[str, ...] | None = None  # the lines of its { } block, as rendered text
    # The block's statements as read, for diagnostics that point into it.
    statements: tuple[Statement, ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class Script:
    """A notify or check command line, with the user to run it as (if given)."""

    command: str
    user: str | None = None
    group: str | None = None


@dataclass(frozen=True)
class SmtpServer:
    address: str
    port: int = DEFAULT_SMTP_PORT


@dataclass(frozen=True)
class SyncDaemon:
    """``lvs_sync_daemon INTERFACE VRRP_INSTANCE [id N] [port P] [group G]``: IPVS
    connection sync on INTERFACE, master or backup as VRRP_INSTANCE is."""

    interface: str
    instance: str
    sync_id: int = 0
    port: int = 8848  # IPVS's default sync port
    group: IPv4Address = LVS_SYNC_GROUP


@dataclass(frozen=True)
class GlobalDefs:
    notification_email: tuple[str, ...] = ()
    notification_email_from: str | None = None
    smtp_server: SmtpServer | None = None
    smtp_helo_name: str | None = None
    smtp_connect_timeout: float = DEFAULT_SMTP_CONNECT_TIMEOUT
    router_id: str | None = None
    vrrp_mcast_group4: IPv4Address = VRRP_MCAST_GROUP4
    vrrp_version: int = 2
    vrrp_garp_master_delay: float = DEFAULT_GARP_MASTER_DELAY
    vrrp_garp_master_repeat: int = DEFAULT_GARP_MASTER_REPEAT
    vrrp_garp_master_refresh: float = DEFAULT_GARP_MASTER_REFRESH
    vrrp_garp_master_refresh_repeat: int = DEFAULT_GARP_MASTER_REFRESH_REPEAT
    vrrp_garp_interval: float = 0.0
    vrrp_check_unicast_src: bool = False
    vrrp_priority: int = 0  # nice value of the VRRP process
    vrrp_rt_priority: int = 0  # SCHED_RR priority of the VRRP process; 0: not real-time
    vrrp_rlimit_rttime: int = DEFAULT_RLIMIT_RTTIME_US
    lvs_sync_daemon: SyncDaemon | None = None
    where: Where = NOWHERE
    unsupported: tuple[Unsupported, ...] = ()
    lines: tuple[tuple[str, Where], ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class VrrpScript:
    name: str
    script: Script | None = None
    interval: float = 1.0
    timeout: float | None = None
    weight: int = 0
    rise: int = 1
    fall: int = 1
    init_fail: bool = False
    where: Where = NOWHERE
    unsupported: tuple[Unsupported, ...] = ()
    lines: tuple[tuple[str, Where], ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class VirtualAddress:
    """One ``virtual_ipaddress`` line: ``ADDR[/PREFIX] [brd X] [dev IF] [scope S] [label L]``."""

    interface: IPInterface
    dev: str | None = None
    brd: IPAddress | None = None
    scope: str | None = None
    label: str | None = None
    where: Where = NOWHERE

    @property
    def ip(self) -> IPAddress:
        return self.interface.ip


@dataclass(frozen=True)
class Tracked:
    """A ``track_interface`` or ``track_script`` entry; weight None means "fault"."""

    name: str
    weight: int | None = None
    reverse: bool = False
    where: Where = NOWHERE


@dataclass(frozen=True)
class Authentication:
    auth_type: Literal["PASS", "AH"]
    auth_pass: str  # as keepalived uses it: at most 8 characters


@dataclass(frozen=True)
class VrrpInstance:
    name: str
    interface: str | None = None
    virtual_router_id: int | None = None
    state: Literal["MASTER", "BACKUP"] = "BACKUP"
    priority: int = DEFAULT_PRIORITY
    advert_int: float = DEFAULT_ADVERT_INT
    version: int | None = None  # None: global_defs vrrp_version
    nopreempt: bool = False
    preempt_delay: float = 0.0
    authentication: Authentication | None = None
    virtual_ipaddress: tuple[VirtualAddress, ...] = ()
    virtual_ipaddress_excluded: tuple[VirtualAddress, ...] = ()
    unicast_src_ip: IPAddress | None = None
    unicast_peer: tuple[IPAddress, ...] = ()
    check_unicast_src: bool = False  # or global_defs vrrp_check_unicast_src for all
    track_interface: tuple[Tracked, ...] = ()
    track_script: tuple[Tracked, ...] = ()
    notify_master: Script | None = None
    notify_backup: Script | None = None
    notify_fault: Script | None = None
    notify_stop: Script | None = None
    notify: Script | None = None
    smtp_alert: bool = False
    garp_master_delay: float | None = None  # None: global_defs vrrp_garp_master_delay
    garp_master_repeat: int | None = None
    garp_master_refresh: float | None = None
    garp_master_refresh_repeat: int | None = None
    down_timer_adverts: int = DEFAULT_DOWN_TIMER_ADVERTS
    where: Where = NOWHERE
    unsupported: tuple[Unsupported, ...] = ()
    lines: tuple[tuple[str, Where], ...] = field(default=(), compare=False, repr=False)

    @property
    def vips(self) -> tuple[IPAddress, ...]:
        return tuple(v.ip for v in self.virtual_ipaddress)


@dataclass(frozen=True)
class SyncGroup:
    name: str
    group: tuple[str, ...] = ()
    notify_master: Script | None = None
    notify_backup: Script | None = None
    notify_fault: Script | None = None
    notify_stop: Script | None = None
    notify: Script | None = None
    smtp_alert: bool = False
    where: Where = NOWHERE
    unsupported: tuple[Unsupported, ...] = ()
    lines: tuple[tuple[str, Where], ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class Url:
    path: str
    digest: str | None = None
    status_code: tuple[tuple[int, int], ...] = ((200, 299),)
    virtualhost: str | None = None
    where: Where = NOWHERE
    unsupported: tuple[Unsupported, ...] = ()
    lines: tuple[tuple[str, Where], ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class Checker:
    """One health checker of a real server, every inherited default resolved."""

    kind: CheckerKind
    connect_ip: IPAddress | None = None
    connect_port: int | None = None
    bindto: IPAddress | None = None
    bind_port: int | None = None
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    retry: int = 1
    delay_before_retry: float = 1.0
    delay_loop: float = DEFAULT_DELAY_LOOP
    warmup: float | None = None
    urls: tuple[Url, ...] = ()  # HTTP_GET / SSL_GET
    misc_path: Script | None = None  # MISC_CHECK
    misc_timeout: float | None = None
    misc_dynamic: bool = False
    payload: bytes | None = None  # UDP_CHECK: what to send (None: an empty datagram)
    require_reply: bytes | None = None  # UDP_CHECK: a reply is needed, starting so
    min_reply_length: int = 0
    max_reply_length: int = DEFAULT_MAX_REPLY_LENGTH
    helo_name: str | None = None  # SMTP_CHECK: None is keepalived's default, the host name
    dns_type: str = "SOA"  # DNS_CHECK: the query's type and name (keepalived's defaults)
    dns_name: str = "."
    track_file: str | None = None  # FILE_CHECK: the name of a global track_file block
    file_weight: int = 0  # FILE_CHECK: 0 takes the track_file's own weight
    file_reverse: bool = False
    where: Where = NOWHERE
    unsupported: tuple[Unsupported, ...] = ()
    lines: tuple[tuple[str, Where], ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class RealServer:
    address: IPAddress
    port: int | None = None
    weight: int = 1
    inhibit_on_failure: bool = False
    notify_up: Script | None = None
    notify_down: Script | None = None
    checkers: tuple[Checker, ...] = ()
    where: Where = NOWHERE
    unsupported: tuple[Unsupported, ...] = ()
    lines: tuple[tuple[str, Where], ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class VirtualServer:
    address: IPAddress | None = None
    port: int | None = None
    fwmark: int | None = None
    delay_loop: float = DEFAULT_DELAY_LOOP
    lvs_sched: str = "wlc"
    lvs_method: Literal["NAT", "DR", "TUN"] = "NAT"
    persistence_timeout: int | None = None
    protocol: Literal["TCP", "UDP", "SCTP"] = "TCP"
    sorry_server: tuple[IPAddress, int | None] | None = None
    quorum: int = 1
    hysteresis: int = 0
    alpha: bool = False
    omega: bool = False
    inhibit_on_failure: bool = False
    ha_suspend: bool = False
    virtualhost: str | None = None
    real_servers: tuple[RealServer, ...] = ()
    where: Where = NOWHERE
    unsupported: tuple[Unsupported, ...] = ()
    lines: tuple[tuple[str, Where], ...] = field(default=(), compare=False, repr=False)

    @property
    def label(self) -> str:
        if self.fwmark is not None:
            return f"fwmark {self.fwmark}"
        return f"{self.address}:{self.port}" if self.port is not None else str(self.address)


@dataclass(frozen=True)
class KeepalivedConfig:
    """One keepalived.conf with everything it includes."""

    path: str
    files: tuple[str, ...] = ()
    global_defs: GlobalDefs = field(default_factory=GlobalDefs)
    vrrp_scripts: tuple[VrrpScript, ...] = ()
    vrrp_sync_groups: tuple[SyncGroup, ...] = ()
    vrrp_instances: tuple[VrrpInstance, ...] = ()
    virtual_servers: tuple[VirtualServer, ...] = ()
    unsupported: tuple[Unsupported, ...] = ()

    def instance(self, name: str) -> VrrpInstance | None:
        return next((i for i in self.vrrp_instances if i.name == name), None)

    def version_of(self, instance: VrrpInstance) -> int:
        """The instance's VRRP version; an IPv6 instance is version 3 whatever it says
        (VRRPv2 has no IPv6, RFC 3768; keepalived moves such an instance to version 3)."""
        if instance.vips and instance.vips[0].version == 6:
            return 3
        return instance.version if instance.version is not None else self.global_defs.vrrp_version
