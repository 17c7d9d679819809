"""A config set from the one keepalived.conf a team has: its node and the peer a
deployment would run beside it (``lablb.config.peer``). Edge: reads the file, writes
the set.

The set is a folder like any other (``NODE.conf`` per balancer), written where the run
keeps its files, so that ``--configs`` and everything behind it run it unchanged:

- ``lb01.conf`` is one line, ``include /abs/path/of/the/file``: the daemons read the
  user's own file, comments, includes (relative to its own folder, as keepalived
  resolves them) and all, and every diagnostic names its lines;
- ``lb02.conf`` is the peer: the ``--peer`` file the same way, or the derived model
  rendered, with what was derived in its header;
- ``DERIVED.txt`` says the same for a person.

The file's own name does not matter (``keepalived.conf`` is the usual one).
"""

from __future__ import annotations

from pathlib import Path

from lablb.config.load import load, load_lenient
from lablb.config.peer import Derived, derive_peer
from lablb.config.render import render
from lablb.errors import UsageError

NODES = ("lb01", "lb02")  # the node the file is for, and its peer


def write_pair(config: Path, peer: Path | None, dest: Path) -> tuple[Path, list[Derived]]:
    """Write the set for ``config`` (and ``peer``, else derived) into ``dest``; the set's
    folder and what was derived. ``ConfigError`` if the file does not load."""
    for given in (config, peer):
        if given is not None and not given.is_file():
            raise UsageError(f"{given}: no such file (--config/--peer take a keepalived.conf)")
    source = load_lenient(str(config.resolve()))
    dest.mkdir(parents=True, exist_ok=True)
    first, second = (dest / f"{n}.conf" for n in NODES)
    first.write_text(_include(config, f"{NODES[0]}: {config}"))
    if peer is not None:
        second.write_text(_include(peer, f"{NODES[1]}: {peer}"))
        said = [Derived(None, f"the peer is {peer}, as given")]
    else:
        derived, said = derive_peer(source)
        lines = "\n".join(f"  {d}" for d in said)
        header = f"{NODES[1]}: the peer of {config}, derived by lablb:\n{lines}"
        second.write_text(render(derived, header=header))
        load(str(second))  # what was rendered must load as it did
    notes = [f"{NODES[0]} runs {config.resolve()}", f"{NODES[1]}:", *(f"  {d}" for d in said)]
    (dest / "DERIVED.txt").write_text("\n".join(notes) + "\n")
    return dest, said


def _include(path: Path, what: str) -> str:
    return f"! {what}\ninclude {path.resolve()}\n"
