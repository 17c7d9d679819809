"""The Mininet host class of every lab node: a Host that also applies the topology's
declarative extras (sysctls, addresses on lo, static routes, more addresses such as
IPv6 ones).

The topology says what (``addHost(..., sysctls=..., lo_addresses=..., routes=...,
addresses=["2001:db8::1/64 dev eth0"])``); this class does it when Mininet configures
the host. A host with IPv6 addresses waits (bounded) until duplicate address detection
has released every address, link-local ones included: a daemon that starts on a
tentative address cannot bind it.
"""

from __future__ import annotations

import time
from typing import Any

from mininet.node import Host

from lablb.errors import LabError

DAD_WAIT = 5.0  # RFC 4862's one probe a second, with margin


class LabHost(Host):  # type: ignore[misc]
    def config(
        self,
        sysctls: dict[str, int | str] | None = None,
        lo_addresses: list[str] | None = None,
        routes: list[str] | None = None,
        addresses: list[str] | None = None,
        role: str = "host",
        web_ports: tuple[int, ...] = (),
        decap: bool = False,
        **params: Any,
    ) -> Any:
        result = super().config(**params)
        self.role = role
        self.web_ports = tuple(web_ports)  # a web node: the TCP ports it serves (default 80)
        self.decap = decap  # a web node of LVS-TUN: runs ``lablb.lab.decap``
        gateway = params.get("defaultRoute")
        self.lab_routes = ([f"default {gateway}"] if gateway else []) + list(routes or ())
        for key, value in (sysctls or {}).items():
            self.must(["sysctl", "-q", "-w", f"{key}={value}"])
        for addr in lo_addresses or ():
            self.must(["ip", "addr", "add", addr, "dev", "lo"])
        self.lab_addresses = list(addresses or ())
        self._add_addresses()
        for route in routes or ():
            self.must(["ip", "route", "add", *route.split()])
        if any(":" in spec.split()[0] for spec in addresses or ()):
            self.wait_dad()
        return result

    def wait_dad(self, timeout: float = DAD_WAIT) -> None:
        """Until no IPv6 address of the host is tentative (DAD takes about a second
        after a link comes up), or a LabError after ``timeout``."""
        deadline = time.monotonic() + timeout
        while self.must(["ip", "-6", "-o", "addr", "show", "tentative"]).strip():
            if time.monotonic() > deadline:
                raise LabError(f"{self.name}: IPv6 addresses still tentative after {timeout} s")
            time.sleep(0.05)

    def _add_addresses(self) -> None:
        for spec in self.lab_addresses:
            extra = ["nodad"] if ":" in spec.split()[0] else []
            self.must(["ip", "addr", "replace", *spec.split(), *extra])

    def restore_routes(self) -> None:
        """Put the topology's addresses and routes back: taking a link down makes the
        kernel drop routes through it (and IPv6 addresses, unless kept), and a rebooted
        machine would have them again."""
        self._add_addresses()
        for route in self.lab_routes:
            self.must(["ip", "route", "replace", *route.split()])

    def must(self, argv: list[str]) -> str:
        """Run ``argv`` in this host; a failure is a LabError naming host and command."""
        out, err, code = self.pexec(argv)
        if code != 0:
            raise LabError(f"{self.name}: {' '.join(argv)} failed: {(err or out).strip()}")
        return str(out)
