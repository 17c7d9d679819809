"""Tokens as keepalived reads them: comments, quotes, escapes, braces, odd spaces."""

from __future__ import annotations

import pytest

from lablb.config.lexer import tokenize_line


def texts(line: str) -> list[str]:
    tokens, _ = tokenize_line(line, "f", 1)
    return [t.text for t in tokens]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("priority 100", ["priority", "100"]),
        ("  priority\t100  ", ["priority", "100"]),
        ("priority 100 # a comment", ["priority", "100"]),
        ("priority 100 ! a comment", ["priority", "100"]),
        ("! whole line", []),
        ("vrrp_instance VI_1{", ["vrrp_instance", "VI_1", "{"]),
        ("virtual_ipaddress { 1.2.3.4 }", ["virtual_ipaddress", "{", "1.2.3.4", "}"]),
        ('notify "/bin/echo a b"', ["notify", "/bin/echo a b"]),
        ("notify '/bin/echo # not a comment'", ["notify", "/bin/echo # not a comment"]),
        ('x abcd" efg h jkl "mnop', ["x", "abcd efg h jkl mnop"]),
        ('x abcd "efg h jkl" mnop', ["x", "abcd", "efg h jkl", "mnop"]),
        (r'x "a\tb\x41\101\\"', ["x", "a\tbAA\\"]),
        ('x ""', ["x", ""]),
    ],
)
def test_tokens(line: str, expected: list[str]) -> None:
    assert texts(line) == expected


def test_columns_count_from_one() -> None:
    tokens, _ = tokenize_line("    priority 100", "f.conf", 7)
    assert [(t.where.line, t.where.col) for t in tokens] == [(7, 5), (7, 14)]


def test_nbsp_is_reported_once_per_line_with_keepalived_view() -> None:
    tokens, diags = tokenize_line("\u00a0 state\u00a0MASTER", "f", 3)
    assert [t.text for t in tokens] == ["state", "MASTER"]
    assert [(d.code, d.where.col) for d in diags] == [("nbsp", 1)]
    assert "unknown keyword" in diags[0].message and "\\u00a0" in diags[0].message


def test_other_unicode_spaces_are_odd_space() -> None:
    _, diags = tokenize_line("priority\u2009100", "f", 1)
    assert [d.code for d in diags] == ["odd-space"]


def test_smart_quote_warns() -> None:
    _, diags = tokenize_line("notify \u201c/bin/true\u201d", "f", 1)
    assert {d.code for d in diags} == {"smart-quote"}


def test_unterminated_quote() -> None:
    tokens, diags = tokenize_line('notify "/bin/true', "f", 2)
    assert tokens[-1].text == "/bin/true"
    assert [(d.code, d.where.line, d.where.col) for d in diags] == [("unterminated-quote", 2, 8)]
