"""``include``: relative to the including file, globs and braces, cycles refused."""

from __future__ import annotations

from lablb.config.diagnostics import exit_status
from lablb.config.tree import expand_braces
from tests.conftest import codes, parse_text

INSTANCE = "vrrp_instance {name} {{\n interface eth0\n virtual_router_id {vrid}\n}}\n"


def test_include_is_relative_to_the_including_file() -> None:
    parsed = parse_text(
        "include conf.d/a.conf\n",
        {
            "/etc/conf.d/a.conf": "include b.conf\n",
            "/etc/conf.d/b.conf": INSTANCE.format(name="B", vrid=2),
        },
    )
    assert codes(parsed) == []
    assert [i.name for i in parsed.config.vrrp_instances] == ["B"]
    assert parsed.config.files == ("/etc/k.conf", "/etc/conf.d/a.conf", "/etc/conf.d/b.conf")
    assert parsed.config.vrrp_instances[0].where.file == "/etc/conf.d/b.conf"


def test_include_glob_sorted_and_braces() -> None:
    parsed = parse_text(
        "include d/*.conf\ninclude e/{x,y}.conf\n",
        {
            "/etc/d/2.conf": INSTANCE.format(name="D2", vrid=2),
            "/etc/d/1.conf": INSTANCE.format(name="D1", vrid=1),
            "/etc/d/skip.txt": "garbage {",
            "/etc/e/x.conf": INSTANCE.format(name="EX", vrid=3),
            "/etc/e/y.conf": INSTANCE.format(name="EY", vrid=4),
        },
    )
    assert codes(parsed) == []
    assert [i.name for i in parsed.config.vrrp_instances] == ["D1", "D2", "EX", "EY"]


def test_include_inside_a_block_is_textual() -> None:
    parsed = parse_text(
        "vrrp_instance X {\n include x-body.conf\n}\n",
        {"/etc/x-body.conf": "interface eth1\nvirtual_router_id 7\n"},
    )
    assert codes(parsed) == []
    assert parsed.config.vrrp_instances[0].interface == "eth1"


def test_include_cycle_is_an_error() -> None:
    # keepalived -t 2.2.7 exits 5 here: it reads on until out of file descriptors.
    parsed = parse_text(
        "include a.conf\n", {"/etc/a.conf": "include b.conf\n", "/etc/b.conf": "include a.conf\n"}
    )
    (d,) = [d for d in parsed.diagnostics if d.code == "include-cycle"]
    assert not d.fatal and (d.where.file, d.where.line, d.where.col) == ("/etc/b.conf", 1, 1)
    assert "/etc/a.conf -> /etc/b.conf -> /etc/a.conf" in d.message


def test_self_include_is_a_cycle() -> None:
    parsed = parse_text("include k.conf\n")
    assert "include-cycle" in codes(parsed)


def test_include_missing_file() -> None:
    """As keepalived 2.2.7 takes it (measured: tests/corpus/include-*-missing.conf): it
    logs "Config files missing" and reads on; includem, includea and includew must
    match, and keepalived -t then exits 6."""
    assert codes(parse_text("include nothing/*.conf\n")) == ["include-missing"]
    for kw in ("include", "includer", "includeb"):
        (d,) = parse_text(f"{kw} gone.conf\n").diagnostics
        assert (d.code, d.severity) == ("include-missing", "warning")
        assert exit_status([d]) == 0
    for kw in ("includem", "includea", "includew"):
        (d,) = parse_text(f"{kw} gone/*.conf\n").diagnostics
        assert d.code == "include-missing" and exit_status([d]) == 6


def test_brace_expansion() -> None:
    assert expand_braces("a{b,c{d,e}}f") == ["abf", "acdf", "acef"]
    assert expand_braces("plain") == ["plain"]
    assert expand_braces("{single}") == ["{single}"]
