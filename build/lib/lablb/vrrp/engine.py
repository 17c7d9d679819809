"""All the VRRP instances of one keepalived.conf, with their sync groups. Pure.

``Engine`` routes inputs to the right ``Router`` (by interface and VRID for adverts, by
name for tracked objects) and applies ``vrrp_sync_group``: when one member moves to
MASTER, BACKUP or FAULT, the others follow (keepalived.conf(5), vrrp_sync_group). Every
output is ``(instance name, action)``. No clock, no sockets: the daemon edge does I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address

from lablb.config.model import KeepalivedConfig, VrrpInstance, v4
from lablb.errors import ConfigError
from lablb.vrrp.fsm import Action, AhSeen, Params, Router, State, Transition
from lablb.vrrp.packet import Address, Advert, AuthType

Out = tuple[str, Action]


def _at(inst: VrrpInstance, message: str, hint: str = "") -> ConfigError:
    w = inst.where
    return ConfigError(
        f"vrrp_instance {inst.name}: {message}", file=w.file, line=w.line, col=w.col, hint=hint
    )


def family_of(inst: VrrpInstance) -> int:
    """4 or 6: an instance is of its first virtual address's family (keepalived.conf(5):
    one family per instance; the excluded addresses may mix)."""
    return inst.vips[0].version if inst.vips else 4


def params_of(config: KeepalivedConfig, inst: VrrpInstance, primary_ip: Address) -> Params:
    """The machine's parameters for one instance; per-instance GARP settings override
    ``global_defs`` as in keepalived."""
    g = config.global_defs
    if inst.virtual_router_id is None:
        raise _at(inst, "no virtual_router_id")
    auth_type, auth_pass = AuthType.NONE, b""
    if inst.authentication is not None:
        kind = AuthType.AH if inst.authentication.auth_type == "AH" else AuthType.PASS
        auth_type, auth_pass = kind, inst.authentication.auth_pass.encode()[:8]

    def pick(own: float | None, default: float) -> float:
        return default if own is None else own

    return Params(
        name=inst.name,
        vrid=inst.virtual_router_id,
        priority=inst.priority,
        advert_int=inst.advert_int,
        primary_ip=v4(inst.unicast_src_ip) if inst.unicast_src_ip else primary_ip,
        vips=tuple(inst.vips),
        version=config.version_of(inst),
        # keepalived starts an AH instance as BACKUP whatever its state says.
        want_master=inst.state == "MASTER" and auth_type is not AuthType.AH,
        nopreempt=inst.nopreempt,
        preempt_delay=inst.preempt_delay,
        auth_type=auth_type,
        auth_pass=auth_pass,
        down_timer_adverts=inst.down_timer_adverts,
        garp_master_delay=pick(inst.garp_master_delay, g.vrrp_garp_master_delay),
        garp_master_repeat=int(pick(inst.garp_master_repeat, g.vrrp_garp_master_repeat)),
        garp_master_refresh=pick(inst.garp_master_refresh, g.vrrp_garp_master_refresh),
        garp_master_refresh_repeat=int(
            pick(inst.garp_master_refresh_repeat, g.vrrp_garp_master_refresh_repeat)
        ),
        unicast_peers=tuple(v4(p) for p in inst.unicast_peer),
        check_unicast_src=inst.check_unicast_src or g.vrrp_check_unicast_src,
    )


@dataclass
class Engine:
    """The routers of one node. ``interfaces`` maps instance name -> interface name."""

    routers: dict[str, Router]
    interfaces: dict[str, str]
    groups: dict[str, tuple[str, ...]]
    families: dict[str, int] = field(default_factory=dict)  # instance -> 4 or 6

    @classmethod
    def from_config(
        cls,
        config: KeepalivedConfig,
        primary_ips: Mapping[str, IPv4Address],
        link_locals: Mapping[str, IPv6Address] | None = None,
    ) -> Engine:
        """``primary_ips``: interface -> its primary IPv4 address, the source of IPv4
        adverts; ``link_locals``: interface -> its link-local address, IPv6's."""
        routers, interfaces, families = {}, {}, {}
        for inst in config.vrrp_instances:
            if inst.interface is None:
                raise _at(inst, "no interface")
            family = family_of(inst)
            sources: Mapping[str, Address] = primary_ips if family == 4 else (link_locals or {})
            if inst.interface not in sources:
                what = "IPv4 address" if family == 4 else "link-local IPv6 address"
                raise _at(
                    inst,
                    f"interface {inst.interface} has no {what} on this node",
                    "check the interface name against `ip -br addr`",
                )
            routers[inst.name] = Router(params_of(config, inst, sources[inst.interface]))
            interfaces[inst.name] = inst.interface
            families[inst.name] = family
        groups = {
            g.name: tuple(m for m in g.group if m in routers) for g in config.vrrp_sync_groups
        }
        return cls(routers, interfaces, groups, families)

    def deadline(self) -> float | None:
        times = [t for r in self.routers.values() if (t := r.next_deadline()) is not None]
        return min(times) if times else None

    def start(self, now: float) -> list[Out]:
        return self._each(now, lambda r: r.start(now))

    def stop(self, now: float) -> list[Out]:
        return [(name, a) for name, r in self.routers.items() for a in r.stop(now)]

    def expire(self, now: float) -> list[Out]:
        return self._each(now, lambda r: r.expire(now))

    def receive(
        self,
        now: float,
        interface: str,
        source: Address,
        advert: Advert,
        ah: AhSeen | None = None,
    ) -> list[Out]:
        """Hand an advert to the instance on ``interface`` with its VRID and family (IPv4
        and IPv6 VRIDs are separate spaces). An advert for a VRID nobody here runs is
        none of our business (another cluster on the LAN)."""
        name = self.instance_for(interface, advert.vrid, source.version)
        if name is None:
            return []
        router = self.routers[name]
        return self._sync(now, [(name, a) for a in router.receive(now, source, advert, ah)])

    def instance_for(self, interface: str, vrid: int, family: int = 4) -> str | None:
        """The instance that runs ``vrid`` of ``family`` on ``interface``, if any."""
        for name, router in self.routers.items():
            if (
                self.interfaces[name] == interface
                and router.params.vrid == vrid
                and self.families.get(name, 4) == family
            ):
                return name
        return None

    def track_interface(self, now: float, interface: str, up: bool) -> list[Out]:
        """An interface changed state: instances on it go to FAULT or leave it
        (keepalived tracks an instance's own interface implicitly)."""
        out: list[Out] = []
        for name, router in self.routers.items():
            if self.interfaces[name] == interface:
                out += [(name, a) for a in router.track(now, f"interface {interface}", up, None)]
        return self._sync(now, out)

    def track(
        self, now: float, instance: str, name: str, up: bool, weight: int | None
    ) -> list[Out]:
        router = self.routers[instance]
        return self._sync(now, [(instance, a) for a in router.track(now, name, up, weight)])

    def _each(self, now: float, step: Callable[[Router], list[Action]]) -> list[Out]:
        out: list[Out] = []
        for name, router in self.routers.items():
            out += [(name, a) for a in step(router)]
        return self._sync(now, out)

    def _sync(self, now: float, out: list[Out]) -> list[Out]:
        """Sync groups: members follow a member's move. Forced moves do not cascade."""
        forced: list[Out] = []
        for name, action in out:
            if not isinstance(action, Transition) or action.new is State.INITIALIZE:
                continue
            for group, members in self.groups.items():
                if name not in members:
                    continue
                for other in members:
                    router = self.routers[other]
                    if other == name or router.state is action.new:
                        continue
                    if router.state is State.FAULT and action.new is not State.FAULT:
                        continue  # a faulty member holds the group where it is
                    why = f"sync group {group}: {name} went {action.new.value}"
                    forced += [(other, a) for a in router.force(now, action.new, why)]
        return out + forced

    def states(self) -> dict[str, State]:
        return {name: r.state for name, r in self.routers.items()}

    def instances_on(self, interface: str) -> Iterable[str]:
        return (n for n, i in self.interfaces.items() if i == interface)


def adopt(old: Engine, new: Engine, now: float) -> list[Out]:
    """Reload (SIGHUP): routers that are still the same virtual router keep their state
    and timers and take their new parameters (``Router.retune``); removed ones, and ones
    that became another router (VRID, version, authentication type, interface), stop
    (priority 0 if master); new ones start."""
    out: list[Out] = []
    for name, router in old.routers.items():
        kept = new.routers.get(name)
        if (
            kept is not None
            and new.interfaces[name] == old.interfaces[name]
            and new.families.get(name) == old.families.get(name)
            and router.retunable(kept.params)
        ):
            out += [(name, a) for a in router.retune(now, kept.params)]
            new.routers[name] = router
        else:
            out += [(name, a) for a in router.stop(now)]
    for name, router in new.routers.items():
        if router.state is State.INITIALIZE:
            out += [(name, a) for a in router.start(now)]
    return new._sync(now, out)
