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

A file written for both nodes with keepalived's conditional lines (``@lbA priority
150`` / ``@lbB priority 100``) is not derived from: each node runs it as
``keepalived -i ID`` would, the master's id first.

The file's own name does not matter (``keepalived.conf`` is the usual one).
"""

from __future__ import annotations

from pathlib import Path

from lablb.config import model as m
from lablb.config.files import RootedReader
from lablb.config.load import carried_on, load, load_lenient, load_running
from lablb.config.peer import Derived, derive_peer
from lablb.config.preprocess import conditional_ids
from lablb.config.render import render
from lablb.config.tree import Reader
from lablb.errors import UsageError

NODES = ("lb01", "lb02")  # the node the file is for, and its peer
IGNORED = "IGNORED.txt"  # a rendered node file's own ignored lines, kept for the summary


def write_pair(
    config: Path, peer: Path | None, dest: Path, root: Path | None = None
) -> tuple[Path, list[Derived]]:
    """Write the set for ``config`` (and ``peer``, else derived) into ``dest``; the set's
    folder and what was derived. ``root``: where ``/etc/keepalived`` is (its absolute
    includes; default: the file's own folder). ``ConfigError`` if the file does not
    load."""
    for given in (config, peer):
        if given is not None and not given.is_file():
            raise UsageError(f"{given}: no such file (--config/--peer take a keepalived.conf)")
    if root is not None and not root.is_dir():
        raise UsageError(f"--root {root}: no such directory")
    dest.mkdir(parents=True, exist_ok=True)
    reader = RootedReader(root or config.resolve().parent)
    if peer is None:
        by_id = node_models(config, reader)
        if by_id is not None:
            return _per_id(config, by_id, dest)
    source, ignored = load_running(str(config.resolve()), reader)
    first, second = (dest / f"{n}.conf" for n in NODES)
    rooted = [Derived(None, f"{path} is read from {here} (--root {reader.root})")
              for path, here in reader.mapped.items()]  # fmt: skip
    if rooted:
        # keepalived reads its includes itself: the lab's daemons get the file whole.
        lines = "\n".join(f"  {d}" for d in rooted)
        header = f"{NODES[0]}: {config}, its includes read:\n{lines}"
        first.write_text(render(source, header=header))
        load(str(first))
        (dest / IGNORED).write_text("".join(carried_on(d) + "\n" for d in ignored))
    else:
        first.write_text(_include(config, f"{NODES[0]}: {config}"))
    if peer is not None:
        second.write_text(_include(peer, f"{NODES[1]}: {peer}"))
        said = [*rooted, Derived(None, f"the peer is {peer}, as given")]
    else:
        derived, said = derive_peer(source)
        lines = "\n".join(f"  {d}" for d in said)
        header = f"{NODES[1]}: the peer of {config}, derived by lablb:\n{lines}"
        second.write_text(render(derived, header=header))
        load(str(second))  # what was rendered must load as it did
        said = [*rooted, *said]
    notes = [f"{NODES[0]} runs {config.resolve()}", f"{NODES[1]}:", *(f"  {d}" for d in said)]
    (dest / "DERIVED.txt").write_text("\n".join(notes) + "\n")
    return dest, said


def node_models(
    config: Path, reader: Reader | None = None
) -> list[tuple[str, m.KeepalivedConfig]] | None:
    """A file written for several nodes (``@ID`` lines), as the two lab nodes run it:
    (id, the model read for it), the id whose first instance has the highest priority
    (the master's) first, then the next; None for a file without conditional lines (or
    with one id only)."""
    ids = conditional_ids(config.read_text(errors="replace"))
    if len(ids) < 2:
        return None
    models = [(cid, load_lenient(str(config.resolve()), reader, cid)) for cid in ids]

    def priority(model: m.KeepalivedConfig) -> int:
        return model.vrrp_instances[0].priority if model.vrrp_instances else 0

    ranked = sorted(models, key=lambda pair: -priority(pair[1]))  # stable: file order
    return ranked[:2]


def _per_id(
    config: Path, by_id: list[tuple[str, m.KeepalivedConfig]], dest: Path
) -> tuple[Path, list[Derived]]:
    """Each lab node runs the file as ``keepalived -i ID`` would, rendered from the
    model read for that id (the lab's hosts share one node name, so the ids are
    resolved here, not by the daemons)."""
    (a, _), (b, _) = by_id
    said = [Derived(None, f"{config} names config ids {a}, {b}: lb01 runs it as "
                    f"keepalived -i {a} would, lb02 as keepalived -i {b}")]  # fmt: skip
    for node, (cid, model) in zip(NODES, by_id, strict=True):
        text = render(model, header=f"{node}: {config} as keepalived -i {cid} reads it")
        (dest / f"{node}.conf").write_text(text)
        load(str(dest / f"{node}.conf"))
    (dest / "DERIVED.txt").write_text("\n".join(str(d) for d in said) + "\n")
    return dest, said


def _include(path: Path, what: str) -> str:
    return f"! {what}\ninclude {path.resolve()}\n"
