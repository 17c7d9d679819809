"""The VRRP state machine of one virtual router (one ``vrrp_instance``). Pure.

Bring your own I/O: nothing here reads a clock, opens a socket or touches an address.
Time comes in as ``now`` (seconds, any monotonic origin); what the router wants done goes
out as actions (``Send``, ``AddVips``, ``Garp``, ...) that a daemon edge executes. One
router has one timer at a time; ``deadline`` says when ``expire(now)`` must be called.

States and moves follow RFC 3768 section 6.4 and RFC 5798 section 6.4, with keepalived's
extensions: FAULT (a tracked interface or script down), ``nopreempt``,
``preempt_delay``, track weights and ``down_timer_adverts``. The table ``MOVES`` is
enforced: an illegal move raises ``ProtocolError``, it is never silently taken.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from lablb.errors import PacketError, ProtocolError
from lablb.vrrp.packet import Address, Advert, AuthType, Reject, check
from lablb.vrrp.timers import DEFAULT_DOWN_TIMER_ADVERTS, master_down_interval, skew_time

PRIORITY_OWNER = 255  # RFC 3768 section 5.3.4: the address owner
PRIORITY_STOP = 0  # RFC 3768 section 5.3.4: "stopped participating"
PRIORITY_MIN, PRIORITY_MAX = 1, 254  # what track weights may move a backup between


class State(Enum):
    INITIALIZE = "INITIALIZE"
    BACKUP = "BACKUP"
    MASTER = "MASTER"
    FAULT = "FAULT"


MOVES: dict[State, frozenset[State]] = {
    State.INITIALIZE: frozenset({State.BACKUP, State.MASTER, State.FAULT}),
    State.BACKUP: frozenset({State.MASTER, State.FAULT, State.INITIALIZE}),
    State.MASTER: frozenset({State.BACKUP, State.FAULT, State.INITIALIZE}),
    State.FAULT: frozenset({State.BACKUP, State.MASTER, State.INITIALIZE}),
}


@dataclass(frozen=True)
class Params:
    """What one ``vrrp_instance`` says, in the units the machine uses."""

    name: str
    vrid: int
    priority: int
    advert_int: float
    primary_ip: Address
    vips: tuple[Address, ...]
    version: int = 2
    want_master: bool = False  # "state MASTER"
    nopreempt: bool = False
    preempt_delay: float = 0.0
    auth_type: AuthType = AuthType.NONE
    auth_pass: bytes = b""
    down_timer_adverts: int = DEFAULT_DOWN_TIMER_ADVERTS
    garp_master_delay: float = 5.0
    garp_master_repeat: int = 5
    garp_master_refresh: float = 0.0
    garp_master_refresh_repeat: int = 1
    unicast_peers: tuple[Address, ...] = ()
    check_unicast_src: bool = False  # adverts only from unicast_peers (keepalived's option)

    @property
    def interval_cs(self) -> int:
        return round(self.advert_int * 100)


# Actions: what the edge must do, in order.
@dataclass(frozen=True)
class Send:
    advert: Advert
    ah_seq: int | None = None  # auth_type AH: the sequence number to send it under


@dataclass(frozen=True)
class AhSeen:
    """What the IP layer found in a received AH header (``lablb.vrrp.ah``): its
    sequence number, and whether the ICV and SPI check out with this instance's key."""

    seq: int
    authentic: bool


@dataclass(frozen=True)
class AddVips:
    vips: tuple[Address, ...]


@dataclass(frozen=True)
class RemoveVips:
    vips: tuple[Address, ...]


@dataclass(frozen=True)
class Garp:
    vips: tuple[Address, ...]
    count: int


@dataclass(frozen=True)
class Transition:
    """A state change, with why; the edge logs it and runs the notify scripts."""

    instance: str
    old: State
    new: State
    reason: str
    priority: int


@dataclass(frozen=True)
class Rejected:
    reason: Reject
    source: Address
    detail: str


# keepalived stops at 0xFFFFFFFD and declares the counter cycled (vrrp.c).
AH_SEQ_MAX = 0xFFFFFFFD

Action = Send | AddVips | RemoveVips | Garp | Transition | Rejected


@dataclass
class Router:
    """One virtual router. Drive it with ``start``, ``receive``, ``expire``, ``track``
    and ``stop``; each returns the actions to execute."""

    params: Params
    state: State = State.INITIALIZE
    deadline: float | None = None
    master_adver_int: float = 0.0  # v3: learnt from the master (RFC 5798 section 6.4.2)
    master_ip: Address | None = None
    preempt_until: float | None = None  # preempt_delay window, once opened
    garp_at: float | None = None  # the second GARP burst, or the next refresh
    down: set[str] = field(default_factory=set)  # tracked objects in fault
    weight: int = 0  # sum of the weights of tracked objects that moved priority
    rejected: dict[Reject, int] = field(default_factory=dict)
    ah_seq: int = 0  # AH: the last sequence number sent or accepted (keepalived's counter)
    _weights: dict[str, int] = field(default_factory=dict, repr=False)
    _garp_second_pending: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        self.master_adver_int = self.params.advert_int

    # -- derived values -------------------------------------------------------------
    @property
    def priority(self) -> int:
        """Effective priority: the owner's 255 is fixed; weights move others in 1..254."""
        base = self.params.priority
        if base == PRIORITY_OWNER:
            return base
        return max(PRIORITY_MIN, min(PRIORITY_MAX, base + self.weight))

    def skew_time(self) -> float:
        """RFC 3768 / RFC 5798 section 6.1, with the master's interval in v3."""
        return skew_time(self.priority, self.master_adver_int, self.params.version)

    def master_down_interval(self) -> float:
        """RFC 3768 / RFC 5798 section 6.1; keepalived's ``down_timer_adverts``."""
        return master_down_interval(
            self.priority,
            self.master_adver_int,
            self.params.version,
            self.params.down_timer_adverts,
        )

    def next_deadline(self) -> float | None:
        times = [t for t in (self.deadline, self.garp_at) if t is not None]
        return min(times) if times else None

    def advert(self, priority: int | None = None) -> Advert:
        p = self.params
        return Advert(
            version=p.version,
            vrid=p.vrid,
            priority=self.priority if priority is None else priority,
            addresses=p.vips,
            interval_cs=p.interval_cs,
            auth_type=p.auth_type if p.version == 2 else AuthType.NONE,
            # AH carries its proof in the IP layer; the VRRP field stays zero.
            auth_data=p.auth_pass if p.version == 2 and p.auth_type is AuthType.PASS else b"",
        )

    def send(self, priority: int | None = None) -> Send:
        """An advert to send; under AH, with the next sequence number."""
        if self.params.auth_type is not AuthType.AH or self.params.version != 2:
            return Send(self.advert(priority))
        self.ah_seq = min(self.ah_seq + 1, AH_SEQ_MAX)
        return Send(self.advert(priority), self.ah_seq)

    # -- moves ------------------------------------------------------------------------
    def _move(self, new: State, reason: str) -> list[Action]:
        old = self.state
        if new not in MOVES[old]:
            raise ProtocolError(f"{self.params.name}: illegal VRRP move {old.value} -> {new.value}")
        self.state = new
        return [Transition(self.params.name, old, new, reason, self.priority)]

    def _become_master(self, now: float, reason: str) -> list[Action]:
        """RFC 3768 section 6.4.1/6.4.2: advertise, take the addresses, announce them."""
        p = self.params
        out = self._move(State.MASTER, reason)
        out += [self.send(), AddVips(p.vips), Garp(p.vips, p.garp_master_repeat)]
        self.deadline = now + p.advert_int
        self.master_ip = p.primary_ip
        self.master_adver_int = p.advert_int
        self.garp_at = now + p.garp_master_delay if p.garp_master_delay > 0 else None
        self._garp_second_pending = self.garp_at is not None
        if self.garp_at is None and p.garp_master_refresh > 0:
            self.garp_at = now + p.garp_master_refresh
        return out

    def _become_backup(self, now: float, reason: str) -> list[Action]:
        was_master = self.state is State.MASTER
        out = self._move(State.BACKUP, reason)
        if was_master:
            out.append(RemoveVips(self.params.vips))
        self.garp_at = None
        self.deadline = now + self.master_down_interval()
        return out

    def _leave_master(self) -> list[Action]:
        """Leaving MASTER for FAULT or INITIALIZE: say goodbye with priority 0 so the
        backup waits only its skew time (RFC 3768 section 6.4.3), drop the addresses."""
        if self.state is not State.MASTER:
            return []
        return [self.send(PRIORITY_STOP), RemoveVips(self.params.vips)]

    def retunable(self, params: Params) -> bool:
        """Can ``params`` replace this router's in place (a reload): the same virtual
        router (VRID, version, authentication type), anything else may differ."""
        old = self.params
        return (old.name, old.vrid, old.version, old.auth_type) == (
            params.name, params.vrid, params.version, params.auth_type,
        )  # fmt: skip

    def retune(self, now: float, params: Params) -> list[Action]:
        """A reload's new parameters, state and timers kept (keepalived keeps a reloaded
        instance's state): a master advertises at once with its new priority and
        interval, and the addresses it carries change with the config (the edge adds and
        drops the difference); a backup's next master-down timer uses the new priority.
        No failover comes from a reload itself, only from what the new priorities mean."""
        old, self.params = self.params, params
        if self.state is not State.MASTER:
            return []
        out: list[Action] = []
        added = tuple(a for a in params.vips if a not in old.vips)
        removed = tuple(a for a in old.vips if a not in params.vips)
        if removed:
            out.append(RemoveVips(removed))
        if added:
            out += [AddVips(added), Garp(added, params.garp_master_repeat)]
        if (old.priority, old.advert_int, old.vips) != (params.priority, params.advert_int,
                                                        params.vips):  # fmt: skip
            self.master_adver_int = params.advert_int
            self.deadline = now + params.advert_int
            out.append(self.send())
        return out

    # -- inputs -------------------------------------------------------------------------
    def start(self, now: float) -> list[Action]:
        """Startup event (RFC 3768 section 6.4.1). keepalived: ``state MASTER`` with
        priority 255 takes over at once; any other router starts as backup."""
        if self.down:
            return self._fault(now, "tracked object down at startup")
        if self.params.priority == PRIORITY_OWNER:
            return self._become_master(now, "address owner (priority 255)")
        return self._become_backup(now, "startup")

    def expire(self, now: float) -> list[Action]:
        """Call at or after ``next_deadline()``; does nothing if no timer is due."""
        out: list[Action] = []
        if self.garp_at is not None and now >= self.garp_at and self.state is State.MASTER:
            out += self._garp_timer(now)
        if self.deadline is None or now < self.deadline:
            return out
        if self.state is State.MASTER:
            # RFC 3768 section 6.4.3: Adver_Timer fired.
            self.deadline = now + self.params.advert_int
            return [*out, self.send()]
        if self.state is State.BACKUP:
            # RFC 3768 section 6.4.2: Master_Down_Timer fired.
            return out + self._become_master(now, "master down timer expired")
        return out

    def _garp_timer(self, now: float) -> list[Action]:
        p = self.params
        if self._garp_second_pending:
            self._garp_second_pending = False
            count = p.garp_master_repeat
        else:
            count = p.garp_master_refresh_repeat
        self.garp_at = now + p.garp_master_refresh if p.garp_master_refresh > 0 else None
        return [Garp(p.vips, count)]

    def receive(
        self, now: float, source: Address, advert: Advert, ah: AhSeen | None = None
    ) -> list[Action]:
        """An advertisement from ``source`` that passed decoding (checksum, TTL, length);
        ``ah``: its AH header's verdict, when it came under AH."""
        p = self.params
        if source == p.primary_ip:
            return []  # our own, looped back
        if p.version == 2 and (p.auth_type is AuthType.AH) != (ah is not None):
            detail = "no AH header" if ah is None else "an AH header, auth_type is not AH"
            return [self._reject(Reject.AUTH_TYPE_MISMATCH, source, detail)]
        if ah is not None:
            if not ah.authentic:
                return [self._reject(Reject.AUTH_MISMATCH, source, "AH ICV or SPI differs")]
            if ah.seq <= self.ah_seq:
                return [self._reject(Reject.REPLAYED, source, f"AH seq {ah.seq} <= {self.ah_seq}")]
            self.ah_seq = ah.seq
        if p.check_unicast_src and p.unicast_peers and source not in p.unicast_peers:
            return [self._reject(Reject.UNKNOWN_SOURCE, source, "not a unicast_peer")]
        try:
            check(advert, p.vrid, p.auth_type, p.auth_pass, p.interval_cs)
        except PacketError as exc:
            assert isinstance(exc.reason, Reject)
            return [self._reject(exc.reason, source, exc.detail)]
        if advert.version != p.version:
            return [self._reject(Reject.BAD_VERSION, source, f"v{advert.version} advert")]
        if self.state is State.BACKUP:
            return self._receive_backup(now, source, advert)
        if self.state is State.MASTER:
            return self._receive_master(now, source, advert)
        return []  # INITIALIZE and FAULT ignore adverts

    def _reject(self, reason: Reject, source: Address, detail: str) -> Rejected:
        self.rejected[reason] = self.rejected.get(reason, 0) + 1
        return Rejected(reason, source, detail)

    def _receive_backup(self, now: float, source: Address, advert: Advert) -> list[Action]:
        """RFC 3768 section 6.4.2, with keepalived's preempt_delay."""
        if advert.priority == PRIORITY_STOP:
            # The master resigned: take over after Skew_Time only.
            self.deadline = now + self.skew_time()
            return []
        lower = advert.priority < self.priority
        in_delay = self.params.preempt_delay > 0 and (
            self.preempt_until is None or now < self.preempt_until
        )
        if lower and not self.params.nopreempt and not in_delay:
            return []  # discard: the down timer will make us master (pre-emption)
        if lower and self.params.preempt_delay > 0 and self.preempt_until is None:
            self.preempt_until = now + self.params.preempt_delay
        elif not lower:
            self.preempt_until = None
        if self.params.version == 3:
            self.master_adver_int = advert.interval  # RFC 5798 section 6.4.2
        self.master_ip = source
        self.deadline = now + self.master_down_interval()
        return []

    def _receive_master(self, now: float, source: Address, advert: Advert) -> list[Action]:
        """RFC 3768 section 6.4.3."""
        if advert.priority == PRIORITY_STOP:
            self.deadline = now + self.params.advert_int
            return [self.send()]
        higher = advert.priority > self.priority or (
            advert.priority == self.priority and int(source) > int(self.params.primary_ip)
        )
        if not higher:
            return []
        if self.params.version == 3:
            self.master_adver_int = advert.interval
        self.master_ip = source
        return self._become_backup(now, f"higher priority {advert.priority} from {source}")

    def track(self, now: float, name: str, up: bool, weight: int | None) -> list[Action]:
        """A tracked interface or script changed. ``weight`` None: its failure is a FAULT;
        otherwise keepalived's rule: a positive weight is added while up, a negative one
        while down."""
        if weight is None:
            was = bool(self.down)
            (self.down.discard if up else self.down.add)(name)
            if self.down and not was:
                return self._fault(now, f"{name} down")
            if was and not self.down and self.state is State.FAULT:
                return self._leave_fault(now, f"{name} up")
            return []
        delta = weight if (up == (weight > 0)) else 0
        key = f"weight:{name}"
        old, old_down = self.priority, self.master_down_interval()
        self.weight += delta - self._weights.get(key, 0)
        self._weights[key] = delta
        if self.priority != old and self.state is State.MASTER:
            return [self.send()]  # tell the backups at once
        if self.priority > old and self.state is State.BACKUP and self.deadline is not None:
            # keepalived (vrrp_set_effective_priority): a backup whose priority rises
            # has its running Master_Down_Timer shortened to the new priority's skew,
            # not kept until the next advert it accepts (which may never come: it now
            # discards a lower-priority master's).
            self.deadline += self.master_down_interval() - old_down
        return []

    def _fault(self, now: float, reason: str) -> list[Action]:
        if self.state is State.FAULT:
            return []
        out = self._leave_master()
        out += self._move(State.FAULT, reason)
        self.deadline = self.garp_at = None
        return out

    def _leave_fault(self, now: float, reason: str) -> list[Action]:
        if self.params.priority == PRIORITY_OWNER:
            return self._become_master(now, reason)
        return self._become_backup(now, reason)

    def stop(self, now: float) -> list[Action]:
        """Shutdown event (RFC 3768 section 6.4.3): priority-0 advert, addresses removed."""
        out = self._leave_master()
        if self.state is not State.INITIALIZE:
            out += self._move(State.INITIALIZE, "shutdown")
        self.deadline = self.garp_at = None
        return out

    def force(self, now: float, state: State, reason: str) -> list[Action]:
        """A sync group moves this member with its peers (keepalived vrrp_sync_group)."""
        if state is self.state:
            return []
        if state is State.MASTER:
            return self._become_master(now, reason)
        if state is State.BACKUP:
            return self._become_backup(now, reason)
        if state is State.FAULT:
            return self._fault(now, reason)
        return self.stop(now)
