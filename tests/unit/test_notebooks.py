"""The notebooks as committed: every one is run by the lab suite (test_notebooks_lab's
list names them all), and none carries outputs, so what a reader sees is their own
run's."""

from __future__ import annotations

import nbformat
import pytest

from lablb.errors import UsageError
from lablb.notebooks import notebooks, outputs_text, stripped
from tests.lab.test_notebooks_lab import SHOWS


def test_every_notebook_is_executed_by_the_suite() -> None:
    assert sorted(p.stem for p in notebooks()) == sorted(SHOWS)


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.stem)
def test_committed_without_outputs(path: object) -> None:
    nb = nbformat.read(path, as_version=4)
    assert stripped(nb) and outputs_text(nb) == ""
    assert nb.metadata["kernelspec"]["name"] == "python3"


def test_an_executed_notebook_is_not_stripped_and_its_text_is_read() -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1)")])
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="1\n")]
    nb.cells[0].execution_count = 1
    assert not stripped(nb) and outputs_text(nb) == "1\n"


def test_an_unknown_notebook_is_a_one_line_error() -> None:
    with pytest.raises(UsageError, match="no notebook 'nope'; there are: "):
        notebooks(["nope"])
