"""Readers of configuration text: the disk (the one I/O edge of the parser) and memory.

``FileReader`` is what the CLI and the daemons use; ``MemoryReader`` serves tests and
notebooks, which describe whole include trees as a dict.
"""

from __future__ import annotations

import errno
import fnmatch
import glob
import os
import posixpath
import stat
from pathlib import Path

from lablb.config import model as m
from lablb.config.edit import Variant


def node_config_id() -> str:
    """keepalived's default config id (``-i``): the node name up to its first dot."""
    return os.uname().nodename.split(".", 1)[0]


MAX_FILE_BYTES = 16 << 20  # a config file larger than this is not a config file


class FileReader:
    def read(self, path: str) -> str:
        """A regular file's text. Anything else (``/dev/zero``, a FIFO, a directory)
        would read without end or block: refused, as an ``OSError`` like any unreadable
        file; so is a file past ``MAX_FILE_BYTES``."""
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", path)
        with open(path, encoding="utf-8", errors="replace") as fh:
            text = fh.read(MAX_FILE_BYTES + 1)
        if len(text) > MAX_FILE_BYTES:
            raise OSError(errno.EFBIG, f"larger than {MAX_FILE_BYTES >> 20} MiB", path)
        return text

    def glob(self, pattern: str) -> list[str]:
        return sorted(glob.glob(pattern))

    def realpath(self, path: str) -> str:
        return os.path.realpath(path)


KEEPALIVED_DIR = "/etc/keepalived"  # where a real node's absolute includes point


class RootedReader(FileReader):
    """Files as the node they were written for has them: ``/etc/keepalived/...`` (an
    absolute ``include``, as deployments write them) is read from ``root`` (``--root``;
    by default the folder of the file given), never from this machine's own
    /etc/keepalived. ``mapped`` records each path read or globbed that way."""

    def __init__(self, root: Path) -> None:
        self.root = str(root.resolve())
        self.mapped: dict[str, str] = {}

    def _map(self, path: str) -> str:
        if path != KEEPALIVED_DIR and not path.startswith(KEEPALIVED_DIR + "/"):
            return path
        here = self.root + path[len(KEEPALIVED_DIR) :]
        self.mapped[path] = here
        return here

    def read(self, path: str) -> str:
        return super().read(self._map(path))

    def glob(self, pattern: str) -> list[str]:
        return super().glob(self._map(pattern))

    def realpath(self, path: str) -> str:
        return super().realpath(self._map(path))


class MemoryReader:
    def __init__(self, files: dict[str, str]) -> None:
        self.files = {posixpath.normpath(k): v for k, v in files.items()}

    def read(self, path: str) -> str:
        try:
            return self.files[posixpath.normpath(path)]
        except KeyError:
            raise FileNotFoundError(2, "No such file or directory", path) from None

    def glob(self, pattern: str) -> list[str]:
        pattern = posixpath.normpath(pattern)
        return sorted(p for p in self.files if fnmatch.fnmatchcase(p, pattern))

    def realpath(self, path: str) -> str:
        return posixpath.normpath(path)


def derive(configs: Path, out: Path, *variants: Variant) -> Path:
    """A copy of a config set with model variants applied, rendered under ``out/configs``
    (its bounds then follow from it). The source must load; so must the result."""
    from lablb.config.load import load, load_lenient
    from lablb.config.render import render

    dest = out / "configs"
    dest.mkdir(parents=True, exist_ok=True)
    for conf in sorted(configs.glob("*.conf")):
        config = load_lenient(str(conf))
        for variant in variants:
            config = variant(config)
        names = ", ".join(getattr(v, "__name__", "variant") for v in variants)
        text = render(config, header=f"{conf} with {names} (rendered by lablb)")
        (dest / conf.name).write_text(text)
        load(str(dest / conf.name))
    return dest


def lab_scripts(configs: Path, out: Path) -> tuple[Path, list[str]]:
    """The config set as the lab runs it: where a tracked script cannot run in the lab
    as written (``lablb.config.local_service.stand_in_scripts``: a process search in the
    hosts' shared process table, a program not on this machine), where a fwmark service
    stands as VIP:port (``lablb.config.edit.fwmark_as_addresses``), and where LVS-NAT's
    real servers have no gateway VIP (``lablb.config.edit.nat_gateway``), each node's
    file is rendered under ``out/lab-configs`` with the lab's change; otherwise the set
    itself. What was changed, a line per change (each once)."""
    from lablb.config.edit import fwmark_as_addresses, nat_gateway, with_nat_gateway
    from lablb.config.load import load, load_lenient
    from lablb.config.local_service import stand_in_scripts
    from lablb.config.render import render
    from lablb.vrrp.scripts import resolve

    files = sorted(configs.glob("*.conf"))
    changed: dict[Path, tuple[m.KeepalivedConfig, list[str]]] = {}
    said: dict[str, None] = {}
    for conf in files:
        model, done = stand_in_scripts(load_lenient(str(conf)), lambda p: resolve(p) is not None)
        lines = [str(d) for d in done if d.command is not None]
        model, marked = fwmark_as_addresses(model)
        lines += marked
        gw = nat_gateway(model)
        if gw is not None and gw.added:
            model = with_nat_gateway(model)
            lines.append(str(gw))
        if lines:
            changed[conf] = (model, lines)
        said.update((str(d), None) for d in done)
        said.update((line, None) for line in lines)
    if not changed:
        return configs, list(said)
    dest = out / "lab-configs"
    dest.mkdir(parents=True, exist_ok=True)
    for conf in files:
        if conf not in changed:
            # As it is: an include of the file where it is (its own includes resolve there).
            (dest / conf.name).write_text(f"! {conf.name}, as given\ninclude {conf.resolve()}\n")
            continue
        model, lines = changed[conf]
        said_here = "\n".join(f"  {line}" for line in lines)
        text = render(model, header=f"{conf} as the lab runs it (rendered by lablb):\n{said_here}")
        (dest / conf.name).write_text(text)
        load(str(dest / conf.name))
    return dest, list(said)
