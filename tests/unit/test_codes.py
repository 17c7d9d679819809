"""The diagnostic codes: every code the source can emit is explained, every explained
code is emitted somewhere, and --explain prints it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from lablb.config.codes import CODES, explain
from lablb.config.lint import AGREE
from lablb.errors import UsageError
from tests.conftest import REPO
from tests.conftest import run_lablb as run

# Codes built at run time, not written as one literal next to their message.
DYNAMIC = {
    "unexpected-block",
    "missing-block",
    "nbsp",
    "odd-space",
    "include-missing",
    "unknown-route-keyword",
    "unknown-rule-keyword",
    "vip-not-carried",
    *(code for _, _, code in AGREE),
}


def literal_codes() -> set[str]:
    """The code argument of every error()/warning()/bad() call in lablb/."""
    found: set[str] = set()
    for path in (REPO / "lablb").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or len(node.args) < 2:
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            arg = node.args[1]
            if name in ("error", "warning", "bad") and isinstance(arg, ast.Constant):
                found.add(str(arg.value))
    return found


def test_every_emitted_code_is_explained_and_every_explained_code_emitted() -> None:
    emitted = literal_codes() | DYNAMIC
    assert emitted - set(CODES) == set(), "explain these in lablb/config/codes.py"
    assert set(CODES) - emitted == set(), "codes.py explains codes nothing emits"


def test_each_code_says_where_it_comes_from_with_an_example() -> None:
    for code, entry in CODES.items():
        assert entry.origin in ("keepalived", "lab") and entry.meaning and entry.example, code


def test_explain() -> None:
    text = explain("vip-not-carried")
    assert text.startswith("vip-not-carried: ") and "lab lint" in text and "example" in text
    assert "keepalived -t reports this too" in explain("nopreempt-master")
    with pytest.raises(UsageError, match="no code 'nope'"):
        explain("nope")


def test_explain_on_the_command_line(tmp_path: Path) -> None:
    res = run("check", "--explain", "script-security")
    assert res.returncode == 0 and "exit 6" in res.stdout
    res = run("check", "--explain", "nope")
    assert res.returncode == 2 and res.stderr.count("\n") == 1
    assert run("check").returncode == 2
