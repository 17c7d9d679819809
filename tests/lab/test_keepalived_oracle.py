"""Differential test against the real thing: every corpus file through Debian's
``keepalived -t`` 2.2.7 and through ``lablb check``, both in one throwaway network
namespace holding lo, eth0 and eth1 (so the interfaces a file names decide the same
way for both), both with config id lb01. The verdict classes must agree unless
tests/corpus/differences.tsv says why not, and the binary must still give what
tests/corpus/verdicts.tsv recorded."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import corpus
from tests.conftest import REPO

NETNS = "lablbt-oracle"
KEEPALIVED_TIMEOUT_S = 20.0
LABLB_TIMEOUT_S = 120.0
FILES = corpus.files()
# keepalived's own examples, as Debian installs them with the package (./dev setup)
SAMPLES_DIR = Path("/usr/share/doc/keepalived/samples")
SAMPLES = sorted(SAMPLES_DIR.glob("keepalived.conf.*"))

# One lablb process in the namespace checks every file, each on its own, as
# ``lablb check --config-id lb01 FILE`` would (the CLI's status is check().status).
_LABLB = """
import json, sys
from lablb.check import check
out = {}
for path in sys.argv[2:]:
    result = check([path], config_id=sys.argv[1])
    out[path] = [result.status, [d.format() for d in result.diagnostics]]
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def netns() -> Iterator[str]:
    subprocess.run(["ip", "netns", "del", NETNS], capture_output=True, check=False)
    subprocess.run(["ip", "netns", "add", NETNS], check=True)
    corpus.make_insecure_script()
    try:
        ip = ["ip", "-n", NETNS, "link"]
        subprocess.run([*ip, "add", "eth0", "type", "veth", "peer", "name", "eth1"], check=True)
        for dev in ("lo", "eth0", "eth1"):
            subprocess.run([*ip, "set", dev, "up"], check=True)
        yield NETNS
    finally:
        subprocess.run(["ip", "netns", "del", NETNS], check=False)
        corpus.INSECURE_SCRIPT.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def lablb_verdicts(netns: str) -> dict[str, tuple[int, list[str]]]:
    res = subprocess.run(
        ["ip", "netns", "exec", netns, sys.executable, "-c", _LABLB, corpus.CONFIG_ID]
        + [str(p) for p in (*FILES, *SAMPLES)],
        capture_output=True,
        text=True,
        timeout=LABLB_TIMEOUT_S,
        check=True,
        cwd=REPO,
    )
    raw: dict[str, list[object]] = json.loads(res.stdout)
    return {Path(k).name: (int(v[0]), list(v[1])) for k, v in raw.items()}  # type: ignore[call-overload]


def keepalived_t(netns: str, path: Path) -> tuple[int, str]:
    # setsid: with some configs keepalived -t signals its whole process group.
    res = subprocess.run(
        ["setsid", "-w", "ip", "netns", "exec", netns, "keepalived", "-t", "-l",
         "-i", corpus.CONFIG_ID, "-f", str(path)],
        capture_output=True,
        text=True,
        timeout=KEEPALIVED_TIMEOUT_S,
        check=False,
    )  # fmt: skip
    # A signal as a shell reports it (128 + N), which is how verdicts.tsv records it.
    rc = 128 - res.returncode if res.returncode < 0 else res.returncode
    return rc, (res.stdout + res.stderr)[-800:]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_lablb_check_agrees_with_keepalived(
    netns: str, lablb_verdicts: dict[str, tuple[int, list[str]]], path: Path
) -> None:
    rc, said = keepalived_t(netns, path)
    assert rc == corpus.verdicts()[path.name], f"keepalived -t changed its verdict:\n{said}"
    status, printed = lablb_verdicts[path.name]
    diff = corpus.differences().get(path.name)
    want = diff.lablb if diff is not None else rc
    assert status == want, f"keepalived -t: {rc}\n{said}\nlablb check: {status}\n" + "\n".join(
        printed
    )


def test_keepalived_s_own_samples_are_all_there() -> None:
    assert len(SAMPLES) >= 25, f"{SAMPLES_DIR}: keepalived's samples are missing"


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_lablb_check_agrees_on_keepalived_s_own_samples(
    netns: str, lablb_verdicts: dict[str, tuple[int, list[str]]], path: Path
) -> None:
    rc, said = keepalived_t(netns, path)
    status, printed = lablb_verdicts[path.name]
    assert status == rc, f"keepalived -t: {rc}\n{said}\nlablb check: {status}\n" + "\n".join(
        printed
    )
