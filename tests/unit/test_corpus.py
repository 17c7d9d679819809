"""lablb check against the corpus, with no root and no host: each file's exit status is
keepalived -t 2.2.7's as recorded in tests/corpus/verdicts.tsv (the lab test re-runs
the binary), unless tests/corpus/differences.tsv says why not; docs/check.md's agreement
table counts what these tables hold."""

from __future__ import annotations

import re
import shutil
from collections import Counter
from pathlib import Path

import pytest

from lablb.check import check
from lablb.config.diagnostics import EXIT_CONFIG, EXIT_OK, exit_status
from lablb.config.files import FileReader
from lablb.config.lint import lint_config
from lablb.config.load import parse
from lablb.config.semantics import Host, check_config
from tests import corpus
from tests.conftest import REPO

FILES = corpus.files()


def fake_host() -> Host:
    """The namespace the lab test runs keepalived -t in, as the unit tests see it."""

    def resolve(program: str) -> str | None:
        if program == str(corpus.INSECURE_SCRIPT):
            return program
        if "/" in program:
            return program if Path(program).is_file() else None
        return shutil.which(program)

    return Host(
        corpus.INTERFACES,
        resolve,
        user_exists=lambda user: user == "root",
        insecure=lambda path: path.startswith("/tmp/"),
    )


def lablb_status(path: Path) -> tuple[int, list[str]]:
    parsed = parse(str(path), FileReader(), corpus.CONFIG_ID)
    diags = list(parsed.diagnostics)
    if not any(d.fatal or d.code == "template" for d in diags):  # as lablb.check does
        diags += check_config(parsed.config, fake_host()) + lint_config(parsed.config)
    return exit_status(diags), [d.format() for d in diags]


def test_the_corpus_is_large_and_fully_recorded() -> None:
    assert len(FILES) >= 60
    assert sorted(corpus.verdicts()) == [p.name for p in FILES]
    assert set(corpus.differences()) <= set(corpus.verdicts())
    for name, diff in corpus.differences().items():
        assert diff.keepalived == corpus.verdicts()[name] and diff.why


def test_the_corpus_covers_every_exit_class() -> None:
    assert {0, 2, 4, 5, 6} <= set(corpus.verdicts().values())


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_lablb_gives_keepalived_s_verdict(path: Path) -> None:
    status, printed = lablb_status(path)
    assert status == corpus.expected_lablb(path.name), "\n".join(printed)


def test_the_docs_table_counts_the_corpus() -> None:
    readme = (REPO / "docs" / "check.md").read_text()
    match = re.search(r"\| (\d+) files \| (\d+) agree \| (\d+) intended differences \|", readme)
    assert match, "docs/check.md's corpus agreement row is missing"
    n, agree, differ = map(int, match.groups())
    assert (n, agree, differ) == (
        len(FILES),
        len(FILES) - len(corpus.differences()),
        len(corpus.differences()),
    )
    for name in corpus.differences():
        assert name in readme
    counts = Counter(corpus.verdicts().values())
    said = (
        f"{counts[0]} valid, {counts[5]} errors, {counts[4]} fatal, {counts[6]} script\n"
        f"security, {counts[2]} where it stops reading at a keyword without its value (exit 2), "
        f"and {counts[139]} where\n`keepalived -t` itself crashes"
    )
    assert said in readme, said


def test_offline_skips_what_depends_on_the_host() -> None:
    path = str(corpus.CORPUS / "instance-missing-interface.conf")  # interface eth9
    assert check([path], config_id=corpus.CONFIG_ID, offline=True).status == EXIT_OK
    online = check([path], config_id=corpus.CONFIG_ID)  # no eth9 in this namespace
    (d,) = [d for d in online.diagnostics if d.code == "no-such-interface"]
    assert online.status == EXIT_CONFIG and "--offline" in d.hint and d.where.line == 3
