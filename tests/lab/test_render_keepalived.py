"""keepalived itself reads what the renderer writes: ``keepalived -t`` (2.2.7, the
oracle) accepts the rendered text of every config set in the repository and of the
every-keyword file, run in a throwaway namespace holding the interfaces they name."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from lablb.config.files import MemoryReader
from lablb.config.load import load, parse
from lablb.config.render import render
from tests import corpus
from tests.unit.test_render import ALL_CONFIGS, RICH

NETNS = "lablbt-render"
TEST_TIMEOUT_S = 20.0


@pytest.fixture(scope="module")
def netns() -> Iterator[str]:
    subprocess.run(["ip", "netns", "del", NETNS], capture_output=True, check=False)
    subprocess.run(["ip", "netns", "add", NETNS], check=True)
    try:
        ip = ["ip", "-n", NETNS, "link"]
        subprocess.run([*ip, "add", "eth0", "type", "veth", "peer", "name", "eth1"], check=True)
        for dev in ("eth0", "eth1"):
            subprocess.run([*ip, "set", dev, "up"], check=True)
        yield NETNS
    finally:
        subprocess.run(["ip", "netns", "del", NETNS], check=False)


def keepalived_t(netns: str, path: Path, *extra: str) -> tuple[int, str]:
    # setsid: with some configs keepalived -t signals its whole process group.
    argv = ["keepalived", "-t", "-l", *extra, "-f", str(path)]
    res = subprocess.run(
        ["setsid", "-w", "ip", "netns", "exec", netns, *argv],
        capture_output=True,
        text=True,
        timeout=TEST_TIMEOUT_S,
        check=False,
    )
    return res.returncode, (res.stdout + res.stderr)[-600:]


@pytest.mark.parametrize("path", ALL_CONFIGS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_keepalived_accepts_each_rendered_config(netns: str, path: Path, tmp_path: Path) -> None:
    assert keepalived_t(netns, path)[0] == 0, "the original must be valid to keepalived"
    out = tmp_path / path.name
    out.write_text(render(load(str(path)), header=f"rendered from {path.name}"))
    rc, text = keepalived_t(netns, out)
    assert rc == 0, text


def test_keepalived_accepts_the_rendered_every_keyword_file(netns: str, tmp_path: Path) -> None:
    parsed = parse("/r/k.conf", MemoryReader({"/r/k.conf": RICH}))
    assert not parsed.errors
    out = tmp_path / "rich.conf"
    out.write_text(render(parsed.config))
    rc, text = keepalived_t(netns, out)
    assert rc == 0, text


ACCEPTED = [p for p in corpus.files() if corpus.verdicts()[p.name] == 0]


@pytest.mark.parametrize("path", ACCEPTED, ids=lambda p: p.name)
def test_keepalived_accepts_each_valid_corpus_file_rendered(
    netns: str, path: Path, tmp_path: Path
) -> None:
    """Every corpus file keepalived accepts, rendered, is still accepted (as lb01): the
    renderer keeps what keepalived needs, declarations before their use included."""
    out = tmp_path / path.name
    out.write_text(render(load(str(path), config_id=corpus.CONFIG_ID)))
    rc, text = keepalived_t(netns, out, "-i", corpus.CONFIG_ID)
    assert rc == 0, text
