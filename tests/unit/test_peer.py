"""One keepalived.conf is enough: the peer a deployment runs beside it, derived
(``lablb.config.peer``) and written as a config set (``lablb.config.pair``)."""

from __future__ import annotations

from ipaddress import IPv4Address
from pathlib import Path

import pytest

from lablb.config.load import load
from lablb.config.pair import write_pair
from lablb.config.peer import derive_peer, unicast_peer_for
from lablb.errors import UsageError
from tests.conftest import parse_text

MULTICAST = """
global_defs {
    router_id LVS_WEB
}
vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 61
    priority 150
    advert_int 1
    virtual_ipaddress {
        10.10.0.100/24
    }
}
"""

UNICAST = """
vrrp_instance VI_1 {
    state MASTER
    interface ens5
    virtual_router_id 7
    priority 101
    unicast_src_ip 10.0.1.10
    unicast_peer {
        10.0.1.11
        10.0.1.12
    }
    virtual_ipaddress {
        10.0.1.100/24
    }
}
"""


def test_the_master_file_gives_a_backup_one_priority_lower() -> None:
    config = parse_text(MULTICAST).config
    peer, said = derive_peer(config)
    (inst,) = peer.vrrp_instances
    assert (inst.state, inst.priority) == ("BACKUP", 149)
    assert peer.global_defs.router_id == "LVS_WEB-peer"
    assert peer.vrrp_instances[0].virtual_ipaddress == config.vrrp_instances[0].virtual_ipaddress
    assert [str(s) for s in said] == [
        "VI_1: state MASTER -> BACKUP, priority 150 -> 149",
        "router_id LVS_WEB -> LVS_WEB-peer",
    ]


def test_an_address_owner_peer_is_254_and_all_backup_files_stay_backup() -> None:
    owner = parse_text(MULTICAST.replace("priority 150", "priority 255")).config
    assert derive_peer(owner)[0].vrrp_instances[0].priority == 254
    nopreempt = MULTICAST.replace("state MASTER", "state BACKUP\n    nopreempt")
    (inst,) = derive_peer(parse_text(nopreempt).config)[0].vrrp_instances
    assert (inst.state, inst.priority, inst.nopreempt) == ("BACKUP", 149, True)


def test_active_active_mirrors_each_instance() -> None:
    second = (
        MULTICAST.split("vrrp_instance")[1]
        .replace("VI_1", "VI_2")
        .replace("MASTER", "BACKUP")
        .replace("61", "62")
        .replace("150", "100")
        .replace("10.10.0.100", "10.10.0.101")
    )
    config = parse_text(MULTICAST + "vrrp_instance" + second).config
    a, b = derive_peer(config)[0].vrrp_instances
    assert (a.state, a.priority) == ("BACKUP", 149)
    assert (b.state, b.priority) == ("MASTER", 101)


def test_unicast_source_and_first_peer_swap() -> None:
    (inst,) = derive_peer(parse_text(UNICAST).config)[0].vrrp_instances
    assert inst.unicast_src_ip == IPv4Address("10.0.1.11")
    assert inst.unicast_peer == (IPv4Address("10.0.1.10"), IPv4Address("10.0.1.12"))


def test_unicast_without_a_source_lists_the_address_the_lab_gives_the_node() -> None:
    config = parse_text(UNICAST.replace("    unicast_src_ip 10.0.1.10\n", "")).config
    # .1 is the lab's router; .11 and .12 are named by the file.
    assert unicast_peer_for(config, config.vrrp_instances[0]) == IPv4Address("10.0.1.2")
    (inst,) = derive_peer(config)[0].vrrp_instances
    assert inst.unicast_src_ip == IPv4Address("10.0.1.11")
    assert inst.unicast_peer == (IPv4Address("10.0.1.2"), IPv4Address("10.0.1.12"))


def test_the_set_runs_the_users_own_file_and_a_peer_that_loads(tmp_path: Path) -> None:
    user = tmp_path / "etc" / "keepalived.conf"
    user.parent.mkdir()
    (user.parent / "vip.inc").write_text("10.10.0.100/24\n")
    user.write_text(MULTICAST.replace("10.10.0.100/24", "include vip.inc"))
    folder, _ = write_pair(user, None, tmp_path / "set")
    assert sorted(p.name for p in folder.iterdir()) == ["DERIVED.txt", "lb01.conf", "lb02.conf"]
    assert f"include {user.resolve()}" in (folder / "lb01.conf").read_text()
    node = load(str(folder / "lb01.conf"))
    peer = load(str(folder / "lb02.conf"))
    assert node.vrrp_instances[0].priority == 150 and peer.vrrp_instances[0].priority == 149
    # the include inside the user's file resolves in its own folder, and is named
    assert node.vrrp_instances[0].virtual_ipaddress[0].where.file == str(user.parent / "vip.inc")
    assert "priority 150 -> 149" in (folder / "DERIVED.txt").read_text()
    with pytest.raises(UsageError, match="no such file"):
        write_pair(tmp_path / "nosuch.conf", None, tmp_path / "x")


def test_includes_into_etc_keepalived_are_read_from_the_files_own_folder(
    tmp_path: Path,
) -> None:
    """A deployment's file includes /etc/keepalived/conf.d/*.conf by its absolute path:
    the lab reads the user's tree (``--root``, by default the file's folder), never this
    machine's /etc/keepalived, and gives its daemons the file whole."""
    user = tmp_path / "lb" / "keepalived.conf"
    (user.parent / "conf.d").mkdir(parents=True)
    (user.parent / "conf.d" / "vip.conf").write_text("10.10.0.100/24\n")
    user.write_text(
        MULTICAST.replace("10.10.0.100/24", "include /etc/keepalived/conf.d/*.conf")
        .replace("advert_int", "nat_mask 255.255.255.0\n    advert_int")  # ignored: said
    )
    folder, said = write_pair(user, None, tmp_path / "set")
    text = (folder / "lb01.conf").read_text()
    assert "include" not in text.replace("includes", "") and "10.10.0.100/24" in text
    assert any(f"is read from {user.parent}/conf.d/*.conf" in str(d) for d in said)
    assert load(str(folder / "lb02.conf")).vrrp_instances[0].vips
    # What keepalived ignores in the user's own file is still said, with its line.
    assert f"{user}:" in (folder / "IGNORED.txt").read_text()
    assert "nat_mask" in (folder / "IGNORED.txt").read_text()
    from lablb.lab.derived import ignored_lines  # what the run's summary lists

    assert any("nat_mask" in line for line in ignored_lines(folder))
    # --root elsewhere: the tree is read from there.
    other = tmp_path / "elsewhere"
    (other / "conf.d").mkdir(parents=True)
    (other / "conf.d" / "vip.conf").write_text("10.10.0.200/24\n")
    folder, _ = write_pair(user, None, tmp_path / "set2", root=other)
    assert "10.10.0.200/24" in (folder / "lb01.conf").read_text()
    with pytest.raises(UsageError, match="no such directory"):
        write_pair(user, None, tmp_path / "set3", root=tmp_path / "nosuch")


def test_files_that_are_not_one_cluster_are_checked_one_by_one(tmp_path: Path) -> None:
    from lablb.check import check, one_cluster

    a, b, c = (tmp_path / f"{n}.conf" for n in "abc")
    a.write_text(MULTICAST)
    b.write_text(UNICAST)  # another VRID, another VIP: another cluster
    c.write_text(MULTICAST.replace("state MASTER", "state BACKUP").replace("150", "140"))
    configs = [load(str(p)) for p in (a, b, c)]
    assert not one_cluster(configs[:2]) and one_cluster([configs[0], configs[2]])
    # Linted as one cluster, VI_1's VRIDs and VIPs would disagree across a and b.
    apart = check([str(a), str(b)], offline=True)
    assert apart.status == 0, [d.format() for d in apart.diagnostics]
    together = check([str(a), str(b), str(c)], offline=True)  # b joins nothing
    assert together.status == 0, [d.format() for d in together.diagnostics]
    pair = check([str(a), str(c)], offline=True)
    assert pair.status == 0


def test_a_file_with_config_ids_runs_as_each_id_reads_it(tmp_path: Path) -> None:
    user = tmp_path / "keepalived.conf"
    user.write_text(
        MULTICAST.replace("    state MASTER\n", "@lb-b state BACKUP\n@^lb-b state MASTER\n")
        .replace("    priority 150\n", "@lb-a priority 150\n@lb-b priority 100\n")
        .replace("    router_id LVS_WEB\n", "@lb-a router_id A\n@lb-b router_id B\n")
    )
    folder, said = write_pair(user, None, tmp_path / "set")
    a, b = load(str(folder / "lb01.conf")), load(str(folder / "lb02.conf"))
    assert (a.vrrp_instances[0].state, a.vrrp_instances[0].priority) == ("MASTER", 150)
    assert (b.vrrp_instances[0].state, b.vrrp_instances[0].priority) == ("BACKUP", 100)
    assert (a.global_defs.router_id, b.global_defs.router_id) == ("A", "B")
    assert "keepalived -i lb-a" in str(said[0]) and "keepalived -i lb-b" in str(said[0])
