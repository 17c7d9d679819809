"""Health-checker timing and the real servers' pool, as keepalived's checkers behave.
Pure: results and ``now`` come in; health changes and pool actions go out.

One checker (keepalived.conf(5), real_server checkers): a check every ``delay_loop``;
a failed attempt is retried ``retry`` times, ``delay_before_retry`` apart, each attempt
bounded by ``connect_timeout``; only when every attempt failed does the server go DOWN.
One success brings it UP. ``alpha`` starts it DOWN. A real server is up when all its
checkers are.

The pool applies what a virtual server says about failures: remove the server, or with
``inhibit_on_failure`` keep it with weight 0 (quiesced); ``quorum`` and ``hysteresis``
decide when the service as a whole is up, and ``sorry_server`` takes over when it is not.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from ipaddress import IPv4Address

from lablb.config.model import Checker, RealServer, VirtualServer, v4


@dataclass(frozen=True)
class Timing:
    delay_loop: float
    connect_timeout: float
    retry: int
    delay_before_retry: float

    @classmethod
    def of(cls, c: Checker) -> Timing:
        """A MISC_CHECK attempt is bounded by misc_timeout (it has no connect_timeout).
        A FILE_CHECK has no timings: keepalived acts when the file changes, so its
        verdict follows the file at once (lablb reads it on every loop tick)."""
        if c.kind == "FILE_CHECK":
            return cls(0.0, 0.0, 0, 0.0)
        attempt = c.misc_timeout if c.kind == "MISC_CHECK" and c.misc_timeout else None
        return cls(c.delay_loop, attempt or c.connect_timeout, c.retry, c.delay_before_retry)


def detection_bound(t: Timing, refused: bool = False) -> tuple[float, float]:
    """(earliest, latest) seconds from a server failing to its checker declaring it DOWN.

    Latest: the failure starts just after a successful check, so the next check comes a
    whole ``delay_loop`` later, then ``retry + 1`` attempts of up to ``connect_timeout``
    each with ``delay_before_retry`` between them. Earliest: the failure starts just
    before a check. With ``refused`` (nothing listens: the attempt fails at once) the
    attempts take no time.
    """
    attempt = 0.0 if refused else t.connect_timeout
    tries = (t.retry + 1) * attempt + t.retry * t.delay_before_retry
    return tries, t.delay_loop + tries


def recovery_bound(t: Timing) -> float:
    """Latest seconds from a server coming back to UP: the next check, which succeeds.
    A failing server is checked every ``delay_before_retry`` while retrying, otherwise
    every ``delay_loop``."""
    return max(t.delay_loop, t.delay_before_retry) + t.connect_timeout


@dataclass
class CheckerState:
    """One checker's schedule and verdict. Call ``result`` after each attempt."""

    timing: Timing
    up: bool = True
    failures: int = 0  # failed attempts of the current check
    next_at: float = 0.0

    def due(self, now: float) -> bool:
        return now >= self.next_at

    def result(self, now: float, ok: bool) -> bool | None:
        """Record one attempt that ended at ``now``; the new health if it changed."""
        t = self.timing
        if ok:
            self.failures = 0
            self.next_at = now + t.delay_loop
            if not self.up:
                self.up = True
                return True
            return None
        self.failures += 1
        if self.failures <= t.retry:
            self.next_at = now + t.delay_before_retry
            return None
        self.failures = 0
        self.next_at = now + t.delay_loop
        if self.up:
            self.up = False
            return False
        return None


# Pool actions, for the forwarder and the alerts.
@dataclass(frozen=True)
class SetWeight:
    vs: str
    addr: IPv4Address
    port: int
    weight: int


@dataclass(frozen=True)
class Remove:
    vs: str
    addr: IPv4Address
    port: int


@dataclass(frozen=True)
class Alert:
    subject: str
    body: str


PoolAction = SetWeight | Remove | Alert


def rs_key(vs: VirtualServer, rs: RealServer) -> str:
    return f"{rs.address}:{rs.port if rs.port is not None else vs.port}"


@dataclass
class Pool:
    """One virtual server's real servers and their health."""

    vs: VirtualServer
    health: dict[str, bool] = field(default_factory=dict)
    dynamic: dict[str, int] = field(default_factory=dict)  # MISC_CHECK misc_dynamic weights
    service_up: bool = True

    def __post_init__(self) -> None:
        for rs in self.vs.real_servers:
            self.health[rs_key(self.vs, rs)] = not self.vs.alpha

    def initial(self) -> list[PoolAction]:
        """The forwarder's starting set: every server that starts up, and the sorry
        server if quorum is not met."""
        out: list[PoolAction] = []
        for rs in self.vs.real_servers:
            if self.health[rs_key(self.vs, rs)]:
                out.append(self._set(rs, rs.weight))
            elif self._inhibit(rs):
                out.append(self._set(rs, 0))
        self.service_up = self._alive_weight() >= self.vs.quorum
        if not self.service_up:
            out += self._sorry(True)
        return out

    def _set(self, rs: RealServer, weight: int) -> SetWeight:
        return SetWeight(self.vs.label, v4(rs.address), rs.port or self.vs.port or 0, weight)

    def _inhibit(self, rs: RealServer) -> bool:
        return rs.inhibit_on_failure or self.vs.inhibit_on_failure

    def _alive_weight(self) -> int:
        return sum(
            self.dynamic.get(rs_key(self.vs, rs), rs.weight)
            for rs in self.vs.real_servers
            if self.health[rs_key(self.vs, rs)]
        )

    def _sorry(self, on: bool) -> list[PoolAction]:
        if self.vs.sorry_server is None:
            return []
        addr, port = self.vs.sorry_server
        p = port or self.vs.port or 0
        if on:
            return [SetWeight(self.vs.label, v4(addr), p, 1)]
        return [Remove(self.vs.label, v4(addr), p)]

    def reconcile(self, old: Pool) -> list[PoolAction]:
        """A reload: this pool (the new config's virtual server) takes over from ``old``.
        Servers it keeps keep their health and dynamic weight; the forwarder hears only
        the difference: removed servers, new ones (up unless ``alpha``), new weights."""
        out: list[PoolAction] = []
        before = {rs_key(old.vs, rs): rs for rs in old.vs.real_servers}
        for key, rs in before.items():
            if key not in self.health:
                out.append(Remove(old.vs.label, v4(rs.address), rs.port or old.vs.port or 0))
        for rs in self.vs.real_servers:
            key = rs_key(self.vs, rs)
            if key in before:
                self.health[key] = old.health[key]
                if key in old.dynamic:
                    self.dynamic[key] = old.dynamic[key]
                if before[key].weight != rs.weight and self.health[key]:
                    out.append(self._set(rs, self.dynamic.get(key, rs.weight)))
            elif self.health[key]:
                out.append(self._set(rs, rs.weight))
            elif self._inhibit(rs):
                out.append(self._set(rs, 0))
        self.service_up = self._alive_weight() >= self.vs.quorum
        return out

    def change(
        self, rs: RealServer, up: bool, why: str, weight: int | None = None
    ) -> list[PoolAction]:
        """A real server's health changed (all its checkers agree)."""
        key = rs_key(self.vs, rs)
        if weight is not None and self.dynamic.get(key) == weight:
            weight = None  # the same dynamic weight again: nothing changed
        if weight is not None:
            self.dynamic[key] = weight
        if self.health[key] == up and weight is None:
            return []
        self.health[key] = up
        w = self.dynamic.get(key, rs.weight)
        out: list[PoolAction] = []
        if up:
            out.append(self._set(rs, w))
        elif self._inhibit(rs):
            out.append(self._set(rs, 0))
        else:
            out.append(Remove(self.vs.label, v4(rs.address), rs.port or self.vs.port or 0))
        state = "UP" if up else "DOWN"
        out.append(Alert(f"[{self.vs.label}] Realserver {key} - {state}", f"{key} {state}: {why}"))
        alive = self._alive_weight()
        h = self.vs.hysteresis
        if self.service_up and alive < self.vs.quorum - h:
            self.service_up = False
            out += self._sorry(True)
            out.append(Alert(f"[{self.vs.label}] quorum lost", f"alive weight {alive}"))
        elif not self.service_up and alive >= self.vs.quorum + h:
            self.service_up = True
            out += self._sorry(False)
            out.append(Alert(f"[{self.vs.label}] quorum regained", f"alive weight {alive}"))
        return out


def control_address(run_dir: str) -> str:
    """Where the checkers' weight changes (``SetWeight``) reach the forwarder, its control
    socket: an abstract UNIX address (no file, no 108-byte path limit), unique per run
    directory; abstract names live per network namespace, like the daemons that share
    them."""
    return "\0lablb-fwd-" + hashlib.sha1(run_dir.encode(), usedforsecurity=False).hexdigest()[:20]
