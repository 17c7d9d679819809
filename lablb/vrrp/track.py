"""Rise/fall counting for tracked scripts (keepalived ``vrrp_script``). Pure.

A script's result only changes the tracked state after ``rise`` consecutive successes
(down -> up) or ``fall`` consecutive failures (up -> down), as keepalived.conf(5)
describes ``vrrp_script``. ``init_fail`` starts the script as down.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class RiseFall:
    rise: int = 1
    fall: int = 1
    up: bool = True
    _run: int = 0  # consecutive results that disagree with ``up``

    def result(self, ok: bool) -> bool | None:
        """Feed one result; returns the new state when it changes, else None."""
        if ok == self.up:
            self._run = 0
            return None
        self._run += 1
        if self._run >= (self.rise if ok else self.fall):
            self.up, self._run = ok, 0
            return ok
        return None
