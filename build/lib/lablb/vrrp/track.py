"""Rise/fall counting for tracked scripts (keepalived ``vrrp_script``). Pure.

A script's result only changes the tracked state after ``rise`` consecutive successes
(down -> up) or ``fall`` consecutive failures (up -> down), as keepalived.conf(5)
describes ``vrrp_script``. Before its first result a script has no state, and the
first result decides it, whatever rise and fall (keepalived's INIT: it counts a new
script as rise - 1 successes, so one success makes it good and one failure bad; its
weight applies from then on). ``init_fail`` starts it as down: ``rise`` successes
bring it up; its first result is reported either way.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class RiseFall:
    rise: int = 1
    fall: int = 1
    init_fail: bool = False
    up: bool = True
    _run: int = 0  # consecutive results that disagree with ``up``
    _known: bool = False  # a first result has been fed

    def __post_init__(self) -> None:
        if self.init_fail:
            self.up = False

    def result(self, ok: bool) -> bool | None:
        """Feed one result; returns the new state when it changes (or is first
        known), else None."""
        if not self._known:
            self._known = True
            if not self.init_fail or not ok:
                self.up, self._run = ok, 0
                return ok
            self._run = 1
            if self._run >= self.rise:
                self.up, self._run = True, 0
            return self.up
        if ok == self.up:
            self._run = 0
            return None
        self._run += 1
        if self._run >= (self.rise if ok else self.fall):
            self.up, self._run = ok, 0
            return ok
        return None
