"""The Mininet host class of every lab node: a Host that also applies the topology's
declarative extras (sysctls, addresses on lo, static routes).

The topology says what (``addHost(..., sysctls=..., lo_addresses=..., routes=...)``);
this class does it when Mininet configures the host.
"""

from __future__ import annotations

from typing import Any

from mininet.node import Host

from lablb.errors import LabError


class LabHost(Host):  # type: ignore[misc]
    def config(
        self,
        sysctls: dict[str, int | str] | None = None,
        lo_addresses: list[str] | None = None,
        routes: list[str] | None = None,
        role: str = "host",
        web_ports: tuple[int, ...] = (),
        **params: Any,
    ) -> Any:
        result = super().config(**params)
        self.role = role
        self.web_ports = tuple(web_ports)  # a web node: the TCP ports it serves (default 80)
        gateway = params.get("defaultRoute")
        self.lab_routes = ([f"default {gateway}"] if gateway else []) + list(routes or ())
        for key, value in (sysctls or {}).items():
            self.must(["sysctl", "-q", "-w", f"{key}={value}"])
        for addr in lo_addresses or ():
            self.must(["ip", "addr", "add", addr, "dev", "lo"])
        for route in routes or ():
            self.must(["ip", "route", "add", *route.split()])
        return result

    def restore_routes(self) -> None:
        """Put the topology's routes back: taking a link down makes the kernel drop
        routes through it, and a rebooted machine would have them again."""
        for route in self.lab_routes:
            self.must(["ip", "route", "replace", *route.split()])

    def must(self, argv: list[str]) -> str:
        """Run ``argv`` in this host; a failure is a LabError naming host and command."""
        out, err, code = self.pexec(argv)
        if code != 0:
            raise LabError(f"{self.name}: {' '.join(argv)} failed: {(err or out).strip()}")
        return str(out)
