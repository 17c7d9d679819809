"""The renderer is the parser's inverse: parse(render(c)) == c, for every config set in
the repository and for a file that uses every keyword family lablb models or keeps."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from lablb.config import model as m
from lablb.config.files import MemoryReader
from lablb.config.load import load, parse
from lablb.config.render import Unrenderable, render, seconds, word
from tests.conftest import REPO, parse_text

# seed-verbatim is the tutorial's text, broken on purpose (no-break spaces): nothing to run.
ALL_CONFIGS = sorted(
    p
    for p in (REPO / "topologies" / "configs").glob("*/*.conf")
    if p.parent.name != "seed-verbatim"
)

# Every keyword family lablb models or keeps, in a file keepalived 2.2.7 runs (the lab
# test feeds the rendered text to keepalived -t).
RICH = """
global_defs {
    notification_email {
        ops@lablb.test
        "second one@lablb.test"
    }
    notification_email_from lb@lablb.test
    smtp_server 172.30.0.25 2525
    router_id R1
    vrrp_check_unicast_src
    vrrp_version 3
    vrrp_garp_master_repeat 2
    enable_script_security
    script_user root
    lvs_sync_daemon eth0 VI_1 id 7 port 8849 group 224.0.0.82
}
static_routes {
    10.9.0.0/16 via 172.30.0.1 dev eth0
}
virtual_server_group VSG {
    172.16.55.101 80
}
vrrp_script chk {
    script "/bin/sh -c 'exit 0'" nobody
    interval 2
    timeout 2
    weight -20
    fall 2
    rise 3
    init_fail
}
vrrp_sync_group G {
    group {
        VI_2
        VI_3
    }
    notify_master "/usr/bin/logger sync master"
    smtp_alert
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 0.05
    nopreempt
    virtual_ipaddress {
        172.30.0.22/24 dev eth0 label eth0:0
        172.16.55.100
    }
    virtual_ipaddress_excluded {
        172.16.55.200/32 brd 172.16.55.255 scope global
    }
    unicast_src_ip 172.30.0.20
    check_unicast_src
    unicast_peer {
        172.30.0.21
    }
    track_interface {
        eth1 weight -10
    }
    track_script {
        chk weight 5 reverse
    }
    virtual_routes {
        10.8.0.0/16 via 172.30.0.1 dev eth0
    }
    garp_master_delay 1
    down_timer_adverts 4
    notify "/bin/true"
}
vrrp_instance VI_2 {
    interface eth1
    virtual_router_id 52
    virtual_ipaddress {
        172.31.0.22/24
    }
}
vrrp_instance VI_3 {
    interface eth1
    virtual_router_id 53
    virtual_ipaddress {
        172.31.0.23/24
    }
}
virtual_server 172.16.55.100 80 {
    delay_loop 2
    lb_algo wrr
    lb_kind DR
    persistence_timeout
    protocol TCP
    sorry_server 172.30.0.9 80
    quorum 2
    retry 4
    real_server 172.30.0.23 80 {
        weight 3
        inhibit_on_failure
        HTTP_GET {
            url {
                path /a
                digest 7d3a1b2df0abe53bf1788199cda93d40
                status_code 200 300-302
                regex "ok"
            }
            connect_timeout 2
        }
        TCP_CHECK {
            connect_port 22
            delay_loop 0.25
        }
    }
    real_server 172.30.0.24 {
        MISC_CHECK {
            misc_path "/bin/check --fast"
            misc_timeout 3
            misc_dynamic
        }
    }
}
virtual_server fwmark 9 {
    lvs_method TUN
    real_server 172.30.0.25 0 {
        weight 1
    }
}
virtual_server 172.16.55.100 53 {
    lvs_sched rr
    lvs_method DR
    protocol UDP
    real_server 172.30.0.23 53 {
        UDP_CHECK {
            payload 0a0b0c
            require_reply 0a0b
            min_reply_length 2
            max_reply_length 64
            connect_timeout 2
        }
        PING_CHECK {
            retry 2
        }
    }
    real_server 172.30.0.24 53 {
        UDP_CHECK {
            require_reply
        }
    }
}
"""


def _comparable(value: Any) -> Any:
    """A model as plain data without where each part was read from."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _comparable(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.compare and f.name not in ("where", "path", "files")
        }
    if isinstance(value, tuple | list):
        return [_comparable(v) for v in value]
    return value


def roundtrip(config: m.KeepalivedConfig) -> m.KeepalivedConfig:
    text = render(config)
    parsed = parse("/r/keepalived.conf", MemoryReader({"/r/keepalived.conf": text}))
    assert not parsed.errors, (text, parsed.errors)
    return parsed.config


@pytest.mark.parametrize("path", ALL_CONFIGS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_config_in_the_repository_survives_a_round_trip(path: Path) -> None:
    config = load(str(path))
    assert _comparable(roundtrip(config)) == _comparable(config)


def test_every_keyword_family_survives_a_round_trip() -> None:
    parsed = parse_text(RICH)
    assert not parsed.errors, parsed.errors
    config = parsed.config
    again = roundtrip(config)
    assert _comparable(again) == _comparable(config)
    # What lablb keeps without modelling comes back with its block.
    kept = {u.keyword: u for u in again.unsupported}
    assert kept["static_routes"].block == ("10.9.0.0/16 via 172.30.0.1 dev eth0",)
    assert kept["virtual_server_group"].block == ("172.16.55.101 80",)
    assert [u.keyword for u in again.vrrp_instances[0].unsupported] == ["virtual_routes"]
    assert again.virtual_servers[0].real_servers[0].checkers[0].urls[0].unsupported[0].args == (
        "ok",
    )
    # Inherited checker timings are written out where keepalived would apply them.
    tcp = again.virtual_servers[0].real_servers[0].checkers[1]
    assert (tcp.delay_loop, tcp.retry, tcp.connect_port) == (0.25, 4, 22)


def test_a_variant_is_a_model_edit_not_a_text_edit() -> None:
    config = parse_text(RICH).config
    inst = config.vrrp_instances[0]
    fast = dataclasses.replace(
        config, vrrp_instances=(dataclasses.replace(inst, advert_int=0.01, priority=99),)
    )
    again = roundtrip(fast)
    assert (again.vrrp_instances[0].advert_int, again.vrrp_instances[0].priority) == (0.01, 99)
    assert _comparable(again.virtual_servers) == _comparable(config.virtual_servers)


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.01, "0.01"), (6.0, "6"), (0.00001, "0.00001"), (0.0, "0"), (86400, "86400")],
)
def test_timers_are_written_as_keepalived_reads_them(value: float, text: str) -> None:
    assert seconds(value) == text


def test_words_are_quoted_only_when_they_must_be() -> None:
    assert word("eth0:0") == "eth0:0"
    assert word("/bin/sh -c 'x'") == "\"/bin/sh -c 'x'\""
    assert word('say "hi"') == "'say \"hi\"'"
    assert word("a#b") == '"a#b"'
    with pytest.raises(Unrenderable):
        word("both ' and \"")
