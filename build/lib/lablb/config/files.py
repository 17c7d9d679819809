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
