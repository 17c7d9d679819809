"""Hostile config input ends in a located diagnostic, fast, never a hang or a
traceback: an include of a device or a FIFO (which would read forever or block), a
brace pattern that expands to a million names, files that include each other many
times over, and a web root page that cannot be read."""

from __future__ import annotations

import os
import time
from pathlib import Path

from lablb.check import check
from lablb.config.files import FileReader
from lablb.config.files import FileReader as _Reader
from lablb.config.lint import lint_docroot
from lablb.config.load import parse
from lablb.config.tree import MAX_FILES_READ, MAX_INCLUDE_NAMES, read_tree

BOUND_S = 5.0  # each case is refused long before this (before: 13-29 s, or never)


def codes(path: Path) -> dict[str, str]:
    tree = read_tree(str(path), FileReader())
    return {d.code: d.message for d in tree.diagnostics}


def timed(path: Path) -> dict[str, str]:
    t0 = time.monotonic()
    out = codes(path)
    assert time.monotonic() - t0 < BOUND_S
    return out


def test_a_device_is_not_read(tmp_path: Path) -> None:
    conf = tmp_path / "k.conf"
    conf.write_text("include /dev/zero\n")
    found = timed(conf)
    assert "not a regular file" in found["unreadable"]


def test_a_fifo_is_not_opened(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.conf"
    os.mkfifo(fifo)
    conf = tmp_path / "k.conf"
    conf.write_text(f"include {fifo}\n")
    assert "not a regular file" in timed(conf)["unreadable"]


def test_twenty_brace_groups_are_refused_before_expansion(tmp_path: Path) -> None:
    conf = tmp_path / "k.conf"
    conf.write_text("include x" + "{a,b}" * 20 + "\n")
    found = timed(conf)
    assert f"more than {MAX_INCLUDE_NAMES} names" in found["include-limit"]


def test_repeated_includes_are_bounded(tmp_path: Path) -> None:
    for i in range(20):
        nxt = f"f{i + 1}.conf"
        (tmp_path / f"f{i}.conf").write_text(f"include {nxt}\ninclude {nxt}\n" if i < 19 else "")
    found = timed(tmp_path / "f0.conf")
    assert f"more than {MAX_FILES_READ} files" in found["include-limit"]
    result = check([str(tmp_path / "f0.conf")], config_id="lb01")
    assert result.status == 4  # fatal, as an unreadable include is


def test_a_few_includes_still_read(tmp_path: Path) -> None:
    (tmp_path / "a.conf").write_text("global_defs {\n    router_id A\n}\n")
    conf = tmp_path / "k.conf"
    conf.write_text("include a.conf\ninclude {a,a}.conf\n")
    assert "include-limit" not in codes(conf)


def test_an_unreadable_page_is_a_diagnostic(tmp_path: Path) -> None:
    conf = tmp_path / "k.conf"
    conf.write_text(
        "virtual_server 10.0.0.1 80 {\n real_server 10.0.0.2 80 {\n  HTTP_GET {\n"
        "   url {\n    path /p\n    digest 00000000000000000000000000000000\n   }\n"
        "  }\n }\n}\n"
    )
    config = parse(str(conf), _Reader(), "lb01").config

    def denied(path: str) -> bytes | None:
        raise PermissionError(13, "Permission denied", path)

    (d,) = lint_docroot(config, denied)
    assert d.code == "page-unreadable" and "Permission denied" in d.message
    assert d.where.line == 4  # the url block
