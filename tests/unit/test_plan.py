"""The topology a config set implies (``lablb.lab.plan``): what the configs say is used
as said; what they leave open is chosen; what cannot be derived names its line."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from pathlib import Path

import pytest

from lablb.config.model import KeepalivedConfig
from lablb.errors import ConfigError
from lablb.lab.plan import derive_plan, with_clients
from tests.conftest import SEED, parse_text

NODE = """
global_defs {{
    smtp_server 10.77.5.25
}}
vrrp_instance FRONT {{
    interface {iface}
    virtual_router_id {vrid}
    priority {prio}
    advert_int 0.05
    virtual_ipaddress {{
        10.77.5.50/24 dev {iface}
        192.0.2.80/32 dev {iface}
    }}
}}
virtual_server 192.0.2.80 8080 {{
    lvs_method {method}
    real_server 10.77.5.31 8080 {{
        TCP_CHECK {{
        }}
    }}
    real_server 10.77.5.32 8080 {{
        TCP_CHECK {{
        }}
    }}
    real_server {third} 8443 {{
        TCP_CHECK {{
        }}
    }}
}}
"""


def node(
    iface: str = "lan0",
    vrid: int = 77,
    prio: int = 200,
    method: str = "DR",
    third: str = "10.77.5.33",
) -> KeepalivedConfig:
    parsed = parse_text(
        NODE.format(iface=iface, vrid=vrid, prio=prio, method=method, third=third),
        path=f"/cfg/{iface}.conf",
    )
    assert not parsed.errors, parsed.errors
    return parsed.config


def test_a_set_nothing_describes_gets_its_own_lan_hosts_and_routes() -> None:
    plan = derive_plan({"alpha": node("lan0"), "bravo": node("lan1", prio=150)})
    assert plan.lan == IPv4Network("10.77.5.0/24") and plan.balancers == ("alpha", "bravo")
    r1, alpha, bravo = plan.host("r1"), plan.host("alpha"), plan.host("bravo")
    assert r1.links[0].address == IPv4Interface("10.77.5.1/24")  # lowest free address
    assert (alpha.links[0].interface, alpha.links[0].address.ip) == (
        "lan0",
        IPv4Address("10.77.5.2"),
    )
    assert (bravo.links[0].interface, bravo.links[0].address.ip) == (
        "lan1",
        IPv4Address("10.77.5.3"),
    )
    webs = plan.of_role("web")
    assert [str(w.links[0].address.ip) for w in webs] == ["10.77.5.31", "10.77.5.32", "10.77.5.33"]
    assert webs[2].ports == (8443,) and webs[0].lo_addresses == (IPv4Interface("192.0.2.80/32"),)
    assert r1.routes == ("192.0.2.80/32 dev eth0",)  # the service VIP is off the LAN
    assert plan.host("mx01").links[0].address.ip == IPv4Address("10.77.5.25")
    assert [c.name for c in plan.of_role("client")] == ["cl01", "cl02"]


def test_the_seed_set_implies_the_seed_lan() -> None:
    from lablb.config.load import load

    plan = derive_plan({n: load(str(SEED / f"{n}.conf")) for n in ("lb01", "lb02")})
    assert plan.lan == IPv4Network("172.30.0.0/24")
    assert {str(w.links[0].address.ip) for w in plan.of_role("web")} == {
        "172.30.0.23",
        "172.30.0.24",
    }


def test_extra_clients_take_the_next_free_addresses_behind_r1() -> None:
    from lablb.config.load import load

    plan = derive_plan({n: load(str(SEED / f"{n}.conf")) for n in ("lb01", "lb02")})
    assert with_clients(plan, 1) is plan and with_clients(plan, 2) is plan
    more = with_clients(plan, 4)
    clients = more.of_role("client")
    assert [c.name for c in clients] == ["cl01", "cl02", "cl03", "cl04"]
    addrs = [c.links[0].address for c in clients]
    assert len(set(addrs)) == 4 and all(a.network == plan.clients for a in addrs)
    assert {c.default_route for c in clients} == {plan.clients.network_address + 1}
    assert more.hosts[: len(plan.hosts)] == plan.hosts


@pytest.mark.parametrize(
    ("configs", "says", "line"),
    [
        ({"alpha": node(), "bravo": node("lan1", vrid=78)}, "which no other file uses", 5),
        ({"alpha": node(third="10.9.9.9"), "bravo": node()}, "is not on the server LAN", 25),
        ({"Alpha_1": node(), "bravo": node()}, "cannot name a lab host", 0),
        ({"alpha": node()}, "a balancer alone", 5),
    ],
)
def test_what_cannot_be_derived_is_an_error_naming_its_line(
    configs: dict[str, KeepalivedConfig], says: str, line: int
) -> None:
    with pytest.raises(ConfigError) as err:
        derive_plan(configs)
    assert says in str(err.value) and err.value.line == line, str(err.value)


def test_a_unicast_node_without_a_source_gets_the_address_its_derived_peer_lists() -> None:
    from lablb.config.peer import derive_peer

    text = """
vrrp_instance VI_1 {
    state MASTER
    interface ens5
    virtual_router_id 7
    priority 101
    unicast_peer {
        10.0.1.11
    }
    virtual_ipaddress {
        10.0.1.100/24
    }
}
"""
    node_config = parse_text(text).config
    peer, _ = derive_peer(node_config)
    plan = derive_plan({"lb01": node_config, "lb02": peer})
    lb01, lb02 = plan.host("lb01"), plan.host("lb02")
    assert lb02.links[0].address.ip == IPv4Address("10.0.1.11")  # its unicast_src_ip
    assert peer.vrrp_instances[0].unicast_peer == (lb01.links[0].address.ip,)
    assert plan.host("r1").links[0].address.ip == IPv4Address("10.0.1.1")


def test_a_vip_without_a_prefix_puts_the_lan_on_its_slash_24_and_says_so() -> None:
    """The Kubernetes HA guide writes the VIP bare (keepalived's /32): the file does not
    say the LAN, so the lab takes the VIP's /24, and its notes say where it came from."""
    from lablb.lab.plan import lan_of

    text = (
        "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n priority 101\n"
        " virtual_ipaddress {\n  10.0.0.200\n }\n}\n"
    )
    inst = parse_text(text).config.vrrp_instances[0]
    lan, how = lan_of(inst)
    assert str(lan) == "10.0.0.0/24" and "no prefix" in how
    peer = " unicast_peer {\n  10.9.9.3\n }\n virtual_ipaddress"
    unicast = text.replace(" virtual_ipaddress", peer)
    lan, how = lan_of(parse_text(unicast).config.vrrp_instances[0])
    assert str(lan) == "10.9.9.0/24" and how == "first unicast peer's /24"


def test_an_instance_on_another_interface_gets_a_lan_of_its_own() -> None:
    """An NFS pair's sync group: VI_NFS on eth0, VI_NFS_BACK on eth1 (10.1.0.0/24)."""
    lans = (("A", "eth0", 71, "10.0.0.150/24"), ("B", "eth1", 72, "10.1.0.150/24"))

    def conf(prio: int) -> KeepalivedConfig:
        text = "".join(
            f"vrrp_instance {n} {{\n interface {i}\n virtual_router_id {v}\n priority {prio}\n"
            f" virtual_ipaddress {{\n  {vip}\n }}\n}}\n"
            for n, i, v, vip in lans
        )
        return parse_text(text).config

    plan = derive_plan({"lb01": conf(100), "lb02": conf(99)})
    links = {h.name: {ln.interface: ln for ln in h.links} for h in plan.of_role("balancer")}
    assert str(links["lb01"]["eth1"].address) == "10.1.0.1/24"
    assert str(links["lb02"]["eth1"].address) == "10.1.0.2/24"
    assert links["lb01"]["eth1"].switch == links["lb02"]["eth1"].switch == "lan-eth1"
    assert any(n.startswith("eth1: a LAN of its own, 10.1.0.0/24") for n in plan.notes)


def test_a_tracked_interface_on_no_instance_is_given_to_the_balancers() -> None:
    """keepalived will not start without a tracked interface (bond0): the lab gives each
    balancer one, on a link of its own, up."""
    text = (
        "vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 51\n priority {p}\n"
        " track_interface {{\n  bond0\n }}\n virtual_ipaddress {{\n  10.0.0.100/24\n }}\n}}\n"
    )
    plan = derive_plan({n: parse_text(text.format(p=p)).config for n, p in (("a", 100), ("b", 99))})
    for h in plan.of_role("balancer"):
        assert [ln.interface for ln in h.links] == ["eth0", "bond0"]
    assert any(n.startswith("bond0: tracked, on no instance") for n in plan.notes)


CORPUS = Path(__file__).parent.parent / "corpus"


def pair_plan(name: str):  # type: ignore[no-untyped-def]
    """The plan of one corpus file and the peer lablb derives for it."""
    from lablb.config.load import load_lenient
    from lablb.config.peer import derive_peer

    one = load_lenient(str(CORPUS / name))
    return derive_plan({"lb01": one, "lb02": derive_peer(one)[0]})


def test_lvs_nat_off_the_lan_gets_a_real_server_lan_on_the_balancers_and_a_gateway() -> None:
    plan = pair_plan("rw-lvs-nat-web.conf")
    lb01 = plan.host("lb01")
    assert [(x.interface, str(x.address), x.switch) for x in lb01.links] == [
        ("eth0", "10.0.0.2/24", "lan"),
        ("eth1", "192.168.10.1/24", "lan-eth1"),
    ]
    for web in plan.of_role("web"):
        assert web.links[0].switch == "lan-eth1"
        assert web.default_route == IPv4Address("192.168.10.254")  # the added gateway VIP
        assert web.lo_addresses == () and not web.decap  # NAT: no VIP on the real server
    assert any("the lab adds 192.168.10.254/24 dev eth1 on VI_1" in n for n in plan.notes)


def test_lvs_nat_on_the_lan_routes_through_the_vip() -> None:
    plan = pair_plan("lvs-nat-rs-port-zero.conf")
    (web,) = plan.of_role("web")
    assert web.links[0].switch == "lan" and web.default_route == IPv4Address("10.0.0.1")


def test_lvs_tun_real_servers_off_the_lan_sit_behind_the_router_and_unwrap() -> None:
    plan = pair_plan("rw-lvs-tun.conf")
    r1 = plan.host("r1")
    assert (r1.links[2].interface, str(r1.links[2].address)) == ("eth2", "172.16.5.1/24")
    (web,) = plan.of_role("web")
    assert web.decap and web.default_route == IPv4Address("172.16.5.1")
    assert web.lo_addresses == (IPv4Interface("10.0.0.100/32"),)
    assert plan.host("lb01").links[1:] == ()  # the balancers reach it through r1
