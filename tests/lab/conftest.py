"""Lab tests: real Mininet labs, as root. In CI (CI=true) a missing prerequisite fails
the run instead of skipping, because these tests are the proof."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from lablb.lab.clean import clean
from tests.lab.leftovers import Snapshot, snapshot


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    problem = None
    if os.geteuid() != 0:
        problem = "lab tests need root"
    elif shutil.which("mnexec") is None:
        problem = "lab tests need mnexec (./dev setup)"
    lab_items = [item for item in items if "tests/lab/" in str(item.fspath)]
    if problem and lab_items and os.environ.get("CI"):
        raise pytest.UsageError(f"CI must run the lab tests, but {problem}")
    for item in lab_items:
        item.add_marker(pytest.mark.lab)
        if problem:
            item.add_marker(pytest.mark.skip(reason=problem))


@pytest.fixture
def before() -> Iterator[Snapshot]:
    """The root namespace before the test; after it (assertions done), whatever a
    failed test left is cleaned so that it cannot fail the next one too."""
    yield snapshot()
    clean()
