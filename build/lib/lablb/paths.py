"""Where lablb's own folders are. Edge only.

``scenarios/`` and ``topologies/`` sit at the top of a checkout; ``pip install .`` ships
them inside the package (``lablb/scenarios``, ``lablb/topologies``: pyproject.toml's
``package-dir``), so an installed lablb finds them without a checkout. An environment
variable names another folder (``LABLB_SCENARIOS``, ``LABLB_TOPOLOGIES``).
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
CHECKOUT = PACKAGE.parent


def shipped(name: str, env: str) -> Path:
    """Folder ``name``: ``$env`` if set, else the installed package's, else the
    checkout's (an editable install or a run from the tree: the package has none)."""
    value = os.environ.get(env)
    if value:
        return Path(value)
    inside = PACKAGE / name
    return inside if inside.is_dir() else CHECKOUT / name
