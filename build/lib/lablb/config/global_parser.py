"""``global_defs`` and the top-level blocks that are neither VRRP instances nor
virtual servers (after keepalived's ``global_parser.c``): static addresses, routes and
rules, linkbeat interfaces, track files, track processes, BFD instances, virtual
server groups.

Pure. Every keyword of keepalived.conf(5)'s "Global definitions" is known; the ones
lablb acts on are typed fields, the rest are kept and, where keepalived validates a
value, validated.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address

from lablb.config import check_parser as lvs
from lablb.config import values as v
from lablb.config import vrrp_parser as vrrp
from lablb.config.blocks import BlockSpec, f, kept, same, value_of
from lablb.config.diagnostics import Diagnostic
from lablb.config.tree import Statement


def multicast4(stmt: Statement, diags: list[Diagnostic]) -> IPv4Address:
    tok = v.arg(stmt, diags, "an address")
    addr = v.parse_ipv4(tok, stmt.name)
    if not addr.is_multicast:
        raise v.bad(
            tok,
            "not-multicast",
            f"{stmt.name} {addr} is not a multicast address; keepalived ignores it",
            "VRRP's group is 224.0.0.18 (RFC 3768 section 5.2.2)",
        )
    return addr


def _multicast6(stmt: Statement, diags: list[Diagnostic]) -> None:
    tok = v.arg(stmt, diags, "an address")
    addr = v.parse_ip(tok, stmt.name)
    if not isinstance(addr, IPv6Address) or not addr.is_multicast:
        raise v.bad(
            tok,
            "not-multicast",
            f"{stmt.name} {addr} is not an IPv6 multicast address; keepalived ignores it",
            "VRRP's IPv6 group is ff02::12 (RFC 5798 section 5.1.2.2)",
        )


# global_defs keywords lablb keeps without acting on them (keepalived.conf(5)).
GLOBAL_KEPT = frozenset(
    [
        "net_namespace",
        "net_namespace_ipvs",
        "namespace_with_ipsets",
        "instance",
        "use_pid_dir",
        "linkbeat_use_polling",
        "child_wait_time",
        "process_names",
        "process_name",
        "vrrp_process_name",
        "checker_process_name",
        "bfd_process_name",
        "dbus_service_name",
        "startup_script",
        "startup_script_timeout",
        "shutdown_script",
        "shutdown_script_timeout",
        "notify_fifo",
        "notify_fifo_script",
        "vrrp_notify_fifo",
        "vrrp_notify_fifo_script",
        "lvs_notify_fifo",
        "lvs_notify_fifo_script",
        "fifo_write_vrrp_states_on_reload",
        "smtp_alert",
        "smtp_alert_vrrp",
        "smtp_alert_checker",
        "checker_log_all_failures",
        "no_email_faults",
        "no_checker_emails",
        "default_interface",
        "disable_local_igmp",
        "lvs_timeouts",
        "lvs_flush",
        "lvs_flush_on_stop",
        "vrrp_mcast_group6",
        "vrrp_garp_lower_prio_delay",
        "vrrp_garp_lower_prio_repeat",
        "vrrp_gna_interval",
        "vrrp_min_garp",
        "vrrp_lower_prio_no_advert",
        "vrrp_higher_prio_send_advert",
        "vrrp_garp_extra_if",
        "vrrp_down_timer_adverts",
        "vrrp_iptables",
        "vrrp_ipsets",
        "nftables",
        "nftables_priority",
        "nftables_ifindex",
        "nftables_counters",
        "nftables_ipvs",
        "nftables_ipvs_priority",
        "nftables_ipvs_start_fwmark",
        "vrrp_skip_check_adv_addr",
        "vrrp_strict",
        "checker_priority",
        "bfd_priority",
        "vrrp_no_swap",
        "checker_no_swap",
        "bfd_no_swap",
        "checker_rt_priority",
        "bfd_rt_priority",
        "checker_rlimit_rttime",
        "bfd_rlimit_rttime",
        "vrrp_cpu_affinity",
        "checker_cpu_affinity",
        "bfd_cpu_affinity",
        "snmp_socket",
        "enable_traps",
        "enable_snmp_vrrp",
        "enable_snmp_checker",
        "enable_snmp_rfc",
        "enable_snmp_rfcv2",
        "enable_snmp_rfcv3",
        "enable_dbus",
        "script_user",
        "enable_script_security",
        "script_security",
        "vrrp_netlink_cmd_rcv_bufs",
        "vrrp_netlink_cmd_rcv_bufs_force",
        "vrrp_netlink_monitor_rcv_bufs",
        "vrrp_netlink_monitor_rcv_bufs_force",
        "process_monitor_rcv_bufs",
        "process_monitor_rcv_bufs_force",
        "lvs_netlink_cmd_rcv_bufs",
        "lvs_netlink_cmd_rcv_bufs_force",
        "lvs_netlink_monitor_rcv_bufs",
        "lvs_netlink_monitor_rcv_bufs_force",
        "rs_init_notifies",
        "no_checker_emails",
        "vrrp_rx_bufs_policy",
        "vrrp_rx_bufs_multiplier",
        "vrrp_startup_delay",
        "log_unknown_vrids",
        "vmac_prefix",
        "vmac_addr_prefix",
        "dynamic_interfaces",
        "max_auto_priority",
        "min_auto_priority_delay",
        "random_seed",
        "reload_check_config",
        "reload_time_file",
        "reload_repeat",
        "reload_file",
        "config_save_dir",
        "data_use_instance",
        "umask",
        "tmp_config_directory",
        "include_check",
        "vrrp_notify_priority_changes",
    ]
)

GLOBAL_DEFS = BlockSpec(
    "global_defs",
    {
        "notification_email": f("notification_email", v.words, block=True),
        **same(
            {
                "notification_email_from": v.string,
                "smtp_helo_name": v.string,
                "smtp_connect_timeout": v.timer(1, 3600),
                "router_id": v.string,
                "vrrp_mcast_group4": multicast4,
                "vrrp_version": v.integer(2, 3),
                "vrrp_garp_master_delay": v.timer(0, 255),
                "vrrp_garp_master_repeat": v.integer(0, 255),
                "vrrp_garp_master_refresh": v.timer(0, 86400),
                "vrrp_garp_master_refresh_repeat": v.integer(0, 255),
                "vrrp_garp_interval": v.timer(0, 1),
                "vrrp_check_unicast_src": v.flag,
                "vrrp_priority": v.integer(-20, 19),
                "vrrp_rt_priority": v.integer(1, 99),
                "vrrp_rlimit_rttime": v.integer(1, 2**32 - 1),
            }
        ),
        "smtp_server": f("smtp_server", v.address_port),
        "lvs_sync_daemon": f("lvs_sync_daemon", v.sync_daemon),
    },
    unsupported=GLOBAL_KEPT,
    checks={
        "vrrp_mcast_group6": _multicast6,
        "checker_priority": value_of(v.integer(-20, 19)),
        "bfd_priority": value_of(v.integer(-20, 19)),
        "vrrp_startup_delay": value_of(v.timer(0, 3600)),
        "vrrp_down_timer_adverts": value_of(v.integer(1, 100)),
        "notify_fifo_script": value_of(v.script),
        "vrrp_notify_fifo_script": value_of(v.script),
        "lvs_notify_fifo_script": value_of(v.script),
        "startup_script": value_of(v.script),
        "shutdown_script": value_of(v.script),
    },
)


def _linkbeat(st: Statement, diags: list[Diagnostic]) -> None:
    if st.block is None:
        raise v.bad(st.keyword, "missing-block", "linkbeat_interfaces needs a { } block")


def _virtual_server_group(st: Statement, diags: list[Diagnostic]) -> None:
    lvs.group_block(st, diags)


GARP_GROUP = BlockSpec(
    "garp_group",
    {},
    unsupported=frozenset({"garp_interval", "gna_interval", "interface", "interfaces"}),
    checks={
        "garp_interval": value_of(v.timer(0, 1000)),
        "gna_interval": value_of(v.timer(0, 1000)),
    },
)
SSL = BlockSpec("SSL", {}, unsupported=frozenset({"password", "ca", "certificate", "key"}))


# Top-level keywords other than global_defs, vrrp_*, virtual_server.
TOP_KEPT = frozenset(
    {
        "virtual_server_group",
        "static_ipaddress",
        "static_routes",
        "static_rules",
        "linkbeat_interfaces",
        "track_file",
        "vrrp_track_file",
        "vrrp_track_process",
        "track_process",
        "track_group",
        "garp_group",
        "interface_up_down_delays",
        "bfd_instance",
        "net_namespace",
        "net_namespace_ipvs",
        "instance",
        "use_pid_dir",
        "SSL",
    }
)
TOP_CHECKS = {
    "static_ipaddress": vrrp.static_addresses,
    "static_routes": vrrp.static_routes,
    "static_rules": vrrp.rules,
    "track_file": vrrp.track_file_block,
    "vrrp_track_file": vrrp.track_file_block,
    "vrrp_track_process": vrrp.track_process_block,
    "track_process": vrrp.track_process_block,
    "bfd_instance": vrrp.bfd_instance_block,
    "linkbeat_interfaces": _linkbeat,
    "virtual_server_group": _virtual_server_group,
    "garp_group": kept(GARP_GROUP),
    "SSL": kept(SSL),
}
