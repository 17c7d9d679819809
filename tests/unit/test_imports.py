"""The import picture, read from the source (every import, a function's own too): no
cycle between lablb's packages or modules, nothing that runs back up (the floors import
downwards only), and Mininet imported by the lab layer alone."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "lablb"
FLOORS = ("config", "vrrp", "ipvs", "checker", "measure", "probe")  # the pure core, mostly
UPSTAIRS = (
    "lablb.scenario", "lablb.runner", "lablb.cli", "lablb.live", "lablb.report",
    "lablb.pytest_plugin",
)  # fmt: skip


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """Module -> the lablb modules (and mininet) it imports, anywhere in its code."""
    modules = {_module(p) for p in SOURCE.rglob("*.py")}
    out: dict[str, set[str]] = {}
    for path in SOURCE.rglob("*.py"):
        here, found = _module(path), set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:  # ``from lablb.config import model``: the module
                    sub = f"{node.module}.{alias.name}"
                    found.add(sub if sub in modules else node.module)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
        out[here] = {m for m in found if m.startswith(("lablb", "mininet"))}
    return out


def _package(module: str) -> str:
    return ".".join(module.split(".")[:2])


def test_no_cycle_between_modules_or_packages() -> None:
    imports = _imports()
    modules = nx.DiGraph([(m, t) for m, ts in imports.items() for t in ts if t.startswith("lablb")])
    assert not [c for c in nx.simple_cycles(modules) if len(c) > 1]
    packages = nx.DiGraph(
        [(_package(m), _package(t)) for m, ts in imports.items() for t in ts
         if t.startswith("lablb") and _package(m) != _package(t)]
    )  # fmt: skip
    assert not list(nx.simple_cycles(packages))


def test_nothing_runs_back_up() -> None:
    for module, targets in _imports().items():
        floor = module.split(".")[1] if module.count(".") else ""
        if floor in FLOORS:
            assert not {t for t in targets if t.startswith(("lablb.lab", *UPSTAIRS))}, module
        if floor == "lab":
            assert not {t for t in targets if t.startswith(UPSTAIRS)}, module


def test_only_the_lab_layer_imports_mininet() -> None:
    users = {m for m, ts in _imports().items() if any(t.startswith("mininet") for t in ts)}
    assert users and all(m.startswith("lablb.lab.") for m in users), sorted(users)
