"""The keepalived.conf corpus: one file per keyword family of keepalived.conf(5), valid
and broken, with the exit status keepalived -t 2.2.7 gives each (``verdicts.tsv``) and
the files where lablb check intentionally differs, with why (``differences.tsv``)."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

CORPUS = Path(__file__).parent
CONFIG_ID = "lb01"  # keepalived -i / lablb check --config-id for the @lb01 lines
INTERFACES = frozenset({"lo", "eth0", "eth1"})  # the namespace both run in
# script-insecure.conf names this script: world-writable, so script security refuses it.
INSECURE_SCRIPT = Path("/tmp/lablb-corpus-insecure.sh")


@dataclass(frozen=True)
class Difference:
    keepalived: int
    lablb: int
    why: str


def _rows(name: str) -> list[list[str]]:
    lines = (CORPUS / name).read_text().splitlines()
    return [line.split("\t") for line in lines if line and not line.startswith("#")]


def files() -> list[Path]:
    return sorted(CORPUS.glob("*.conf"))


def verdicts() -> dict[str, int]:
    """keepalived -t's exit status per file, as recorded from the binary."""
    return {name: int(rc) for name, rc in _rows("verdicts.tsv")}


def differences() -> dict[str, Difference]:
    return {
        row[0]: Difference(int(row[1]), int(row[2]), row[3]) for row in _rows("differences.tsv")
    }


def expected_lablb(name: str) -> int:
    """What lablb check must exit with on ``name``: keepalived's status, unless the
    differences table says otherwise."""
    diff = differences().get(name)
    return diff.lablb if diff is not None else verdicts()[name]


def make_insecure_script() -> None:
    INSECURE_SCRIPT.write_text("#!/bin/sh\nexit 0\n")
    os.chmod(INSECURE_SCRIPT, stat.S_IRWXU | stat.S_IRWXG | stat.S_IRWXO)
