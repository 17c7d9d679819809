"""``lablb completion bash``: a script bash accepts, which completes commands, scenario
names, topology names and options as a user types them (run in a real bash)."""

from __future__ import annotations

import subprocess

import pytest

from lablb.cli import build_parser
from lablb.completion import bash_script

SCRIPT = bash_script(build_parser(), ["failover", "soak"], ["seed", "webfarm"], ["lablb"])


def complete(*words: str) -> list[str]:
    """COMPREPLY for a command line whose last word is being typed."""
    line = " ".join(f"'{w}'" for w in words)
    program = f'{SCRIPT}\nCOMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; _lablb\n'
    program += 'printf "%s\\n" "${COMPREPLY[@]}"\n'
    res = subprocess.run(["bash", "-c", program], capture_output=True, text=True, timeout=10,
                         check=True)  # fmt: skip
    return res.stdout.split()


@pytest.mark.parametrize(
    ("words", "want"),
    [
        (("lablb", "ru"), ["run"]),
        (("lablb", "run", "fa"), ["failover"]),
        (("lablb", "run", "failover", "--to"), ["--topo"]),
        (("lablb", "run", "failover", "--topo", "w"), ["webfarm"]),
        (("lablb", "topo", "sh"), ["show"]),
        (("lablb", "topo", "derive", "--ro"), ["--root"]),
        (("lablb", "completion", ""), ["--help", "bash"]),
    ],
)
def test_it_completes_what_a_user_types(words: tuple[str, ...], want: list[str]) -> None:
    assert complete(*words) == want


def test_bash_accepts_the_script() -> None:
    subprocess.run(["bash", "-n", "-c", SCRIPT], check=True, timeout=10)
