"""Every diagnostic code ``lablb check`` can print: where it comes from, what it
means, and an example that triggers it (``lablb check --explain CODE``).

Pure data. A code is either ``keepalived``'s (``keepalived -t`` 2.2.7 reports or
rewrites the same thing, and lablb gives it the same exit class) or a ``lab`` lint
(keepalived says nothing; lablb warns, or errs only where the mistake is certain).
A unit test keeps this table and the codes in the source in step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lablb.config.diagnostics import EXIT_CONFIG, EXIT_FATAL, EXIT_OK, EXIT_SECURITY, EXIT_STOPPED

VERDICTS = {
    EXIT_OK: "valid",
    EXIT_STOPPED: "stopped reading",
    EXIT_FATAL: "fatal",
    EXIT_CONFIG: "errors",
    EXIT_SECURITY: "script security",
}


@dataclass(frozen=True)
class Code:
    origin: Literal["keepalived", "lab"]
    meaning: str
    example: str


_K: Literal["keepalived"] = "keepalived"
_L: Literal["lab"] = "lab"
CODES: dict[str, Code] = {
    # -- reading the file ---------------------------------------------------------------
    "unreadable": Code(_K, "The file (or an included one) cannot be read. keepalived 2.2.7 "
                       "exits 0 for a missing main file (a bug); lablb exits 4.",
                       "lablb check /etc/keepalived/missing.conf"),
    "include-missing": Code(_K, "An include matches no file; keepalived goes on without it.",
                            "include /etc/keepalived/conf.d/*.conf   # empty directory"),
    "include-cycle": Code(_K, "A file includes itself, directly or through others (fatal).",
                          "include keepalived.conf   # inside keepalived.conf"),
    "include-depth": Code(_K, "Includes nested too deep (fatal).", "a.conf includes b.conf ..."),
    "include-limit": Code(_L, "An include line expanding to more than 4096 names, or more "
                          "than 4096 files read in all (fatal): keepalived has no bound.",
                          "include /etc/keepalived/{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}"
                          "{a,b}{a,b}{a,b}{a,b}{a,b}"),
    "missing-brace": Code(_K, "A block is never closed; keepalived reads the rest of the file "
                          "into it.", "vrrp_instance VI_1 {\n    interface eth0"),
    "unexpected-brace": Code(_K, "A '}' closes nothing, or a '{' opens a block with no "
                             "keyword.", "}\n}"),
    "unterminated-quote": Code(_K, "A quoted string is not closed on its line.",
                               'notify_master "/usr/local/bin/notify.sh'),
    "nbsp": Code(_K, "A no-break space (U+00A0) in place of a space: keepalived reads it as "
                 "part of a word, so the line's keyword is unknown.",
                 "\u00a0   priority 100   # copied from a web page"),
    "odd-space": Code(_K, "A Unicode space other than U+00A0 in place of a space.",
                      "priority\u2009100"),
    "deprecated-keyword": Code(_K, "A legacy keyword keepalived still honours but reports as "
                               "an error (exit 5): nb_get_retry in HTTP_GET and SSL_GET (in "
                               "other checkers it is unknown).", "HTTP_GET { nb_get_retry 3 }"),
    "prefix-ignored": Code(_K, "An address given with a prefix where keepalived takes the "
                           "address and drops the prefix.", "unicast_src_ip 10.0.0.2/24"),
    "strict-mode": Code(_K, "vrrp_strict forbids what the instance asks for (authentication, "
                        "state MASTER below priority 255): keepalived ignores it, an error.",
                        "global_defs { vrrp_strict }  +  authentication { ... }"),
    "template": Code(_L, "An unrendered template ({{ vip }}, <%= @vip %>, #IFACE#, $STATE, "
                     "<virtual_ip>): the first placeholder is reported, and nothing that "
                     "follows from it.", "    interface {{ keepalived_interface }}"),
    "smart-quote": Code(_L, "A typographic quote, which keepalived takes literally.",
                        "notify_master \u201c/bin/notify.sh\u201d"),
    "undefined-parameter": Code(_K, "${NAME} is used but never defined; keepalived leaves it "
                                "as written.", "priority ${PRIO}"),
    "bad-sequence": Code(_K, "A ~SEQ or ~LST that cannot be read.", "~SEQ(N, 1, 0, 5) 10.0.0.$N"),
    "expansion-depth": Code(_K, "A parameter expands into itself.", "$A=${A}x\n$A"),
    "expansion-size": Code(_K, "The file expands to an unbounded number of lines (fatal).",
                           "~SEQ(A,1,65536) ~SEQ(B,1,65536) x"),
    # -- keywords and values -------------------------------------------------------------
    "unknown-keyword": Code(_K, "A keyword the block does not take.", "vrrp_instance VI_1 {\n"
                            "    priorty 100\n}"),
    "legacy-keyword": Code(_L, "An old name keepalived still reads (lb_algo, lb_kind, ...).",
                           "lb_algo rr   # lvs_sched rr"),
    "duplicate-keyword": Code(_L, "A keyword set twice in one block; the last one wins.",
                              "priority 100\npriority 150"),
    "duplicate-name": Code(_K, "Two blocks of one kind share a name.",
                           "vrrp_instance VI_1 { ... }\nvrrp_instance VI_1 { ... }"),
    "missing-argument": Code(_K, "A keyword without its value.", "virtual_router_id"),
    "missing-block": Code(_K, "A keyword that needs a { } block has none.",
                          "virtual_ipaddress 10.0.0.1"),
    "unexpected-block": Code(_K, "A keyword that takes no block has one.", "priority { 100 }"),
    "missing-required": Code(_K, "A block lacks what keepalived requires (an instance's "
                             "virtual_router_id, a url's path, MISC_CHECK's misc_path).",
                             "vrrp_instance VI_1 {\n    interface eth0\n}"),
    "extra-argument": Code(_L, "Words after a keyword's value, which keepalived ignores.",
                           "priority 100 150"),
    "bad-number": Code(_K, "Not a number where one is needed.", "priority high"),
    "out-of-range": Code(_K, "A number outside what keepalived accepts.",
                         "virtual_router_id 500"),
    "bad-value": Code(_K, "A value keepalived does not know.", "state SLAVE"),
    "bad-address": Code(_K, "Not an IPv4 or IPv6 address[/prefix].", "10.0.0.300/24"),
    "bad-prefix": Code(_K, "A prefix length longer than the address.", "192.168.50.1/40"),
    "bad-digest": Code(_K, "An HTTP_GET digest that is not 32 hex digits.", "digest 12345"),
    "bad-range": Code(_K, "A virtual_server_group range that runs past the last byte or "
                      "backwards.", "10.0.0.100-300 80"),
    "empty-group": Code(_K, "A virtual_server_group with no usable entry; keepalived "
                        "removes it.", "virtual_server_group web { 10.0.0.1-999 80 }"),
    "not-multicast": Code(_K, "vrrp_mcast_group4/6 is not a multicast address.",
                          "vrrp_mcast_group4 10.1.2.3"),
    "unknown-route-keyword": Code(_K, "A route option ip route does not know.",
                                  "192.168.70.0/24 via 10.0.0.254 frobnicate 3"),
    "unknown-rule-keyword": Code(_K, "A rule option ip rule does not know.",
                                 "from 10.0.0.0/8 lookup-table 100"),
    "route-no-interface": Code(_K, "A virtual route with no dev, which keepalived cannot "
                               "track.", "virtual_routes { 192.168.71.0/24 via 10.0.0.254 }"),
    # -- what keepalived checks after reading --------------------------------------------
    "auth-pass-truncated": Code(_K, "auth_pass over 8 characters; keepalived truncates it.",
                                "auth_pass averylongsecret"),
    "auth-v3": Code(_K, "authentication in a VRRPv3 instance, which has none (RFC 5798 "
                    "section 9).", "version 3\nauthentication { auth_type PASS ... }"),
    "auth-ah-master": Code(_K, "auth_type AH with state MASTER; keepalived starts as BACKUP.",
                           "state MASTER\nauthentication { auth_type AH ... }"),
    "nopreempt-master": Code(_K, "nopreempt with state MASTER; keepalived clears nopreempt.",
                             "state MASTER\nnopreempt"),
    "advert-int-v2": Code(_K, "A fractional advert_int in VRRPv2, which carries whole "
                          "seconds; keepalived rounds it.", "version 2\nadvert_int 0.5"),
    "family-mismatch": Code(_K, "An instance's VIPs mix IPv4 and IPv6.",
                            "virtual_ipaddress {\n    10.0.0.1/24\n    2001:db8::1/64\n}"),
    "no-vip": Code(_K, "An instance with no virtual_ipaddress.",
                   "vrrp_instance VI_1 { interface eth0  virtual_router_id 51 }"),
    "track-own-interface": Code(_K, "track_interface lists the instance's own interface; "
                                "keepalived ignores the entry.",
                                "interface eth0\ntrack_interface { eth0 }"),
    "unknown-script": Code(_K, "track_script names no vrrp_script.", "track_script { chk_x }"),
    "unknown-track-file": Code(_K, "track_file names no track_file block.",
                               "track_file { maint }"),
    "unknown-track-process": Code(_K, "track_process names no vrrp_track_process.",
                                  "track_process { nginx }"),
    "vrid-reused": Code(_K, "Two multicast instances on one interface and family share a "
                        "VRID.", "two instances, interface eth0, virtual_router_id 51"),
    "unknown-instance": Code(_K, "A sync group names no vrrp_instance.", "group { VI_9 }"),
    "sync-group-single": Code(_K, "A sync group of one instance.", "group { VI_1 }"),
    "sync-group-overlap": Code(_K, "An instance in two sync groups.",
                               "VG_1 { group { VI_1 VI_2 } }  VG_2 { group { VI_1 VI_3 } }"),
    "no-scheduler": Code(_K, "A virtual_server without lvs_sched; keepalived picks wlc.",
                         "virtual_server 10.0.0.1 80 { lvs_method DR  protocol TCP ... }"),
    "no-method": Code(_K, "A virtual_server without lvs_method; keepalived picks NAT.",
                      "virtual_server 10.0.0.1 80 { lvs_sched rr  protocol TCP ... }"),
    "no-protocol": Code(_K, "A virtual_server without protocol; keepalived picks UDP.",
                        "virtual_server 10.0.0.1 80 { lvs_sched rr  lvs_method DR ... }"),
    "zero-port": Code(_K, "A virtual_server on port 0 (all ports) without persistence; "
                      "keepalived makes it persistent.", "virtual_server 10.0.0.1 0 { ... }"),
    "fwmark-protocol": Code(_K, "A protocol for an fwmark service; keepalived ignores it.",
                            "virtual_server fwmark 1 { protocol TCP ... }"),
    "fwmark-port": Code(_K, "A real server port behind an fwmark service; keepalived clears "
                        "it.", "virtual_server fwmark 1 { real_server 10.0.0.11 80 { ... } }"),
    "dr-port-remap": Code(_K, "A DR real server on another port; DR rewrites only the MAC, so "
                          "keepalived resets the port.",
                          "virtual_server 10.0.0.1 80 { lvs_method DR\n"
                          "    real_server 10.0.0.11 8080 { ... } }"),
    "script-security": Code(_K, "Scripts would run as root with script security off "
                            "(exit 6).", 'vrrp_script chk { script "/bin/true" }'),
    "script-user-missing": Code(_K, "enable_script_security without script_user, and no user "
                                "keepalived_script on this host.",
                                "global_defs { enable_script_security }"),
    "script-not-found": Code(_K, "A vrrp_script or MISC_CHECK program that is not found or "
                             "not executable here.", 'script "no_such_checker_program"'),
    "script-insecure": Code(_K, "With script security on, a script writable by a non-root "
                            "user; keepalived disables it.", 'script "/tmp/check.sh"'),
    "no-such-interface": Code(_K, "An interface the file names does not exist in this network "
                              "namespace (--offline skips this). A linkbeat interface is "
                              "fatal (exit 4), the rest are errors.", "interface eth9"),
    # -- lab lints -------------------------------------------------------------------------
    "vip-not-carried": Code(_L, "A virtual_server address no VRRP instance or "
                            "static_ipaddress carries: an error when the files of a cluster "
                            "are checked together, a warning for one file (another box may "
                            "carry it).", "virtual_server 10.0.0.9 80 { ... }   # no VIP "
                            "10.0.0.9"),
    "no-real-server": Code(_L, "A virtual_server with no real_server.",
                           "virtual_server 10.0.0.1 80 { lvs_sched rr }"),
    "no-checker": Code(_L, "A real server with no health checker stays in the pool when it "
                       "dies.", "real_server 10.0.0.11 80 { weight 1 }"),
    "unknown-group": Code(_L, "virtual_server group names no virtual_server_group; keepalived "
                          "accepts it and runs nothing.", "virtual_server group nosuch { ... }"),
    "instance-missing": Code(_L, "An instance on one node of the cluster and not another.",
                             "lb01 has VI_2, lb02 does not"),
    "vrid-mismatch": Code(_L, "Peers disagree on virtual_router_id: two routers.",
                          "lb01: virtual_router_id 51, lb02: 52"),
    "advert-int-mismatch": Code(_L, "Peers disagree on advert_int.", "lb01: 1, lb02: 2"),
    "version-mismatch": Code(_L, "Peers disagree on the VRRP version.", "lb01: 2, lb02: 3"),
    "auth-mismatch": Code(_L, "Peers disagree on authentication.", "lb01: PASS, lb02: none"),
    "vips-mismatch": Code(_L, "Peers disagree on the virtual addresses.",
                          "lb01: 10.0.0.1/24, lb02: 10.0.0.2/24"),
    "down-timer-mismatch": Code(_L, "Peers disagree on down_timer_adverts.", "lb01: 3, lb02: 5"),
    "priority-tie": Code(_L, "Two peers share a priority; the higher primary address wins "
                         "(RFC 3768 section 6.4.3).", "lb01: 100, lb02: 100"),
    "both-master": Code(_L, "state MASTER on more than one peer.", "lb01, lb02: state MASTER"),
    "virtual-servers-differ": Code(_L, "Peers serve different virtual servers.",
                                   "lb01: 10.0.0.1:80, lb02: none"),
    "page-missing": Code(_L, "An HTTP_GET url the web root does not serve (--docroot).",
                         "url { path /health ... }"),
    "page-unreadable": Code(_L, "A page of the web root that cannot be read (--docroot).",
                            "chmod 000 www/testurl/test.jsp"),
    "digest-mismatch": Code(_L, "An HTTP_GET digest that is not the MD5 of the page served "
                            "(--docroot).", "digest 00000000000000000000000000000000"),
}  # fmt: skip


def explain(code: str) -> str:
    """What ``code`` means, for ``lablb check --explain``; the known codes if unknown."""
    entry = CODES.get(code)
    if entry is None:
        from lablb.errors import UsageError

        raise UsageError(
            f"lablb check --explain: no code {code!r}; known: {', '.join(sorted(CODES))}"
        )
    origin = (
        "keepalived -t reports this too; lablb gives it keepalived's exit class"
        if entry.origin == "keepalived"
        else "a lab lint: keepalived says nothing"
    )
    example = "\n".join("    " + line for line in entry.example.splitlines())
    return f"{code}: {entry.meaning}\n  ({origin})\n  example:\n{example}"
