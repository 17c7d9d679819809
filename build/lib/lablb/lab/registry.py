"""Topologies by name: ``Topo.build()`` classes in the ``topologies/`` folder.

Each ``topologies/*.py`` file exports ``TOPOS = {"name": TopoClass}``, the way
Mininet's ``--custom`` files do. The folder is the installed package's, the
checkout's, or ``$LABLB_TOPOLOGIES`` (``lablb.paths``). A topology class may say
which hosts are balancers (``balancers``), its default config set (``default_configs``)
and web root (``docroot``), all relative to the topologies folder.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lablb.errors import LabError
from lablb.paths import shipped


def topologies_dir() -> Path:
    path = shipped("topologies", "LABLB_TOPOLOGIES")
    if not path.is_dir():
        raise LabError(f"no topologies folder at {path}; set LABLB_TOPOLOGIES")
    return path


@dataclass(frozen=True)
class TopoEntry:
    name: str
    cls: Any
    source: Path

    @property
    def summary(self) -> str:
        doc = (self.cls.__doc__ or "").strip().splitlines()
        return doc[0] if doc else ""

    @property
    def balancers(self) -> tuple[str, ...]:
        return tuple(getattr(self.cls, "balancers", ()))

    def config_dir(self, configs: str | None = None) -> Path:
        """A config set: a folder, or a name under topologies/configs/."""
        if configs is None:
            configs = getattr(self.cls, "default_configs", f"configs/{self.name}")
        path = Path(configs)
        if not path.is_dir():
            for candidate in (
                self.source.parent / configs,
                self.source.parent / "configs" / configs,
            ):
                if candidate.is_dir():
                    return candidate
            raise LabError(f"no config set {configs!r} (looked in {self.source.parent}/configs)")
        return path

    def docroot(self) -> Path | None:
        root = getattr(self.cls, "docroot", None)
        return self.source.parent / root if root else None


def _load(path: Path) -> dict[str, Any]:
    spec = importlib.util.spec_from_file_location(f"lablb_topologies.{path.stem}", path)
    if spec is None or spec.loader is None:
        raise LabError(f"cannot load topology file {path}")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # a broken topology file must not hide the others' names
        raise LabError(f"topology file {path} fails to load: {exc}") from exc
    topos = getattr(module, "TOPOS", {})
    if not isinstance(topos, dict):
        raise LabError(f"{path}: TOPOS must be a dict of name -> Topo class")
    return topos


def all_topologies() -> dict[str, TopoEntry]:
    out: dict[str, TopoEntry] = {}
    for path in sorted(topologies_dir().glob("*.py")):
        if path.name.startswith("_"):
            continue
        for name, cls in _load(path).items():
            out[name] = TopoEntry(name, cls, path)
    return out


def get(name: str) -> TopoEntry:
    topos = all_topologies()
    if name not in topos:
        known = ", ".join(sorted(topos)) or "none"
        raise LabError(f"no topology named {name!r} (known: {known}; lablb topo list)")
    return topos[name]
