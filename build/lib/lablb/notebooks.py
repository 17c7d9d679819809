"""The teaching notebooks, executed top to bottom in a real Jupyter kernel (nbclient),
each written with its outputs as HTML (nbconvert) to a folder a teacher can publish,
beside the figures it saved. Edge: it starts kernels, and the notebooks bring labs up
(root).

The committed notebooks carry no outputs: what a reader sees is what their own run
measured. Each notebook runs with its own folder under ``out`` as the working
directory, where it saves its figures (``figures/*.png``) and whatever it keeps (a
pcap, results).
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lablb.errors import UsageError
from lablb.paths import CHECKOUT

NOTEBOOKS_DIR = CHECKOUT / "notebooks"  # a checkout's: the notebooks are not installed
KERNEL = "python3"  # ipykernel's own kernel: the interpreter that runs lablb (the .venv's)
CELL_TIMEOUT_S = 600.0  # no cell of a lesson runs this long; one that does is stuck
STARTUP_TIMEOUT_S = 60.0
ANSI = re.compile(r"\x1b\[[0-9;]*m")
LAB_TEARDOWN_S = 60.0  # a kernel with a lab still up exits within this


@dataclass(frozen=True)
class Executed:
    """One notebook's run: where its HTML and figures went, every output's text in
    order (streams, results, errors), how long it took, and the error that stopped it
    (None: every cell ran)."""

    name: str
    html: Path
    figures: tuple[Path, ...]
    text: str
    seconds: float
    error: str | None


def notebooks(names: list[str] | None = None) -> list[Path]:
    """The notebooks by name (``vrrp-election`` or its file name), all if none given."""
    every = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
    if not names:
        return every
    by_name = {p.stem: p for p in every}
    unknown = [n for n in names if n.removesuffix(".ipynb") not in by_name]
    if unknown:
        raise UsageError(f"no notebook {unknown[0]!r}; there are: {', '.join(sorted(by_name))}")
    return [by_name[n.removesuffix(".ipynb")] for n in names]


def outputs_text(nb: Any) -> str:
    """Every output of every code cell as text, in order."""
    parts: list[str] = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                parts.append(out.text)
            elif out.output_type in ("execute_result", "display_data"):
                parts.append(str(out.get("data", {}).get("text/plain", "")))
            elif out.output_type == "error":
                parts.append(f"{out.ename}: {out.evalue}")
    return "\n".join(parts)


def stripped(nb: Any) -> bool:
    """Does the notebook carry no outputs and no execution counts (as committed)?"""
    return all(
        not cell.get("outputs") and cell.get("execution_count") is None
        for cell in nb.cells
        if cell.cell_type == "code"
    )


def execute(path: Path, out: Path, timeout: float = CELL_TIMEOUT_S) -> Executed:
    """Run ``path`` in a fresh kernel with ``out/NAME/`` as its working directory;
    write ``out/NAME.html`` with its outputs (also when a cell failed: the error shows
    where)."""
    import nbformat
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError
    from nbconvert import HTMLExporter

    nb = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
    work = (out / path.stem).resolve()
    work.mkdir(parents=True, exist_ok=True)
    # The kernel talks to us over Unix sockets (no TCP port, not even on loopback), in a
    # folder of its own with a short path (a socket path has at most 107 bytes).
    sockets = Path(tempfile.mkdtemp(prefix="lablb-kernel-"))
    km = KernelManager(kernel_name=KERNEL, transport="ipc", ip=str(sockets / "k"))
    # A notebook stopped by an error still has its lab up: the kernel's exit tears it
    # down (lablb.live), which takes seconds; it is not killed before that.
    km.shutdown_wait_time = LAB_TEARDOWN_S
    client = NotebookClient(
        nb,
        km=km,
        timeout=int(timeout),
        startup_timeout=int(STARTUP_TIMEOUT_S),
        resources={"metadata": {"path": str(work)}},
    )
    error = None
    t0 = time.monotonic()
    try:
        client.execute(cleanup_kc=True)
    except CellTimeoutError as exc:
        error = f"a cell ran longer than {timeout:g} s: {str(exc).splitlines()[0]}"
    except CellExecutionError as exc:
        error = ANSI.sub("", str(exc))  # IPython colours its tracebacks
    finally:
        shutil.rmtree(sockets, ignore_errors=True)
    seconds = time.monotonic() - t0
    body, _ = HTMLExporter().from_notebook_node(nb)  # type: ignore[no-untyped-call]
    html = out / f"{path.stem}.html"
    html.write_text(body)
    figures = tuple(sorted((work / "figures").glob("*.png")))
    return Executed(path.stem, html, figures, outputs_text(nb), seconds, error)
