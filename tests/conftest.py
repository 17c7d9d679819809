"""Shared test helpers: parse configs held in memory."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from lablb.config.files import MemoryReader
from lablb.config.load import Parsed, parse

REPO = Path(__file__).resolve().parents[1]
SEED_VERBATIM = REPO / "topologies" / "configs" / "seed-verbatim"
SEED = REPO / "topologies" / "configs" / "seed"
DOCROOT = REPO / "topologies" / "www"


def parse_text(text: str, files: dict[str, str] | None = None, path: str = "/etc/k.conf") -> Parsed:
    all_files = {path: textwrap.dedent(text), **(files or {})}
    return parse(path, MemoryReader(all_files))


def codes(parsed: Parsed) -> list[str]:
    return [d.code for d in parsed.diagnostics]


@pytest.fixture
def minimal_instance() -> str:
    return """
    vrrp_instance VI_1 {
        interface eth0
        virtual_router_id 51
        virtual_ipaddress {
            172.30.0.22/24
        }
    }
    """


def run_lablb(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The lablb command line in a subprocess, as a user runs it, bounded in time."""
    return subprocess.run(
        [sys.executable, "-m", "lablb", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def wait_for(what: str, cond: Callable[[], bool], timeout: float, poll: float = 0.02) -> float:
    """Poll ``cond`` until true; the seconds it took. Bounded: AssertionError after
    ``timeout`` seconds, naming ``what``."""
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"{what}: not within {timeout:.3f} s")
        time.sleep(poll)
    return time.monotonic() - t0
